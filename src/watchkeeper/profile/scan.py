"""The one pass over a window: read it batch by batch, fold every batch into the window profile and
feed it to the GX suite runner. Nothing holds more than one batch of rows (plus what the GX runner
keeps for the expectations that need it, see ``watchkeeper.gx_runner``).

A ``kind: sql`` log with ``pushdown`` on (the default) is profiled inside the database instead
(:mod:`watchkeeper.profile.pushdown`), its GX suite run there too (:mod:`watchkeeper.gx_sql`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from watchkeeper.profile.pushdown import profile_in_database, pushdown_enabled
from watchkeeper.profile.window import ProfileSpec, WindowProfile

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.results import Window

log = logging.getLogger(__name__)

#: Rows per batch read from the source.
BATCH_ROWS = 262_144


class _FrameScan:
    """Stand-in for ``sources.scan_window`` on a reader without streaming: slices ``read_window``."""

    def __init__(self, config: LoadedConfig, window: Window, batch_rows: int) -> None:
        self.config, self.window, self.batch_rows = config, window, batch_rows
        self.missing_columns: list[str] = []
        self.extra_columns: list[str] = []
        self.all_columns: list[str] = []
        self.naive_timestamps = False
        self.unparseable_timestamps = 0
        self.rows_read = 0
        self.files_read: list[str] = []
        self.schema_changes: list[dict[str, Any]] = []

    def batches(self) -> Iterator[pd.DataFrame]:
        from watchkeeper.sources import read_window

        frame = read_window(self.config, self.window)
        self.missing_columns, self.extra_columns = frame.missing_columns, frame.extra_columns
        self.all_columns = frame.all_columns
        self.naive_timestamps, self.unparseable_timestamps = frame.naive_timestamps, frame.unparseable_timestamps
        df = frame.df
        self.rows_read = len(df)
        if df.empty:
            yield df
        for start in range(0, len(df), self.batch_rows):
            yield df.iloc[start : start + self.batch_rows]


def open_scan(config: LoadedConfig, window: Window, columns: list[str] | None, batch_rows: int) -> Any:
    """A streamed scan of the window (``sources.scan_window``), or a sliced in-memory read where absent."""
    try:
        from watchkeeper.sources import scan_window
    except ImportError:
        return _FrameScan(config, window, batch_rows)
    return scan_window(config, window, columns=columns, batch_rows=batch_rows)


def gx_runner(config: LoadedConfig, baseline: Mapping[str, Any], columns: list[str] | None) -> Any:
    """The batch-wise GX runner of the model's suite, or None when the model has no suite."""
    if config.model.quality.suite is None:
        return None
    try:
        from watchkeeper.gx_runner import GxRunner
    except ImportError:  # pragma: no cover - the runner ships with the package
        log.warning("model=%s: no batch-wise GX runner available; the suite is not run", config.model.name)
        return None
    return GxRunner(config, dict(baseline), columns=columns)


def _scan_record(scan: Any) -> dict[str, Any]:
    files = list(getattr(scan, "files_read", []) or [])
    return {
        "missing_columns": list(getattr(scan, "missing_columns", []) or []),
        "extra_columns": [str(c) for c in getattr(scan, "extra_columns", []) or []],
        "all_columns": [str(c) for c in getattr(scan, "all_columns", []) or []],
        "naive_timestamps": bool(getattr(scan, "naive_timestamps", False)),
        "unparseable_timestamps": int(getattr(scan, "unparseable_timestamps", 0) or 0),
        "rows_read": int(getattr(scan, "rows_read", 0) or 0),
        "files_read": len(files),
        "schema_changes": list(getattr(scan, "schema_changes", []) or [])[:20],
    }


def build_profile(
    config: LoadedConfig,
    window: Window,
    baseline: Mapping[str, Any],
    *,
    baseline_hash: str = "",
    batch_rows: int = BATCH_ROWS,
    run_gx: bool = True,
) -> WindowProfile:
    """Read ``window`` once and return its finished profile (with the GX suite's results when it has one)."""
    started = time.perf_counter()
    spec = ProfileSpec.from_config(config, baseline, baseline_hash)
    profile = WindowProfile.empty(spec)
    declined: dict[str, Any] = {}
    if pushdown_enabled(config):
        record = profile_in_database(config, window, profile, spec.columns(), batch_rows)
        if record.get("pushdown"):
            return _finish_pushed(config, window, baseline, profile, record=record, started=started, run_gx=run_gx)
        declined = record
        log.info("model=%s: window profiled by streaming, not in the database: %s", config.model.name,
                 record.get("pushdown_reason"))  # fmt: skip
    runner = gx_runner(config, baseline, None) if run_gx else None
    wanted = spec.columns()
    keep = getattr(runner, "_keep", []) if runner is not None else []
    columns = None if keep is None else list(dict.fromkeys([*wanted, *keep]))
    scan = open_scan(config, window, columns, batch_rows)
    batches = 0
    try:
        for batch in scan.batches():
            batches += 1
            profile.add_batch(batch)
            if runner is not None:
                runner.add_batch(batch)
        profile.scan = {**_scan_record(scan), **declined}
        if runner is not None:
            profile.gx = [r.as_dict() for r in runner.results()]
    finally:
        profile.finish()
    profile.scan["batches"] = batches
    profile.scan["seconds"] = round(time.perf_counter() - started, 3)
    log.info(
        "model=%s window=%s..%s: profiled %d rows in %d batches (%.1f s)",
        config.model.name,
        window.start.isoformat(),
        window.end.isoformat(),
        profile.rows,
        batches,
        profile.scan["seconds"],
    )
    return profile


def _finish_pushed(
    config: LoadedConfig,
    window: Window,
    baseline: Mapping[str, Any],
    profile: WindowProfile,
    *,
    record: dict[str, Any],
    started: float,
    run_gx: bool,
) -> WindowProfile:
    """Finish a profile the database computed: the suite runs in the database too (nothing is streamed)."""
    profile.scan = record
    profile.scan.setdefault("batches", 0)
    if run_gx and config.model.quality.suite is not None:
        from watchkeeper.gx_sql import run_suite_in_database

        profile.gx = [r.as_dict() for r in run_suite_in_database(config, window, dict(baseline))]
    profile.finish()
    profile.scan["seconds"] = round(time.perf_counter() - started, 3)
    log.info(
        "model=%s window=%s..%s: profiled %d rows inside the database (%.1f s)",
        config.model.name,
        window.start.isoformat(),
        window.end.isoformat(),
        profile.rows,
        profile.scan["seconds"],
    )
    return profile
