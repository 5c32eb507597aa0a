"""What the file kinds (csv, parquet) share: listing with partition pruning, schema drift, fingerprints."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from watchkeeper.config import CsvSource, ParquetSource
from watchkeeper.exceptions import DataError, SourceError
from watchkeeper.sources.base import AnySource, ScanRecord, ScanRequest, SourceKind
from watchkeeper.sources.partitions import files_in_window, list_files

T = TypeVar("T")


def expand_files(source: CsvSource | ParquetSource, base: Path) -> list[str]:
    """Every file the source's path matches; a clear error when none does."""
    return list_files(source, base)


def unreadable(kind: str, name: str, exc: BaseException) -> SourceError:
    """The error for a file that cannot be read: names the file and says what to do."""
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    return SourceError(
        f"cannot read {kind} file {name}: {first} -- the file is damaged or not {kind}: restore or rewrite it, "
        "or move it out of the source's path (other windows are not affected)"
    )


class FileKind(SourceKind):
    """Base of the file kinds: listing, pruning by partition and a metadata fingerprint."""

    label: str = "file"

    def files(self, request: ScanRequest) -> list[str]:
        """The files to open for the request: those whose partition meets the window.

        Only a timestamped read (the prediction log) prunes: a read without a timestamp column, such as
        the labels of a window, may find its rows in any partition (labels arrive later).
        """
        source = request.source
        assert isinstance(source, CsvSource | ParquetSource)
        window = request.window if request.timestamp else None
        return files_in_window(source, request.base, window, request.timezone)

    def fingerprint(self, source: AnySource, base: Path) -> str | None:
        assert isinstance(source, CsvSource | ParquetSource)
        digest = hashlib.sha256(self.kind.encode())
        for name in list_files(source, base):
            digest.update(Path(name).name.encode())
            digest.update(self.file_fingerprint(name))
        return digest.hexdigest()

    def file_fingerprint(self, name: str) -> bytes:
        """What identifies one file's content cheaply: size and modification time unless the format says more."""
        stat = os.stat(name)
        return f"{stat.st_size}:{stat.st_mtime_ns}".encode()

    def describe(self, source: AnySource) -> str:
        assert isinstance(source, CsvSource | ParquetSource)
        return f"{self.kind} {source.path}"


def schema_drift(
    schemas: Sequence[tuple[str, dict[str, T]]],
    common: Callable[[list[T]], T],
    record: ScanRecord,
    describe: Callable[[T], str],
) -> dict[str, T]:
    """Record columns added, dropped or retyped between consecutive files; the common type of each column.

    ``schemas`` are ``(file, {column: type})`` in partition order; ``common`` unifies a column's distinct
    types (its caller decides: numbers widen, conflicts become strings).
    """
    union: dict[str, list[T]] = {}
    previous: dict[str, T] | None = None
    for name, schema in schemas:
        for column, kind in schema.items():
            seen = union.setdefault(column, [])
            if kind not in seen:
                seen.append(kind)
        if previous is not None:
            record.schema_changes.extend(_changes(name, previous, schema, describe))
        previous = schema
    if schemas:  # no file in the window: the schema stays unknown (nothing was opened)
        record.set_schema(list(union))
    return {column: kinds[0] if len(kinds) == 1 else common(kinds) for column, kinds in union.items()}


def _changes(name: str, before: dict[str, T], after: dict[str, T], show: Callable[[T], str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for column, kind in after.items():
        if column not in before:
            out.append({"file": name, "column": column, "change": "added", "to": show(kind)})
        elif before[column] != kind:
            out.append(
                {"file": name, "column": column, "change": "type", "from": show(before[column]), "to": show(kind)}
            )
    out += [
        {"file": name, "column": c, "change": "dropped", "from": show(k)} for c, k in before.items() if c not in after
    ]
    return out


def require_timestamp(request: ScanRequest, record: ScanRecord, name: str, columns: list[str]) -> None:
    """A file in a window must carry the timestamp column: without it its rows cannot be placed in time.

    (When no file has it, the scan reports the config's column name instead.)
    """
    ts = request.timestamp
    if ts and request.window is not None and ts in record.all_columns and ts not in columns:
        raise DataError(
            f"{name}: the timestamp column {request.timestamp!r} is not in this file "
            f"(columns: {', '.join(columns)}) -- rewrite the file with it, or fix predictions.timestamp"
        )
