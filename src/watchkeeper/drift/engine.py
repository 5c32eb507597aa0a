"""Drift and per-column data quality of one window against stored reference profiles.

The hot path. Each feature column is converted on its own (the DataFrame is never copied) and read
once: a numerical column is sorted once and every number -- missing and non-finite counts, the
out-of-range share, the histogram on the reference bins, the KS and Wasserstein statistics -- comes
from that sorted array by binary search; a categorical column gets one ``value_counts``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from watchkeeper.drift.profile import (
    CATEGORICAL,
    KINDS,
    NUMERICAL,
    CategoricalSample,
    NumericalSample,
    align_categories,
    count_categories,
    split_numerical,
)
from watchkeeper.drift.registry import DriftTest, auto_method, available_tests, get_drift_test
from watchkeeper.exceptions import BaselineError, ConfigError, DataError
from watchkeeper.results import CheckResult, Status

logger = logging.getLogger(__name__)

#: ``missing_share`` warns above the reference null share plus this (absolute share).
MISSING_SHARE_WARNING_MARGIN = 0.05
#: ``missing_share`` is critical above the reference null share plus this (absolute share).
MISSING_SHARE_CRITICAL_MARGIN = 0.20
#: ``out_of_range_share`` (finite values outside the reference [min, max]) warns above this share.
OUT_OF_RANGE_WARNING = 0.01
#: ``out_of_range_share`` is critical above this share.
OUT_OF_RANGE_CRITICAL = 0.05
#: ``nonfinite_count`` (+/-inf values) warns above this count; it is never critical.
NONFINITE_WARNING = 0
#: ``unseen_category_share`` warns above this share: any category the reference never saw.
UNSEEN_WARNING = 0.0
#: ``unseen_category_share`` is critical above this share.
UNSEEN_CRITICAL = 0.05
#: How many unseen categories (most frequent first) are listed in ``details["unseen"]``.
UNSEEN_LISTED = 10

AUTO = "auto"
NO_DATA = "no data in window"
NO_VALUES = "no non-null values in window"
NO_FINITE = "no finite values in window"
NO_REFERENCE = "reference has no non-null values"


def analyze_features(
    df: pd.DataFrame,
    features: Mapping[str, str],
    profiles: Mapping[str, dict[str, Any]],
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, tuple[float, float]] | None = None,
) -> list[CheckResult]:
    """Drift and data-quality results of every feature of ``df`` against its reference profile.

    ``features`` maps each column to ``"numerical"`` or ``"categorical"``; ``profiles`` holds the
    stored profiles (:mod:`watchkeeper.drift.profile`); ``methods`` maps a column to a drift test name
    or ``"auto"`` (the default, see :func:`~watchkeeper.drift.registry.auto_method`); ``thresholds``
    maps a column or a test name to ``(warning, critical)``, the column winning over the test.

    Per feature, in order: one ``drift`` result (metric = test name, value = its statistic) and the
    ``quality`` results ``missing_share`` plus ``out_of_range_share`` and ``nonfinite_count``
    (numerical) or ``unseen_category_share`` (categorical).
    """
    methods = dict(methods or {})
    thresholds = dict(thresholds or {})
    _validate(df, features, profiles, methods, thresholds)
    results: list[CheckResult] = []
    for column, kind in features.items():
        profile = profiles[column]
        if kind == NUMERICAL:
            results.extend(_numerical(column, df[column], profile, methods, thresholds))
        else:
            results.extend(_categorical(column, df[column], profile, methods, thresholds))
    logger.debug("analyzed %d features over %d rows: %d results", len(features), len(df), len(results))
    return results


def _validate(
    df: pd.DataFrame,
    features: Mapping[str, str],
    profiles: Mapping[str, dict[str, Any]],
    methods: dict[str, str],
    thresholds: dict[str, tuple[float, float]],
) -> None:
    """Fail before any computation on config or baseline mistakes, naming what to fix."""
    absent = [column for column in features if column not in df.columns]
    if absent:
        raise DataError(
            f"feature column(s) {', '.join(map(repr, absent))} not in the window data; "
            f"available columns: {', '.join(map(str, df.columns))}"
        )
    duplicated = [column for column in features if int((df.columns == column).sum()) > 1]
    if duplicated:
        raise DataError(
            f"feature column(s) {', '.join(map(repr, duplicated))} appear more than once in the window data"
        )
    extra = sorted(set(methods) - set(features))
    if extra:
        raise ConfigError(f"drift methods given for columns that are not features: {', '.join(extra)}")
    unknown = sorted(set(thresholds) - set(features) - set(available_tests()))
    if unknown:
        raise ConfigError(
            f"drift thresholds for {', '.join(unknown)}: neither a feature nor a drift test "
            f"({', '.join(available_tests())})"
        )
    for key, pair in thresholds.items():
        _check_pair(key, pair)
    for column, kind in features.items():
        if kind not in KINDS:
            raise ConfigError(f"feature {column!r} has kind {kind!r}; use one of: {', '.join(sorted(KINDS))}")
        method = methods.get(column, AUTO)
        if method != AUTO and kind not in get_drift_test(method).kinds:
            raise ConfigError(
                f"drift test {method!r} does not apply to {kind} feature {column!r}; "
                f"use auto or one of: {', '.join(available_tests(kind))}"
            )
        profile = profiles.get(column)
        if profile is None:
            raise BaselineError(f"no reference profile for feature {column!r} -- rebuild the baseline")
        if profile.get("kind") != kind:
            raise BaselineError(
                f"reference profile of {column!r} is {profile.get('kind')!r} but the feature is {kind} "
                "-- rebuild the baseline after changing a feature's kind"
            )


def _check_pair(key: str, pair: tuple[float, float]) -> None:
    try:
        warning, critical = (float(value) for value in pair)
    except (TypeError, ValueError):
        raise ConfigError(f"drift thresholds for {key!r} must be (warning, critical), got {pair!r}") from None
    if not (math.isfinite(warning) and math.isfinite(critical) and warning <= critical):
        raise ConfigError(f"drift thresholds for {key!r} must be finite with warning <= critical, got {pair!r}")


def _choose(
    column: str, kind: str, n_current: int, methods: dict[str, str], thresholds: dict[str, tuple[float, float]]
) -> tuple[DriftTest, bool, float, float]:
    requested = methods.get(column, AUTO)
    auto = requested == AUTO
    test = get_drift_test(auto_method(kind, n_current) if auto else requested)
    warning, critical = thresholds.get(column) or thresholds.get(test.name) or test.default_thresholds
    return test, auto, float(warning), float(critical)


def _drift(
    column: str,
    kind: str,
    profile: dict[str, Any],
    current: Any,
    *,
    n_current: int,
    skip: str | None,
    methods: dict[str, str],
    thresholds: dict[str, tuple[float, float]],
) -> CheckResult:
    test, auto, warning, critical = _choose(column, kind, n_current, methods, thresholds)
    details: dict[str, Any] = {
        "method": test.name,
        "auto": auto,
        "n": n_current,
        "n_reference": profile["n"],
        "p_value": None,
        "critical": critical,
    }
    if skip is not None:
        return CheckResult("drift", test.name, column, None, warning, Status.SKIPPED, f"{column}: {skip}", details)
    stat = test.compute(profile, current)
    status = test.decide(stat, warning, critical)
    details.update(stat.details, p_value=stat.p_value)
    value = stat.statistic
    if status.is_finding:
        limit = critical if status is Status.CRITICAL else warning
        message = f"{column} drifted: {test.name} {value:.3g} >= {limit:.3g} ({status})"
    elif value >= warning and stat.p_value is not None:
        message = (
            f"{column}: {test.name} {value:.3g} >= {warning:.3g} but p-value {stat.p_value:.3g} is not significant"
        )
    else:
        message = f"{column}: {test.name} {value:.3g} < {warning:.3g} (no drift)"
    return CheckResult("drift", test.name, column, value, warning, status, message, details)


def _pct(share: float) -> str:
    """A share as a percentage with 3 significant digits, so 3 rows in a million do not read as 0.00%."""
    return f"{share * 100:.3g}%"


def _share_status(value: float, warning: float, critical: float) -> Status:
    if value > critical:
        return Status.CRITICAL
    return Status.WARNING if value > warning else Status.OK


def _missing_share(column: str, rows: int, null_count: int, profile: dict[str, Any]) -> CheckResult:
    ref_rows = int(profile.get("rows", profile["n"] + profile["null_count"] + profile.get("inf_count", 0)))
    ref_share = profile["null_count"] / ref_rows if ref_rows else 0.0
    warning = ref_share + MISSING_SHARE_WARNING_MARGIN
    critical = ref_share + MISSING_SHARE_CRITICAL_MARGIN
    details = {"null_count": null_count, "rows": rows, "reference_share": ref_share, "critical": critical}
    if rows == 0:
        return CheckResult(
            "quality", "missing_share", column, None, warning, Status.SKIPPED, f"{column}: {NO_DATA}", details
        )
    share = null_count / rows
    status = _share_status(share, warning, critical)
    if status.is_finding:
        limit = critical if status is Status.CRITICAL else warning
        message = f"{column}: missing share {_pct(share)} > {_pct(limit)} ({status})"
    else:
        message = f"{column}: missing share {_pct(share)} (reference {_pct(ref_share)})"
    return CheckResult("quality", "missing_share", column, share, warning, status, message, details)


def _numerical(
    column: str,
    series: pd.Series,
    profile: dict[str, Any],
    methods: dict[str, str],
    thresholds: dict[str, tuple[float, float]],
) -> list[CheckResult]:
    sample = split_numerical(series, name=f"numerical feature {column!r}")
    finite = sample.finite
    skip = _skip_reason(sample.rows, sample.rows - sample.null_count, int(finite.size), profile)
    return [
        _drift(
            column,
            NUMERICAL,
            profile,
            finite,
            n_current=int(finite.size),
            skip=skip,
            methods=methods,
            thresholds=thresholds,
        ),
        _missing_share(column, sample.rows, sample.null_count, profile),
        _out_of_range(column, sample, profile),
        _nonfinite(column, sample),
    ]


def _skip_reason(rows: int, non_null: int, usable: int, profile: dict[str, Any]) -> str | None:
    if rows == 0:
        return NO_DATA
    if non_null == 0:
        return NO_VALUES
    if usable == 0:
        return NO_FINITE
    if profile["n"] == 0:
        return NO_REFERENCE
    return None


def _out_of_range(column: str, sample: NumericalSample, profile: dict[str, Any]) -> CheckResult:
    finite = sample.finite
    low, high = profile["min"], profile["max"]
    details: dict[str, Any] = {"reference_min": low, "reference_max": high, "critical": OUT_OF_RANGE_CRITICAL}
    skip = NO_DATA if sample.rows == 0 else NO_FINITE if finite.size == 0 else None
    if skip is None and (low is None or high is None):
        skip = "reference has no finite values"
    if skip is not None:
        message = f"{column}: {skip}"
        return CheckResult("quality", "out_of_range_share", column, None, OUT_OF_RANGE_WARNING, Status.SKIPPED, message)
    below = int(finite.searchsorted(low, side="left"))
    above = int(finite.size - finite.searchsorted(high, side="right"))
    share = (below + above) / finite.size
    status = _share_status(share, OUT_OF_RANGE_WARNING, OUT_OF_RANGE_CRITICAL)
    details.update(below=below, above=above)
    message = f"{column}: {_pct(share)} of values outside the reference range [{low:.6g}, {high:.6g}]"
    if status.is_finding:
        limit = OUT_OF_RANGE_CRITICAL if status is Status.CRITICAL else OUT_OF_RANGE_WARNING
        message += f", > {_pct(limit)} ({status})"
    return CheckResult("quality", "out_of_range_share", column, share, OUT_OF_RANGE_WARNING, status, message, details)


def _nonfinite(column: str, sample: NumericalSample) -> CheckResult:
    count = sample.inf_count
    details = {"pos_inf": sample.pos_inf_count, "neg_inf": sample.neg_inf_count}
    if sample.rows == 0:
        return CheckResult(
            "quality", "nonfinite_count", column, None, NONFINITE_WARNING, Status.SKIPPED, f"{column}: {NO_DATA}"
        )
    status = Status.WARNING if count > NONFINITE_WARNING else Status.OK
    message = f"{column}: {count} infinite values" + (f" ({status})" if status.is_finding else "")
    return CheckResult("quality", "nonfinite_count", column, float(count), NONFINITE_WARNING, status, message, details)


def _categorical(
    column: str,
    series: pd.Series,
    profile: dict[str, Any],
    methods: dict[str, str],
    thresholds: dict[str, tuple[float, float]],
) -> list[CheckResult]:
    sample = count_categories(series)
    current, unseen = align_categories(profile, sample.counts)
    non_null = sample.rows - sample.null_count
    skip = _skip_reason(sample.rows, non_null, non_null, profile)
    return [
        _drift(
            column, CATEGORICAL, profile, current, n_current=non_null, skip=skip, methods=methods, thresholds=thresholds
        ),
        _missing_share(column, sample.rows, sample.null_count, profile),
        _unseen(column, sample, unseen, profile),
    ]


def _unseen(column: str, sample: CategoricalSample, unseen: list[str], profile: dict[str, Any]) -> CheckResult:
    non_null = sample.rows - sample.null_count
    skip = _skip_reason(sample.rows, non_null, non_null, profile)
    if skip is not None:
        message = f"{column}: {skip}"
        return CheckResult("quality", "unseen_category_share", column, None, UNSEEN_WARNING, Status.SKIPPED, message)
    unseen_rows = sum(sample.counts[label] for label in unseen)
    share = unseen_rows / non_null
    status = _share_status(share, UNSEEN_WARNING, UNSEEN_CRITICAL)
    listed = unseen[:UNSEEN_LISTED]
    details = {
        "unseen": listed,
        "unseen_counts": [sample.counts[label] for label in listed],
        "unseen_categories": len(unseen),
        "unseen_rows": unseen_rows,
        "critical": UNSEEN_CRITICAL,
    }
    if unseen:
        more = f" and {len(unseen) - len(listed)} more" if len(unseen) > len(listed) else ""
        message = f"{column}: {_pct(share)} of values in categories unseen in the reference ({', '.join(listed)}{more})"
        message += f" ({status})" if status.is_finding else ""
    else:
        message = f"{column}: no unseen categories"
    return CheckResult("quality", "unseen_category_share", column, share, UNSEEN_WARNING, status, message, details)
