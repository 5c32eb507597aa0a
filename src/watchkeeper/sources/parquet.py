"""Parquet files: partition pruning, row-group skipping from footer statistics, column projection.

Per file in the window: the footer gives the schema; the timestamp filter skips the row groups whose
statistics lie outside the window (and filters rows inside the others); only the wanted columns are
decoded, by ``pyarrow.parquet.ParquetFile.iter_batches`` on the calling thread (no pre-buffering, no
read-ahead: memory follows the batch size, not the file); record batches stream out in bounded slices.
Files whose schemas differ are unified column by column (numbers widen, conflicting types become
strings) and every change is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from watchkeeper.config import ParquetSource
from watchkeeper.sources.base import ScanRecord, ScanRequest
from watchkeeper.sources.files import FileKind, require_timestamp, schema_drift, unreadable

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds


class ParquetKind(FileKind):
    """Parquet files (one, a glob, or a partitioned layout)."""

    kind = "parquet"
    config = ParquetSource

    def batches(self, request: ScanRequest, record: ScanRecord) -> Iterator[pd.DataFrame]:

        opened: list[tuple[str, ds.Dataset]] = []
        for name in self.files(request):
            record.files_read.append(name)
            opened.append((name, _open(name)))
        targets = schema_drift(
            [(name, {f.name: f.type for f in dataset.schema}) for name, dataset in opened],
            _common_type,
            record,
            str,
        )
        columns = request.wanted(record.all_columns)
        for table in _rebatch(_unified_tables(opened, request, columns, targets, record), request.batch_rows):
            yield table.to_pandas()

    def file_fingerprint(self, name: str) -> bytes:
        """Size plus the footer (schema, row counts, column statistics): content-derived, no data read."""
        with open(name, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            if size < 12:
                return super().file_fingerprint(name)
            handle.seek(size - 8)
            tail = handle.read(8)
            footer = int.from_bytes(tail[:4], "little")
            if tail[4:] != b"PAR1" or footer > size - 12:
                return super().file_fingerprint(name)
            handle.seek(size - 8 - footer)
            return size.to_bytes(8, "little") + handle.read(footer)


def _open(name: str) -> ds.Dataset:
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        return ds.dataset(name, format="parquet")
    except (OSError, pa.ArrowException) as exc:
        raise unreadable("Parquet", name, exc) from exc


def _common_type(types: list[pa.DataType]) -> pa.DataType:
    """Numbers widen (int32+int64 -> int64, int+float -> float); other conflicts become strings."""
    import pyarrow as pa

    try:
        return pa.unify_schemas([pa.schema([("c", t)]) for t in types], promote_options="permissive").field("c").type
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.string()


def _pushdown(dataset: ds.Dataset, request: ScanRequest) -> ds.Expression | None:
    """A filter on the timestamp column that statistics can use: exact for zoned timestamps, a superset for
    naive ones (wall clock in the configured zone); None for strings and other types (filtered after parsing)."""
    import pyarrow.dataset as ds

    bounds = _bounds(dataset, request)
    if bounds is None:
        return None
    ts, low, high = bounds
    return (ds.field(ts) >= low) & (ds.field(ts) < high)


_SLACK = {"s": timedelta(seconds=1), "ms": timedelta(milliseconds=1)}


def _scalar(value: datetime, kind: pa.DataType) -> pa.Scalar[Any]:
    import pyarrow as pa

    return pa.scalar(value, type=pa.timestamp("us", tz=kind.tz)).cast(kind, safe=False)


def _unified_tables(
    opened: list[tuple[str, ds.Dataset]],
    request: ScanRequest,
    columns: list[str],
    targets: dict[str, pa.DataType],
    record: ScanRecord,
) -> Iterator[pa.Table]:
    """Every file's rows meeting the pushdown filter, each column in the files' common type."""
    import pyarrow as pa

    for name, dataset in opened:
        require_timestamp(request, record, name, dataset.schema.names)
        try:
            for table in _file_tables(name, dataset, request, columns, record):
                yield _unify(table, columns, targets, request.timestamp)
        except (OSError, pa.ArrowException) as exc:
            raise unreadable("Parquet", name, exc) from exc


def _file_tables(
    name: str, dataset: ds.Dataset, request: ScanRequest, columns: list[str], record: ScanRecord
) -> Iterator[pa.Table]:
    """One file's record batches meeting the pushdown filter; row groups that cannot meet it are never read.

    The row groups are chosen from the footer statistics, then read one batch at a time by the file reader
    itself: no pre-buffering and no read-ahead across batches, so memory follows the batch size (and one
    row group's column chunks), never the file; the columns of a batch are decoded in parallel.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    present = [c for c in columns if c in dataset.schema.names]
    expr = _pushdown(dataset, request)
    kept: list[int] = []
    for whole in dataset.get_fragments():
        assert isinstance(whole, ds.ParquetFileFragment)
        record.row_groups_total += whole.num_row_groups
        # row groups whose statistics cannot meet the window are dropped here, never read
        fragment = whole if expr is None else whole.subset(filter=expr)
        kept.extend(group.id for group in fragment.row_groups)
    record.row_groups_read += len(kept)
    if not kept:
        return
    bounds = _bounds(dataset, request)
    reader = pq.ParquetFile(name, pre_buffer=False, buffer_size=_BUFFER_BYTES)
    try:
        batches = reader.iter_batches(batch_size=request.batch_rows, row_groups=kept, columns=present, use_threads=True)
        for batch in batches:
            table = pa.Table.from_batches([batch])
            if bounds is not None:
                inside = _inside(table[bounds[0]], bounds[1], bounds[2])
                # a batch wholly inside the window (a daily file of a daily window) is not copied
                if inside.null_count or pc.sum(inside).as_py() != table.num_rows:
                    table = table.filter(inside)
            record.rows_scanned += table.num_rows
            if table.num_rows:
                yield table
    finally:
        reader.close()


_BUFFER_BYTES = 1 << 20
"""Column pages are streamed through a 1 MiB buffer instead of loading whole column chunks."""


def _bounds(dataset: ds.Dataset, request: ScanRequest) -> tuple[str, pa.Scalar[Any], pa.Scalar[Any]] | None:
    """The pushdown filter as (column, low, high) for rows inside the kept row groups; None without one."""
    import pyarrow as pa

    ts, window = request.timestamp, request.window
    if ts is None or window is None or ts not in dataset.schema.names:
        return None
    kind = dataset.schema.field(ts).type
    if not pa.types.is_timestamp(kind):
        return None
    bounds = request.naive_bounds()
    assert bounds is not None
    low, high = (window.start, window.end) if kind.tz else bounds
    # a coarse unit truncates the bounds: one unit of slack above keeps the filter a superset
    high += _SLACK.get(kind.unit, timedelta(0))
    return ts, _scalar(low, kind), _scalar(high, kind)


def _inside(column: pa.ChunkedArray, low: pa.Scalar[Any], high: pa.Scalar[Any]) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    return pc.and_(pc.greater_equal(column, low), pc.less(column, high))


def _unify(table: pa.Table, columns: list[str], targets: dict[str, pa.DataType], ts: str | None) -> pa.Table:
    """Every wanted column, in the common type of the files (the timestamp as stored: converted per batch).

    Pandas metadata is dropped: it describes one file, while a batch may hold several.
    """
    import pyarrow as pa

    for name in columns:
        target = targets[name]
        if name not in table.column_names:
            table = table.append_column(pa.field(name, target), pa.nulls(table.num_rows, target))
        elif name != ts and table.schema.field(name).type != target:
            table = table.set_column(table.column_names.index(name), name, table[name].cast(target))
    return table.select(columns).replace_schema_metadata(None)


def _rebatch(tables: Iterator[pa.Table], size: int) -> Iterator[pa.Table]:
    """Tables of exactly ``size`` rows (the last one fewer), gathering small ones across row groups and files.

    Tables join only while their schemas agree (a timestamp column stored differently starts a new batch).
    """
    import pyarrow as pa

    pending: list[pa.Table] = []
    rows = 0
    for table in tables:
        if pending and not table.schema.equals(pending[0].schema):
            yield from _slices(pa.concat_tables(pending), size)
            pending, rows = [], 0
        pending.append(table)
        rows += table.num_rows
        if rows >= size:
            combined = pa.concat_tables(pending)
            cut = rows - rows % size
            yield from _slices(combined.slice(0, cut), size)
            pending = [combined.slice(cut)] if rows % size else []
            rows %= size
    if pending:
        yield from _slices(pa.concat_tables(pending), size)


def _slices(table: pa.Table, size: int) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, size):
        yield table.slice(start, size)
