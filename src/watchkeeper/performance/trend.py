"""Trend detection for every schedule: standardise a metric's window history from the reference's own chunks.

A change detector reads values in units of the window-to-window noise. Learning that noise from the first 20
windows costs a monthly model two years. The reference already shows it: split it into chunks the size of a
window -- by its timestamps when it has them (the schedule's period), else by count -- compute each metric on
every chunk, and keep the mean, standard deviation and sample size (:func:`reference_chunk_stats`, stored with
the baseline). A window's noise is the chunks' standard deviation scaled to the window's own sample size,
``std * sqrt(n_chunk / n_window)`` (exact for proportions, the usual 1/sqrt(n) law otherwise), so windows of
any size are comparable and alarms can come from the first windows (:func:`trend_result`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from watchkeeper.performance.detectors import DEFAULT_WARMUP, detect
from watchkeeper.results import CheckResult, Status

#: Airflow's cron presets (``airflow.sdk`` resolves the same names).
CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
#: Reference chunks with fewer labelled rows are dropped (their metrics are mostly noise).
MIN_CHUNK_ROWS = 30
#: Chunks aimed for when the reference is split by count.
TARGET_CHUNKS = 20


def window_period(schedule: str) -> timedelta | None:
    """The typical length of a monitor window of ``schedule`` (the median gap between its runs); None for
    schedules without intervals (``@once``, ``@continuous``) or an expression croniter cannot read."""
    from croniter import croniter

    expression = CRON_PRESETS.get(schedule, schedule)
    if expression.startswith("@"):
        return None
    try:
        it = croniter(expression, datetime(2026, 1, 1, tzinfo=UTC))
        times = [it.get_next(datetime) for _ in range(25)]
    except (ValueError, KeyError):
        return None
    gaps: list[timedelta] = sorted(b - a for a, b in zip(times, times[1:], strict=False))
    return gaps[len(gaps) // 2]


@dataclass(frozen=True)
class ChunkStats:
    """One metric over the reference's chunks: mean, standard deviation (ddof=1), the mean sample size ``n``
    of its denominator per chunk, and the number of chunks it was defined on."""

    mean: float
    std: float
    n: float
    chunks: int

    def noise_at(self, n: float | None) -> float:
        """The expected standard deviation of the metric on a window of ``n`` (its denominator)."""
        if n is None or n <= 0 or self.n <= 0:
            return self.std
        return self.std * math.sqrt(self.n / n)


def _chunks(
    n_rows: int, timestamps: pd.Series | None, period: timedelta | None, target_rows: int | None, min_chunks: int
) -> tuple[list[np.ndarray], dict[str, Any]]:
    from watchkeeper.detection.bands import chunk_indices

    if timestamps is not None and period is not None:
        by_time = chunk_indices(n_rows, timestamps=timestamps, period=period, min_rows=MIN_CHUNK_ROWS)
        if len(by_time) >= min_chunks:
            return by_time, {"by": "time", "period_hours": period.total_seconds() / 3600}
    rows = max(MIN_CHUNK_ROWS, n_rows // TARGET_CHUNKS)
    if target_rows:
        rows = max(MIN_CHUNK_ROWS, min(rows, int(target_rows)))
    return chunk_indices(n_rows, chunk_rows=rows, min_rows=rows), {"by": "count", "chunk_rows": rows}


def reference_chunk_stats(
    task: str,
    y_true: pd.Series,
    y_pred: pd.Series,
    y_score: pd.Series | None = None,
    *,
    positive_label: Any = "1",
    timestamps: pd.Series | None = None,
    period: timedelta | None = None,
    target_rows: int | None = None,
    min_chunks: int = 8,
) -> dict[str, Any]:
    """Every metric of ``task`` over window-sized chunks of the labelled reference (JSON, for the baseline).

    Chunks follow ``period`` of ``timestamps`` when that gives at least ``min_chunks`` chunks of
    :data:`MIN_CHUNK_ROWS` rows, else consecutive runs of rows (``target_rows``, the expected rows of a window,
    when known; at most 1/:data:`TARGET_CHUNKS` of the reference). Returns ``{"by", "n_chunks", "metrics":
    {name: {"mean", "std", "n", "chunks"}}}`` plus ``period_hours`` or ``chunk_rows``.
    """
    from watchkeeper.performance.metrics import compute_metrics

    indices, how = _chunks(len(y_true), timestamps, period, target_rows, min_chunks)
    per_metric: dict[str, list[tuple[float, int]]] = {}
    for idx in indices:
        score = None if y_score is None else y_score.iloc[idx]
        values = compute_metrics(task, y_true.iloc[idx], y_pred.iloc[idx], score, positive_label=positive_label)
        for name, mv in values.items():
            if "[" not in name and mv.value is not None and math.isfinite(mv.value):
                per_metric.setdefault(name, []).append((mv.value, mv.n))
    metrics = {}
    for name, pairs in per_metric.items():
        if len(pairs) < 2:
            continue
        vals = np.array([v for v, _ in pairs])
        metrics[name] = {
            "mean": float(vals.mean()),
            "std": float(vals.std(ddof=1)),
            "n": float(np.mean([n for _, n in pairs])),
            "chunks": len(pairs),
        }
    return {**how, "n_chunks": len(indices), "metrics": metrics}


@dataclass(frozen=True)
class Point:
    """One window of a metric's history: its value and the sample size of the metric's denominator."""

    value: float
    n: float | None = None


def _source(name: str, standardise_from: str, reference: dict[str, Any] | None, min_chunks: int) -> tuple[str, str]:
    """Where the level and noise come from, and a note when the reference could not be used."""
    if standardise_from == "history":
        return "history", ""
    chunks = int(reference.get("chunks", 0)) if reference else 0
    if chunks >= min_chunks:
        return "reference", ""
    note = (
        f"the reference gave {chunks} window-sized chunk(s) with {name} defined ({min_chunks} needed), so the noise "
        "comes from the history"
    )
    if standardise_from == "reference":
        note += " -- add labelled reference rows (with timestamps spanning more windows) or lower trend.min_chunks"
    return "history", note


def trend_result(
    name: str,
    history: Sequence[Point],
    *,
    higher_is_better: bool,
    method: str = "page_hinkley",
    standardise_from: str = "auto",
    warmup: int | None = None,
    reference: dict[str, Any] | None = None,
    min_chunks: int = 8,
    threshold: float | None = None,
    params: dict[str, float] | None = None,
) -> CheckResult:
    """The ``<name>_trend`` result of a metric's history (oldest first, the current window last).

    ``reference`` is the metric's entry of :func:`reference_chunk_stats` (None when unknown). ``auto`` uses
    it when it has at least ``min_chunks`` chunks, else the history's first ``warmup`` windows (default 20).
    From the reference the warm-up defaults to 0: alarms from the first windows. Too few windows: ``skipped``
    with the reason. An alarm anywhere in the history is a warning (restart the history once it is handled).
    """
    direction = "decrease" if higher_is_better else "increase"
    settings = dict(params or {})
    if threshold is not None:
        settings["threshold" if method == "page_hinkley" else "h"] = threshold
    source, note = _source(name, standardise_from, reference, min_chunks)
    details: dict[str, Any] = {"method": method, "windows": len(history), "standardised_from": source}
    if source == "reference":
        assert reference is not None
        stats = ChunkStats(
            float(reference["mean"]), float(reference["std"]), float(reference["n"]), int(reference["chunks"])
        )
        floor = 1e-6 * max(1.0, abs(stats.mean))
        z: list[float | None] = [(p.value - stats.mean) / max(stats.noise_at(p.n), floor) for p in history]
        wu = 0 if warmup is None else warmup
        result = detect(z, method=method, direction=direction, warmup=wu, mean=0.0, std=1.0, **settings)
        # the metric's level in the reference, not a baseline of the trend statistic (which is in noise units):
        # named so that notifications do not compare the statistic with it
        details.update({"level_mean": stats.mean, "level_std": stats.std, "level_n": stats.n, "chunks": stats.chunks})
        level = f"the reference level {stats.mean:.4g}"
    else:
        wu = warmup if warmup is not None and warmup >= 2 else DEFAULT_WARMUP
        result = detect([p.value for p in history], method=method, direction=direction, warmup=wu, **settings)
        level = f"the level of its first {wu} windows"
    details.update(result.details)
    details.update({"warmup": wu, "alarm_index": result.index})
    if note:
        details["note"] = note
    if result.statistic is None:
        message = f"{name} trend not judged yet: {len(history)} window(s), more than {wu} needed"
        if source == "history":
            message += (f" ({note})" if note else "") + (
                " -- with a labelled reference, performance.trend.standardise_from: reference judges from the "
                "first windows"
            )
        return CheckResult("performance", f"{name}_trend", "", None, result.threshold, Status.SKIPPED, message, details)
    if result.alarm:
        since = "?" if result.index is None else str(result.index + 1)
        message = (
            f"{name} is in a sustained {direction} from {level} ({method} statistic {result.statistic:.3g} > "
            f"{result.threshold:g} noise units, first at window {since} of {len(history)})"
        )
        status = Status.WARNING
    else:
        message = (
            f"no sustained {direction} of {name} ({method} statistic at most {result.statistic:.3g} <= "
            f"{result.threshold:g}; noise from the {source})"
        )
        status = Status.OK
    return CheckResult("performance", f"{name}_trend", "", result.statistic, result.threshold, status, message, details)
