"""Data-quality checks of a window from its profile: schema, volume, freshness, and how values are judged.

Per-column statistics (missing values, ranges, unseen categories) come from the feature counts
(:mod:`watchkeeper.drift.engine`); the GX suite runs batch by batch during the window's one pass
(:mod:`watchkeeper.gx_runner`). Great Expectations is imported inside functions only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watchkeeper.config import FeatureKind, Threshold
from watchkeeper.results import CheckResult, Status

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig

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


def crossed(threshold: Threshold | None, status: Status) -> float | None:
    """The level a result reports: the critical one when critical, else the warning one."""
    if threshold is None:
        return None
    if status is Status.CRITICAL and threshold.critical is not None:
        return threshold.critical
    return threshold.warning if threshold.warning is not None else threshold.critical


def schema_results(
    config: LoadedConfig, scan: Mapping[str, Any], mistyped: Mapping[str, str], baseline: dict[str, Any]
) -> list[CheckResult]:
    """Missing, extra and mistyped columns of the window, unparseable timestamps and schema changes.

    ``scan`` is what the reader saw (``WindowProfile.scan``); ``mistyped`` maps numerical features
    that arrived with a non-numeric dtype to that dtype.
    """
    out: list[CheckResult] = []
    ref_columns: dict[str, str] = baseline.get("columns") or {}
    for col in scan.get("missing_columns") or []:
        out.append(
            CheckResult(
                "quality",
                "column_missing",
                col,
                1.0,
                None,
                Status.CRITICAL,
                f"column {col!r} is missing from the prediction log",
            )
        )
    for col in [c for c in scan.get("extra_columns") or [] if c not in ref_columns]:
        out.append(
            CheckResult(
                "quality",
                "column_unexpected",
                col,
                1.0,
                None,
                Status.WARNING,
                f"column {col!r} is in the prediction log but neither in the config nor the reference",
            )
        )
    for name, dtype in mistyped.items():
        if config.model.predictions.features.get(name) is FeatureKind.NUMERICAL:
            out.append(
                CheckResult(
                    "quality",
                    "column_mistyped",
                    name,
                    1.0,
                    None,
                    Status.CRITICAL,
                    f"numerical feature {name!r} arrives as {dtype}",
                    {"dtype": dtype},
                )
            )
    bad = int(scan.get("unparseable_timestamps") or 0)
    if bad:
        out.append(
            CheckResult(
                "quality",
                "timestamp_unparseable",
                config.model.predictions.timestamp,
                float(bad),
                None,
                Status.WARNING,
                f"{bad} timestamps could not be parsed and were dropped",
            )
        )
    by_column: dict[str, list[dict[str, Any]]] = {}
    for change in scan.get("schema_changes") or []:
        by_column.setdefault(str(change.get("column", "")), []).append(dict(change))
    for column, changes in by_column.items():
        first = changes[0]
        what = f"{first.get('change', 'changed')}"
        if first.get("from") is not None or first.get("to") is not None:
            what += f" {first.get('from')} -> {first.get('to')}"
        more = f" and {len(changes) - 1} more change(s)" if len(changes) > 1 else ""
        out.append(
            CheckResult(
                "quality",
                "schema_change",
                column,
                float(len(changes)),
                None,
                Status.WARNING,
                f"column {column!r} changed between files of the window: {what} at {first.get('file')}{more}",
                {"changes": changes[:10]},
            )
        )
    if not out:
        out.append(CheckResult("quality", "schema", "", 0.0, None, Status.OK, "schema matches the config"))
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


def freshness_result(config: LoadedConfig, newest: datetime | None, window_end: datetime, now: datetime) -> CheckResult:
    """Lag between the newest row (``newest``, None for an empty window) and the end of the window (or now)."""
    limit_hours = config.model.quality.freshness_max_lag.total_seconds() / 3600.0
    if newest is None:
        return CheckResult("quality", "freshness_lag_hours", "", None, limit_hours, Status.SKIPPED, "no data in window")
    lag = (min(window_end, now) - newest).total_seconds() / 3600.0
    status = Status.WARNING if lag > limit_hours else Status.OK
    return CheckResult(
        "quality",
        "freshness_lag_hours",
        "",
        round(max(lag, 0.0), 4),
        limit_hours,
        status,
        f"newest row {newest.isoformat()} is {max(lag, 0.0):.1f} h old at window end",
        {"latest": newest.isoformat()},
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
    "crossed",
    "judge",
    "load_suite_dict",
    "parse_suite",
    "schema_results",
    "suggest_suite",
    "suite_parameters",
    "suite_path",
    "volume_result",
]
