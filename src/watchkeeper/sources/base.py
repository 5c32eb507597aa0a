"""What every source kind shares: the scan request, the record of what a scan saw, the kind base class."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pandas as pd

from watchkeeper.config import CsvSource, ParquetSource, SqlSource
from watchkeeper.results import Window

AnySource = CsvSource | ParquetSource | SqlSource


@dataclass
class Frame:
    """Rows read from a source plus what the reader noticed on the way."""

    df: pd.DataFrame
    missing_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    naive_timestamps: bool = False
    unparseable_timestamps: int = 0
    all_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScanRequest:
    """What to read: the source, the wanted columns (None: all) and, for a window, its timestamp column."""

    source: AnySource
    base: Path
    columns: list[str] | None = None
    window: Window | None = None
    timestamp: str | None = None
    timezone: str = "UTC"
    batch_rows: int = 262_144

    def wanted(self, present: list[str]) -> list[str]:
        """The wanted columns among ``present``, in the order asked for (the timestamp column included)."""
        if self.columns is None:
            return list(present)
        keep = set(present)
        asked = [self.timestamp, *self.columns] if self.timestamp else self.columns
        return [c for c in dict.fromkeys(asked) if c in keep]

    def naive_bounds(self) -> tuple[datetime, datetime] | None:
        """Wall-clock bounds (naive) that hold every naive timestamp of the window in ``timezone``.

        A superset: the exact filter runs after the timestamps are converted to UTC. None without a window.
        """
        if self.window is None:
            return None
        zone = ZoneInfo(self.timezone)
        # plain datetimes: Airflow passes pendulum DateTimes, whose arithmetic with timedeltas breaks here
        start, end = _stdlib(self.window.start), _stdlib(self.window.end)
        if end - start > timedelta(days=400):
            offsets = [timedelta(hours=-15), timedelta(hours=15)]  # beyond every zone's offset
        else:
            steps = int((end - start) / timedelta(hours=1)) + 1
            probes = [start + timedelta(hours=i) for i in range(0, steps, 6)] + [end]
            offsets = [p.astimezone(zone).utcoffset() or timedelta(0) for p in probes]
        low = (start + min(offsets)).replace(tzinfo=None)
        high = (end + max(offsets)).replace(tzinfo=None)
        return low, high


def _stdlib(value: datetime) -> datetime:
    """``value`` as a plain ``datetime.datetime`` (a pendulum DateTime or another subclass converted)."""
    if type(value) is datetime:
        return value
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond,
        tzinfo=value.tzinfo, fold=value.fold,
    )  # fmt: skip


@dataclass
class ScanRecord:
    """What a scan saw on the way: the schema, the files it opened, schema changes between files."""

    all_columns: list[str] = field(default_factory=list)
    schema_known: bool = False
    """False until the source's columns are known (a window whose partitions hold no file opens nothing)."""
    files_read: list[str] = field(default_factory=list)
    schema_changes: list[dict[str, Any]] = field(default_factory=list)
    rows_scanned: int = 0
    """Rows that came out of the source, before the exact window filter."""
    row_groups_total: int = 0
    """Parquet row groups in the files opened."""
    row_groups_read: int = 0
    """Parquet row groups whose statistics could meet the window (the others are skipped unread)."""

    def set_schema(self, columns: list[str]) -> None:
        """Record the source's column names (the union over files, in order of first appearance)."""
        self.all_columns = [str(c) for c in columns]
        self.schema_known = True


class SourceKind:
    """One source kind: its config model, how it streams rows (with pushdown), and a cheap fingerprint.

    Subclasses set ``kind`` and ``config`` and implement :meth:`batches`; they are listed in
    :data:`watchkeeper.sources.READERS`.
    """

    kind: ClassVar[str]
    config: ClassVar[type[AnySource]]

    def batches(self, request: ScanRequest, record: ScanRecord) -> Iterator[pd.DataFrame]:
        """Stream the source's rows as DataFrames of at most ``request.batch_rows`` rows.

        Only the wanted columns; rows may already be narrowed towards the window (pushdown) but the
        timestamp column is returned as stored: the caller converts it and applies the exact window.
        ``record`` must hold the schema before the first batch is yielded.
        """
        raise NotImplementedError

    def read(self, source: AnySource, base: Path, columns: list[str] | None, window: Window | None) -> pd.DataFrame:
        """All rows (or, for SQL with ``window``, the rows the query selects for it) with the wanted columns."""
        record = ScanRecord()
        frames = list(self.batches(ScanRequest(source, base, columns, window), record))
        if not frames:
            return pd.DataFrame(columns=record.all_columns if columns is None else columns)
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def fingerprint(self, source: AnySource, base: Path) -> str | None:
        """A cheap hash that changes when the source's data changes, or None when only the data can tell."""
        return None

    def describe(self, source: AnySource) -> str:
        """How error messages name the source (never with a secret in it)."""
        return self.kind

    def mask(self, source: AnySource, text: str) -> str:
        """``text`` (a message about this source) with the source's secrets masked; file kinds hold none."""
        return text


def to_utc(series: pd.Series, timezone: str) -> tuple[pd.Series, bool, int]:
    """Timestamps as UTC-aware datetimes; naive values are read in ``timezone``.

    Returns the converted series, whether any value was naive, and how many could not be parsed (NaT).
    """
    naive = False
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        converted = series
    elif pd.api.types.is_datetime64_any_dtype(series.dtype):
        naive = True
        converted = series.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    else:
        try:
            converted = pd.to_datetime(series, errors="coerce", format="mixed")
        except ValueError:  # mixed offsets: each value carries its own zone, parse straight to UTC
            converted = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
        if not isinstance(converted.dtype, pd.DatetimeTZDtype):
            naive = True
            converted = converted.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    converted = converted.dt.tz_convert("UTC")
    bad = int(converted.isna().sum() - series.isna().sum())
    return converted, naive, max(bad, 0)
