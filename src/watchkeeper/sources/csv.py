"""CSV files, streamed in chunks: partition pruning, column projection, schema drift between files.

CSV carries no statistics, so inside a file every row is parsed; the window is applied after the
timestamps are converted. Each file's header and first rows give its columns and types before any
batch is yielded, so that a column whose type differs between files is read as text everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from watchkeeper.config import CsvSource
from watchkeeper.sources.base import ScanRecord, ScanRequest
from watchkeeper.sources.files import FileKind, require_timestamp, schema_drift, unreadable

_SAMPLE_ROWS = 1000
_TEXT = "str"
_ERRORS = (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError)


class CsvKind(FileKind):
    """CSV files (one, a glob, or a partitioned layout)."""

    kind = "csv"
    config = CsvSource

    def batches(self, request: ScanRequest, record: ScanRecord) -> Iterator[pd.DataFrame]:
        samples: list[tuple[str, dict[str, str]]] = []
        for name in self.files(request):
            record.files_read.append(name)
            try:
                sample = pd.read_csv(name, nrows=_SAMPLE_ROWS)
            except _ERRORS as exc:
                raise unreadable("CSV", name, exc) from exc
            samples.append((name, {str(c): _family(sample[c].dtype) for c in sample.columns}))
        targets = schema_drift(samples, _common_family, record, str)
        columns = request.wanted(record.all_columns)
        for name, types in samples:
            require_timestamp(request, record, name, list(types))
            present = [c for c in columns if c in types]
            text = {c: _TEXT for c in present if targets[c] == _TEXT and c != request.timestamp}
            try:
                with pd.read_csv(name, usecols=present, dtype=text or None, chunksize=request.batch_rows) as reader:
                    for chunk in reader:
                        record.rows_scanned += len(chunk)
                        yield _unify(chunk, columns, targets, request.timestamp, record, name=name)
            except _ERRORS as exc:
                raise unreadable("CSV", name, exc) from exc


def _family(dtype: Any) -> str:
    """A coarse type: ``int``, ``float``, ``bool`` or ``str`` (text, dates and anything else)."""
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    return _TEXT


def _common_family(kinds: list[str]) -> str:
    return "float" if set(kinds) <= {"int", "float"} else _TEXT


def _unify(
    chunk: pd.DataFrame, columns: list[str], targets: dict[str, str], ts: str | None, record: ScanRecord, *, name: str
) -> pd.DataFrame:
    """The chunk with every wanted column in its common type; a type the sample did not foresee is recorded."""
    for column in columns:
        target = targets[column]
        if column not in chunk.columns:
            empty = pd.NA if target == _TEXT else float("nan")
            chunk[column] = pd.Series(empty, index=chunk.index, dtype=_dtype(target))
            continue
        if column == ts:
            continue
        found = _family(chunk[column].dtype)
        if found == target or (found == "float" and target in {"int", "bool"}):
            continue  # same type, or a missing value in this chunk made pandas read numbers as float
        if found == "int" and target == "float":
            chunk[column] = chunk[column].astype("float64")
            continue
        change = {"file": name, "column": column, "change": "type", "from": target, "to": found}
        if change not in record.schema_changes:
            record.schema_changes.append(change)
        chunk[column] = chunk[column].astype(_TEXT).where(chunk[column].notna())
    return chunk[columns].reset_index(drop=True)


def _dtype(family: str) -> str:
    return {"int": "float64", "float": "float64", "bool": "object", _TEXT: _TEXT}[family]
