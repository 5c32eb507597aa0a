"""The explicit list of source kinds, keyed by the ``kind`` a config names."""

from __future__ import annotations

from watchkeeper.catalogs.sources import SOURCE_KINDS
from watchkeeper.exceptions import UnknownNameError
from watchkeeper.sources.base import SourceKind
from watchkeeper.sources.csv import CsvKind
from watchkeeper.sources.parquet import ParquetKind
from watchkeeper.sources.sql import SqlKind

READERS: dict[str, SourceKind] = {reader.kind: reader for reader in (CsvKind(), ParquetKind(), SqlKind())}
assert tuple(sorted(READERS)) == SOURCE_KINDS, "catalogs.sources.SOURCE_KINDS must list every registered kind"


def reader_for(kind: str) -> SourceKind:
    """The source kind registered as ``kind``; an unknown name lists the available ones."""
    try:
        return READERS[kind]
    except KeyError:
        raise UnknownNameError(
            f"No source kind named {kind!r}. Available source kinds: {', '.join(sorted(READERS))}"
        ) from None
