"""Reading a window of the prediction log (streamed) and the reference data; the reference fingerprint."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd

from watchkeeper.exceptions import DataError
from watchkeeper.results import Window
from watchkeeper.sources.base import Frame, ScanRecord, ScanRequest, to_utc
from watchkeeper.sources.registry import reader_for

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig

log = logging.getLogger(__name__)


class WindowScan(ScanRecord):
    """One streamed pass over a window of the prediction log, and what it saw.

    Iterate :meth:`batches` once; the attributes are filled while (and complete after) iterating.
    """

    def __init__(
        self,
        config: LoadedConfig,
        window: Window,
        columns: list[str] | None = None,
        batch_rows: int = 262_144,
        *,
        every_column: bool = False,
    ) -> None:
        super().__init__()
        log_cfg = config.model.predictions
        self.config = config
        self.window = window
        asked = log_cfg.columns() if columns is None else columns
        self.wanted: list[str] = list(dict.fromkeys([log_cfg.timestamp, *asked]))
        self.request = ScanRequest(
            source=log_cfg.source,
            base=config.base_dir,
            columns=None if every_column else self.wanted,
            window=window,
            timestamp=log_cfg.timestamp,
            timezone=log_cfg.timezone,
            batch_rows=batch_rows,
        )
        self.missing_columns: list[str] = []
        self.extra_columns: list[str] = []
        self.naive_timestamps = False
        self.unparseable_timestamps = 0
        self.rows_read = 0
        self.columns: list[str] = []
        """The columns of every yielded batch (wanted and present), also when no batch is yielded."""
        self._started = False

    def batches(self) -> Iterator[pd.DataFrame]:
        """Yield DataFrames of at most ``batch_rows`` rows: the wanted columns that exist, the timestamp column
        as UTC-aware datetimes, only rows in ``[window.start, window.end)``. Single pass; memory bounded by the
        batch size, not the window size."""
        if self._started:
            raise RuntimeError("a WindowScan is a single pass: call scan_window again to read the window again")
        self._started = True
        ts = self.config.model.predictions.timestamp
        zone = self.config.model.predictions.timezone
        start, end = pd.Timestamp(self.window.start), pd.Timestamp(self.window.end)
        checked = False
        for raw in reader_for(self.request.source.kind).batches(self.request, self):
            if not checked:
                self._check_schema()
                checked = True
            converted, naive, bad = to_utc(raw[ts], zone)
            self.naive_timestamps |= naive
            self.unparseable_timestamps += bad
            keep = ((converted >= start) & (converted < end)).to_numpy()
            batch = raw.reset_index(drop=True) if keep.all() else raw.loc[keep].reset_index(drop=True)
            batch[ts] = converted[keep].reset_index(drop=True)
            if len(batch):
                self.rows_read += len(batch)
                yield batch
        self._check_schema()
        if self.naive_timestamps:
            log.info("model=%s: timestamps without time zone read as %s", self.config.model.name, zone)

    def _check_schema(self) -> None:
        if not self.schema_known:
            return
        ts = self.config.model.predictions.timestamp
        if ts not in self.all_columns:
            raise DataError(
                f"{self.config.path}: predictions.timestamp: column {ts!r} is not in the prediction log "
                f"(columns: {', '.join(self.all_columns)}) -- fix the column name"
            )
        configured = set(self.config.model.predictions.columns()) | set(self.wanted)
        self.missing_columns = [c for c in self.wanted if c not in self.all_columns]
        self.extra_columns = [c for c in self.all_columns if c not in configured]
        self.columns = self.request.wanted(self.all_columns)


def scan_window(
    config: LoadedConfig, window: Window, *, columns: list[str] | None = None, batch_rows: int = 262_144
) -> WindowScan:
    """A streamed pass over the prediction-log rows of ``window`` (see :class:`WindowScan`).

    ``columns`` defaults to the columns the config names; the timestamp column is always read. Only the
    window's files are opened (partition pruning), Parquet row groups outside it are skipped, SQL binds
    ``:start``/``:end`` and streams.
    """
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, got {batch_rows}")
    return WindowScan(config, window, columns, batch_rows)


def read_window(config: LoadedConfig, window: Window) -> Frame:
    """The prediction-log rows whose timestamp falls in ``window`` (every column; timestamps in UTC), in memory."""
    scan = WindowScan(config, window, every_column=True)
    frames = list(scan.batches())
    if frames:
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    else:
        ts = config.model.predictions.timestamp
        names = scan.columns or scan.wanted
        df = pd.DataFrame({c: pd.Series(dtype="datetime64[ns, UTC]" if c == ts else object) for c in names})
    wanted = config.model.predictions.columns()
    missing = [c for c in wanted if c not in scan.all_columns] if scan.schema_known else []
    extra = [c for c in scan.all_columns if c not in wanted]
    return Frame(df, missing, extra, scan.naive_timestamps, scan.unparseable_timestamps, list(scan.all_columns))


def read_reference(config: LoadedConfig) -> pd.DataFrame:
    """All rows of the reference data."""
    source = config.model.reference.source
    return reader_for(source.kind).read(source, config.base_dir, None, None)


def reference_fingerprint(config: LoadedConfig, df: pd.DataFrame | None = None) -> str:
    """Hash of the reference data (cheap: file metadata or a count query) and of the config sections a
    baseline depends on."""
    source = config.model.reference.source
    digest = hashlib.sha256()
    digest.update(config.model.predictions.model_dump_json(exclude={"source"}).encode())
    digest.update(config.model.prediction_checks.model_dump_json().encode())
    digest.update(config.model.quality.volume.model_dump_json().encode())
    digest.update(f"{config.model.task}".encode())
    if config.model.performance is not None:  # reference performance and the calibrator depend on these
        digest.update(config.model.performance.labels.label.encode())
    cheap = reader_for(source.kind).fingerprint(source, config.base_dir)
    if cheap is None:
        frame = df if df is not None else read_reference(config)
        cheap = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    digest.update(cheap.encode())
    return digest.hexdigest()[:32]
