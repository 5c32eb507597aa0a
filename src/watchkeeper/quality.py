"""Data-quality checks: schema, volume, freshness, and the model's Great Expectations suite.

Per-column statistics (missing values, ranges, unseen categories) are computed by the drift
engine in the same vectorised pass as drift; this module adds the table-level checks and runs
the GX suite. Great Expectations is imported inside functions only (it costs ~3 s and ~230 MB).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from watchkeeper.config import FeatureKind, Threshold
from watchkeeper.results import CheckResult, Status

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig
    from watchkeeper.sources import Frame

log = logging.getLogger(__name__)

EXPECTATIONS_DIR_ENV = "WATCHKEEPER_EXPECTATIONS_DIR"


def judge(value: float | None, threshold: Threshold | None) -> Status:
    """Status of a value that is bad when high: critical/warning at or above the bounds, else ok."""
    if value is None or threshold is None:
        return Status.OK
    if threshold.critical is not None and value >= threshold.critical:
        return Status.CRITICAL
    if threshold.warning is not None and value >= threshold.warning:
        return Status.WARNING
    return Status.OK


# --------------------------------------------------------------------------- table-level checks


def schema_results(config: LoadedConfig, frame: Frame, baseline: dict[str, Any]) -> list[CheckResult]:
    """Missing, extra and mistyped columns of the window."""
    out: list[CheckResult] = []
    ref_columns: dict[str, str] = baseline.get("columns") or {}
    for col in frame.missing_columns:
        out.append(
            CheckResult(
                "quality",
                "column_missing",
                col,
                1.0,
                0.0,
                Status.CRITICAL,
                f"column {col!r} is missing from the prediction log",
            )
        )
    extra = [c for c in frame.extra_columns if c not in ref_columns]
    for col in extra:
        out.append(
            CheckResult(
                "quality",
                "column_unexpected",
                col,
                1.0,
                0.0,
                Status.WARNING,
                f"column {col!r} is in the prediction log but neither in the config nor the reference",
            )
        )
    df = frame.df
    for name, kind in config.model.predictions.features.items():
        if kind is FeatureKind.NUMERICAL and name in df.columns and not len(df) == 0:
            series = df[name]
            if not (pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)):
                out.append(
                    CheckResult(
                        "quality",
                        "column_mistyped",
                        name,
                        1.0,
                        0.0,
                        Status.CRITICAL,
                        f"numerical feature {name!r} arrives as {series.dtype}",
                        {"dtype": str(series.dtype)},
                    )
                )
    if frame.unparseable_timestamps:
        out.append(
            CheckResult(
                "quality",
                "timestamp_unparseable",
                config.model.predictions.timestamp,
                float(frame.unparseable_timestamps),
                0.0,
                Status.WARNING,
                f"{frame.unparseable_timestamps} timestamps could not be parsed and were dropped",
            )
        )
    if not out:
        out.append(CheckResult("quality", "schema", "", 0.0, 0.0, Status.OK, "schema matches the config"))
    return out


def volume_result(config: LoadedConfig, n_rows: int, hours: float, baseline: dict[str, Any]) -> CheckResult:
    """Row count of the window against the expected count for its length."""
    settings = config.model.quality.volume
    if n_rows == 0:
        return CheckResult(
            "quality", "row_count", "", 0.0, None, Status.CRITICAL, "no data in window", {"expected": None}
        )
    per_day = baseline.get("rows_per_day")
    if not per_day:
        return CheckResult(
            "quality",
            "row_count",
            "",
            float(n_rows),
            None,
            Status.OK,
            "no expected volume known (set quality.volume.expected_rows_per_day)",
        )
    expected = per_day * hours / 24.0
    ratio = n_rows / expected
    status = Status.WARNING if ratio < settings.min_ratio or ratio > settings.max_ratio else Status.OK
    bound = expected * (settings.min_ratio if ratio < 1 else settings.max_ratio)
    msg = f"{n_rows} rows vs {expected:.0f} expected ({ratio:.0%})"
    return CheckResult(
        "quality", "row_count", "", float(n_rows), round(bound, 3), status, msg, {"expected": expected, "ratio": ratio}
    )


def freshness_result(config: LoadedConfig, df: pd.DataFrame, window_end: datetime, now: datetime) -> CheckResult:
    """Lag between the newest row and the end of the window (or now, if the window is still open)."""
    limit = config.model.quality.freshness_max_lag
    ts_col = config.model.predictions.timestamp
    if df.empty or df[ts_col].isna().all():
        return CheckResult(
            "quality",
            "freshness_lag_hours",
            "",
            None,
            limit.total_seconds() / 3600,
            Status.SKIPPED,
            "no data in window",
        )
    latest = df[ts_col].max().to_pydatetime()
    lag = (min(window_end, now) - latest).total_seconds() / 3600.0
    status = Status.WARNING if lag > limit.total_seconds() / 3600.0 else Status.OK
    return CheckResult(
        "quality",
        "freshness_lag_hours",
        "",
        round(max(lag, 0.0), 4),
        limit.total_seconds() / 3600.0,
        status,
        f"newest row {latest.isoformat()} is {max(lag, 0.0):.1f} h old at window end",
        {"latest": latest.isoformat()},
    )


# --------------------------------------------------------------------------- Great Expectations


# The GX suite functions live in watchkeeper.gx_suite; re-exported for callers of this module.
from watchkeeper.gx_suite import (  # noqa: E402
    expectations_dir,
    gx_results,
    load_suite_dict,
    parse_suite,
    suggest_suite,
    suite_parameters,
    suite_path,
)

__all__ = [
    "expectations_dir",
    "freshness_result",
    "gx_results",
    "judge",
    "load_suite_dict",
    "parse_suite",
    "schema_results",
    "suggest_suite",
    "suite_parameters",
    "suite_path",
    "volume_result",
]
