"""Drift and per-column data quality of one window, computed from its counts against stored reference profiles.

The window is first reduced to mergeable counts (:mod:`watchkeeper.drift.counts`, built batch by batch
by the window profile); every number here -- missing and non-finite counts, the out-of-range and
unseen shares, the histogram on the reference bins, the KS and Wasserstein statistics -- derives from
those counts. :func:`feature_drift` and :func:`feature_quality` judge one feature;
:func:`analyze_counts` judges many; :func:`analyze_features` does the same from a DataFrame (it counts
the frame in one batch first).

**Limits learned from the reference.** A share of rare events (nulls, values outside the reference
range, categories the reference never saw, infinities) is judged against the configured level *and*
against what the reference itself shows at the window's size: the level that ``n`` draws at the
reference's own rate exceed only with probability ``1 - REFERENCE_QUANTILE`` (the binomial
99.9th percentile). The reference's own rates are its null share; for a value outside its range,
``2 / (n_ref + 1)`` (continuous values) or its mass at its minimum and maximum (repeated values,
see :func:`out_of_range_rate`); for an unseen category, the share of categories seen once in the
reference (Good-Turing); and its infinity share. The reported threshold is the level that
was actually crossed (the critical one for a critical result).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from scipy import special

from watchkeeper.config.common import Threshold
from watchkeeper.detection.bands import Band
from watchkeeper.drift.counts import CategoricalCounts, FeatureCounts, NumericalCounts, count_values
from watchkeeper.drift.profile import CATEGORICAL, KINDS, NUMERICAL
from watchkeeper.drift.registry import SIGNIFICANCE_LEVEL, DriftTest, auto_method, available_tests, get_drift_test
from watchkeeper.exceptions import BaselineError, ConfigError, DataError
from watchkeeper.results import CheckResult, Status

logger = logging.getLogger(__name__)

#: ``missing_share`` levels, as margins above the reference's null share.
MISSING_SHARE = Threshold(warning=0.05, critical=0.20)
#: ``out_of_range_share`` levels (finite values outside the reference [min, max]).
OUT_OF_RANGE_SHARE = Threshold(warning=0.01, critical=0.05)
#: ``unseen_category_share`` levels; warning 0: any category the reference never saw (beyond noise).
UNSEEN_CATEGORY_SHARE = Threshold(warning=0.0, critical=0.05)
#: ``nonfinite_count`` levels (+/-inf values); never critical by default.
NONFINITE_COUNT = Threshold(warning=1.0)
#: Fewer usable current values than this: drift is not judged (``skipped``, with the reason).
MIN_SAMPLE = 100
#: Quantile of the binomial count at the reference's own rate above which a share is more than noise.
REFERENCE_QUANTILE = 0.999
#: An edge value of the reference seen at most this many times makes values beyond it plausible.
RARE_EDGE_COUNT = 5
#: How many unseen categories (most frequent first) are listed in ``details["unseen"]``.
UNSEEN_LISTED = 10

# Compatibility names (the default levels above, as plain numbers).
MISSING_SHARE_WARNING_MARGIN = 0.05
MISSING_SHARE_CRITICAL_MARGIN = 0.20
OUT_OF_RANGE_WARNING = 0.01
OUT_OF_RANGE_CRITICAL = 0.05
UNSEEN_WARNING = 0.0
UNSEEN_CRITICAL = 0.05

AUTO = "auto"
NO_DATA = "no data in window"
NO_VALUES = "no non-null values in window"
NO_FINITE = "no finite values in window"
NO_REFERENCE = "reference has no non-null values"
NO_BAND = "fixed threshold: no band learned for this feature -- rebuild the baseline (`watchkeeper baseline`)"


@dataclass(frozen=True)
class FeatureLimits:
    """The per-column quality levels and the minimum sample for drift (from ``quality``/``drift`` config)."""

    missing_share: Threshold = field(default_factory=lambda: MISSING_SHARE)
    out_of_range_share: Threshold = field(default_factory=lambda: OUT_OF_RANGE_SHARE)
    unseen_category_share: Threshold = field(default_factory=lambda: UNSEEN_CATEGORY_SHARE)
    nonfinite_count: Threshold = field(default_factory=lambda: NONFINITE_COUNT)
    min_sample: int = MIN_SAMPLE


DEFAULT_LIMITS = FeatureLimits()


@dataclass(frozen=True)
class LearnedBand:
    """A feature's threshold learned from the reference (``drift.threshold_mode: learned``).

    ``band`` was learned for drift test ``test``; without a band (or when the window's test differs from the
    band's), ``note`` says why the fixed threshold applies instead.
    """

    band: Band | None = None
    test: str | None = None
    note: str | None = None


# --------------------------------------------------------------------------- entry points


def analyze_features(
    df: pd.DataFrame,
    features: Mapping[str, str],
    profiles: Mapping[str, dict[str, Any]],
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, tuple[float, float]] | None = None,
    *,
    limits: FeatureLimits = DEFAULT_LIMITS,
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
    _validate_frame(df, features)
    validate_plan(features, profiles, methods, thresholds)
    counts = {
        column: count_values(profiles[column], df[column], f"{kind} feature {column!r}")
        for column, kind in features.items()
    }
    return analyze_counts(counts, profiles, methods, thresholds, limits=limits)


def analyze_counts(
    counts: Mapping[str, FeatureCounts],
    profiles: Mapping[str, dict[str, Any]],
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, tuple[float, float]] | None = None,
    *,
    limits: FeatureLimits = DEFAULT_LIMITS,
    families: tuple[str, ...] = ("drift", "quality"),
    learned: Mapping[str, LearnedBand] | None = None,
) -> list[CheckResult]:
    """Drift and/or quality results of counted features (see :func:`analyze_features` for the layout).

    ``families`` picks ``drift`` (the statistics) and/or ``quality`` (the shares), so each is computed
    only where it is reported. ``learned`` holds the features' learned bands (learned threshold mode).
    """
    methods = dict(methods or {})
    thresholds = dict(thresholds or {})
    results: list[CheckResult] = []
    for column, current in counts.items():
        profile = profiles[column]
        if "drift" in families:
            results.append(
                feature_drift(
                    column,
                    current,
                    profile,
                    method=methods.get(column, AUTO),
                    thresholds=thresholds,
                    min_sample=limits.min_sample,
                    learned=None if learned is None else learned.get(column, LearnedBand(note=NO_BAND)),
                )
            )
        if "quality" in families:
            results.extend(feature_quality(column, current, profile, limits))
    logger.debug("analyzed %d features: %d results", len(counts), len(results))
    return results


# --------------------------------------------------------------------------- validation


def _validate_frame(df: pd.DataFrame, features: Mapping[str, str]) -> None:
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


def validate_plan(
    features: Mapping[str, str],
    profiles: Mapping[str, dict[str, Any]],
    methods: Mapping[str, str],
    thresholds: Mapping[str, tuple[float, float]],
) -> None:
    """Fail before any computation on config or baseline mistakes, naming what to fix."""
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


# --------------------------------------------------------------------------- drift


def _choose(
    column: str, kind: str, n_current: int, method: str, thresholds: Mapping[str, tuple[float, float]]
) -> tuple[DriftTest, bool, float, float]:
    auto = method == AUTO
    test = get_drift_test(auto_method(kind, n_current) if auto else method)
    warning, critical = thresholds.get(column) or thresholds.get(test.name) or test.default_thresholds
    return test, auto, float(warning), float(critical)


def _kind(current: FeatureCounts) -> str:
    return NUMERICAL if isinstance(current, NumericalCounts) else CATEGORICAL


def _usable(current: FeatureCounts) -> tuple[int, int, int]:
    """(rows, non-null values, usable values) of a feature's counts."""
    if isinstance(current, NumericalCounts):
        return current.rows, current.rows - current.null_count, current.n
    return current.rows, current.n, current.n


def chunk_statistic(
    column: str,
    current: FeatureCounts,
    profile: Mapping[str, Any],
    *,
    method: str = AUTO,
    thresholds: Mapping[str, tuple[float, float]] | None = None,
    min_sample: int = MIN_SAMPLE,
) -> tuple[str, float] | None:
    """(test name, statistic) exactly as :func:`feature_drift` computes it, or None where it would skip.

    Used on the reference's own chunks to learn the band of the statistic.
    """
    kind = _kind(current)
    rows, non_null, usable = _usable(current)
    test, _, _, _ = _choose(column, kind, usable, method, thresholds or {})
    if _skip_reason(rows, non_null, usable, profile) is not None or usable < min_sample:
        return None
    return test.name, float(test.compute(dict(profile), current).statistic)


def feature_drift(
    column: str,
    current: FeatureCounts,
    profile: Mapping[str, Any],
    *,
    method: str = AUTO,
    thresholds: Mapping[str, tuple[float, float]] | None = None,
    min_sample: int = MIN_SAMPLE,
    learned: LearnedBand | None = None,
) -> CheckResult:
    """The drift result of one feature: its test's statistic, judged on the effect size and a noise test.

    With ``learned`` (learned threshold mode) the statistic is judged against the feature's band instead of the
    fixed warning level: a finding when it leaves the band (above the band's floor) and the noise test passes;
    critical when it also reaches the fixed critical level, else warning. Without a usable band the fixed
    threshold applies and the message says why.
    """
    kind = _kind(current)
    rows, non_null, usable = _usable(current)
    test, auto, warning, critical = _choose(column, kind, usable, method, thresholds or {})
    details: dict[str, Any] = {
        "method": test.name,
        "auto": auto,
        "n": usable,
        "n_reference": profile["n"],
        "p_value": None,
        "critical": critical,
    }
    band: Band | None = None
    note: str | None = None
    if learned is not None:
        band, note = learned.band, learned.note
        if band is not None and learned.test is not None and learned.test != test.name:
            band = None
            note = f"fixed threshold: the band was learned for {learned.test}, this window uses {test.name}"
        details["threshold_mode"] = "learned" if band is not None else "fixed"
        if band is not None:
            details["band"] = band.to_dict()
        elif note:
            details["band_note"] = note
    skip = _skip_reason(rows, non_null, usable, profile)
    if skip is None and usable < min_sample:
        skip = (
            f"only {usable} usable values in window; drift is judged from {min_sample} "
            "(drift.min_sample) -- too few to tell drift from noise"
        )
        details["min_sample"] = min_sample
    if skip is not None:
        return CheckResult("drift", test.name, column, None, warning, Status.SKIPPED, f"{column}: {skip}", details)
    stat = test.compute(dict(profile), current)
    details.update(stat.details, p_value=stat.p_value)
    value = stat.statistic
    if band is not None:
        return _band_drift(column, test, stat, band, critical=critical, details=details)
    status = test.decide(stat, warning, critical)
    limit = critical if status is Status.CRITICAL else warning
    if status.is_finding:
        message = f"{column} drifted: {test.name} {value:.3g} >= {limit:.3g} ({status})"
    elif value >= warning and stat.p_value is not None:
        message = (
            f"{column}: {test.name} {value:.3g} >= {warning:.3g} but p-value {stat.p_value:.3g} is not significant"
        )
    else:
        message = f"{column}: {test.name} {value:.3g} < {warning:.3g} (no drift)"
    if note:
        message += f" [{note}]"
    return CheckResult("drift", test.name, column, value, limit, status, message, details)


def _band_drift(
    column: str, test: DriftTest, stat: Any, band: Band, *, critical: float, details: dict[str, Any]
) -> CheckResult:
    """Judge a statistic against its learned band (see :func:`feature_drift`)."""
    value = float(stat.statistic)
    outside = band.exceeded(value)
    significant = not (test.needs_significance and stat.p_value is not None and not stat.p_value < SIGNIFICANCE_LEVEL)
    status = Status.OK
    if outside and significant:
        status = Status.CRITICAL if value >= critical else Status.WARNING
    upper = band.upper if band.upper is not None else critical
    limit = critical if status is Status.CRITICAL else max(upper, band.floor or 0.0)
    where = band.describe()
    if status.is_finding:
        message = f"{column} drifted: {test.name} {value:.3g} outside the {where} ({status})"
    elif outside:
        message = (
            f"{column}: {test.name} {value:.3g} outside the {where} but p-value {stat.p_value:.3g} is not significant"
        )
    else:
        message = f"{column}: {test.name} {value:.3g} within the {where} (no drift)"
    return CheckResult("drift", test.name, column, value, limit, status, message, details)


def _skip_reason(rows: int, non_null: int, usable: int, profile: Mapping[str, Any]) -> str | None:
    if rows == 0:
        return NO_DATA
    if non_null == 0:
        return NO_VALUES
    if usable == 0:
        return NO_FINITE
    if profile["n"] == 0:
        return NO_REFERENCE
    return None


# --------------------------------------------------------------------------- quality


def _pct(share: float) -> str:
    """A share as a percentage with 3 significant digits, so 3 rows in a million do not read as 0.00%."""
    return f"{share * 100:.3g}%"


def noise_level(n: int, rate: float) -> float:
    """The share of ``n`` draws at ``rate`` exceeded with probability below ``1 - REFERENCE_QUANTILE``."""
    if n <= 0 or rate <= 0:
        return 0.0
    if rate >= 1:
        return 1.0
    return binom_quantile(REFERENCE_QUANTILE, n, rate) / n


def binom_quantile(q: float, n: int, p: float) -> int:
    """The smallest ``k`` with P(Binomial(n, p) <= k) >= q, for 0 < q < 1 -- ``scipy.stats.binom.ppf`` -- by
    bisection on ``scipy.special.bdtr`` (about log2(n) evaluations; no ``scipy.stats`` import)."""
    low, high = 0, n  # the answer lies in [low, high]: bdtr(n, n, p) = 1 >= q
    while low < high:
        mid = (low + high) // 2
        if special.bdtr(mid, n, p) >= q:
            high = mid
        else:
            low = mid + 1
    return low


@dataclass(frozen=True)
class Judged:
    """A share judged against configured levels and the reference's own noise level."""

    status: Status
    warning: float | None
    critical: float | None
    noise: float

    @property
    def crossed(self) -> float | None:
        """The level the result reports: the critical one when critical, else the warning one."""
        return self.critical if self.status is Status.CRITICAL else self.warning


def judge_share(value: float, threshold: Threshold, *, n: int, rate: float, base: float = 0.0) -> Judged:
    """Judge a share of rare events: a finding needs ``value > 0``, ``value >= base + level`` and more
    than the reference's own rate explains at this size (``value > noise_level(n, rate)``); the
    levels reported are ``max(base + level, noise)``."""
    noise = noise_level(n, rate)
    warning = None if threshold.warning is None else max(base + threshold.warning, noise)
    critical = None if threshold.critical is None else max(base + threshold.critical, noise)
    status = Status.OK
    if value > 0 and value > noise:
        if critical is not None and value >= critical:
            status = Status.CRITICAL
        elif warning is not None and value >= warning:
            status = Status.WARNING
    return Judged(status, warning, critical, noise)


def feature_quality(
    column: str, current: FeatureCounts, profile: Mapping[str, Any], limits: FeatureLimits = DEFAULT_LIMITS
) -> list[CheckResult]:
    """``missing_share`` plus ``out_of_range_share`` and ``nonfinite_count`` (numerical) or
    ``unseen_category_share`` (categorical) of one feature."""
    missing = _missing_share(column, current.rows, current.null_count, profile, limits.missing_share)
    if isinstance(current, NumericalCounts):
        return [missing, _out_of_range(column, current, profile, limits), _nonfinite(column, current, profile, limits)]
    return [missing, _unseen(column, current, profile, limits)]


def _missing_share(
    column: str, rows: int, null_count: int, profile: Mapping[str, Any], threshold: Threshold
) -> CheckResult:
    ref_rows = int(profile.get("rows", profile["n"] + profile["null_count"] + profile.get("inf_count", 0)))
    ref_share = profile["null_count"] / ref_rows if ref_rows else 0.0
    if rows == 0:
        warning = None if threshold.warning is None else ref_share + threshold.warning
        details = {"null_count": 0, "rows": 0, "reference_share": ref_share}
        return CheckResult(
            "quality", "missing_share", column, None, warning, Status.SKIPPED, f"{column}: {NO_DATA}", details
        )
    share = null_count / rows
    judged = judge_share(share, threshold, n=rows, rate=ref_share, base=ref_share)
    details = {
        "null_count": null_count,
        "rows": rows,
        "reference_share": ref_share,
        "critical": judged.critical,
        "noise_level": judged.noise,
    }
    if judged.status.is_finding:
        message = f"{column}: missing share {_pct(share)} > {_pct(judged.crossed or 0.0)} ({judged.status})"
    else:
        message = f"{column}: missing share {_pct(share)} (reference {_pct(ref_share)})"
    return CheckResult("quality", "missing_share", column, share, judged.crossed, judged.status, message, details)


def _out_of_range(
    column: str, current: NumericalCounts, profile: Mapping[str, Any], limits: FeatureLimits
) -> CheckResult:
    low, high = profile["min"], profile["max"]
    threshold = limits.out_of_range_share
    skip = NO_DATA if current.rows == 0 else NO_FINITE if current.n == 0 else None
    if skip is None and (low is None or high is None):
        skip = "reference has no finite values"
    if skip is not None:
        return CheckResult(
            "quality", "out_of_range_share", column, None, threshold.warning, Status.SKIPPED, f"{column}: {skip}"
        )
    n = current.n
    below, above = current.below, current.above
    share = (below + above) / n
    judged = judge_share(share, threshold, n=n, rate=out_of_range_rate(profile))
    details: dict[str, Any] = {
        "reference_min": low,
        "reference_max": high,
        "below": below,
        "above": above,
        "window_min": current.min,
        "window_max": current.max,
        "critical": judged.critical,
        "noise_level": judged.noise,
    }
    message = f"{column}: {_pct(share)} of values outside the reference range [{low:.6g}, {high:.6g}]"
    if judged.status.is_finding:
        message += f", > {_pct(judged.crossed or 0.0)} ({judged.status})"
    return CheckResult("quality", "out_of_range_share", column, share, judged.crossed, judged.status, message, details)


def out_of_range_rate(profile: Mapping[str, Any]) -> float:
    """Chance that a new value falls outside the reference range, as the reference itself shows it.

    ``2 / (n + 1)`` for continuous values (a new draw is the new minimum or maximum of ``n + 1``
    values). For values that repeat (integers, rounded amounts), an edge value seen only a few times
    (at most :data:`RARE_EDGE_COUNT`, read from the quantiles) says the next value beyond it could
    easily have been missed: its share of the reference is added (Good-Turing's reasoning at the edges).
    """
    n = int(profile.get("n") or 0)
    if n == 0:
        return 0.0
    quantiles = profile.get("quantiles") or []
    edge_mass = 0.0
    if quantiles:
        for edge in (quantiles[0], quantiles[-1]):
            share = sum(1 for q in quantiles if q == edge) / len(quantiles)
            if share * n <= RARE_EDGE_COUNT:
                edge_mass += share
    return max(2.0 / (n + 1), edge_mass)


def _nonfinite(column: str, current: NumericalCounts, profile: Mapping[str, Any], limits: FeatureLimits) -> CheckResult:
    count = current.inf_count
    threshold = limits.nonfinite_count
    details: dict[str, Any] = {"pos_inf": current.pos_inf, "neg_inf": current.neg_inf}
    if current.rows == 0:
        return CheckResult(
            "quality", "nonfinite_count", column, None, threshold.warning, Status.SKIPPED, f"{column}: {NO_DATA}"
        )
    ref_rows = int(profile.get("rows") or 0)
    rate = int(profile.get("inf_count") or 0) / ref_rows if ref_rows else 0.0
    noise = noise_level(current.rows, rate) * current.rows
    warning = None if threshold.warning is None else max(threshold.warning, noise)
    critical = None if threshold.critical is None else max(threshold.critical, noise)
    status = Status.OK
    if count > 0 and count > noise:
        if critical is not None and count >= critical:
            status = Status.CRITICAL
        elif warning is not None and count >= warning:
            status = Status.WARNING
    if rate:
        details["noise_level"] = noise
    crossed = critical if status is Status.CRITICAL else warning
    message = f"{column}: {count} infinite values" + (f" ({status})" if status.is_finding else "")
    return CheckResult("quality", "nonfinite_count", column, float(count), crossed, status, message, details)


def _good_turing_rate(profile: Mapping[str, Any]) -> float:
    """Chance that a new value falls in a category the reference never saw: its singletons / its size."""
    n = int(profile.get("n") or 0)
    if n == 0:
        return 0.0
    singletons = sum(1 for count in (profile.get("counts") or {}).values() if count == 1)
    return singletons / n


def _unseen(column: str, current: CategoricalCounts, profile: Mapping[str, Any], limits: FeatureLimits) -> CheckResult:
    threshold = limits.unseen_category_share
    non_null = current.n
    skip = _skip_reason(current.rows, non_null, non_null, profile)
    if skip is not None:
        message = f"{column}: {skip}"
        return CheckResult("quality", "unseen_category_share", column, None, threshold.warning, Status.SKIPPED, message)
    _, unseen = current.aligned()
    unseen_rows = current.unseen_rows
    share = unseen_rows / non_null
    judged = judge_share(share, threshold, n=non_null, rate=_good_turing_rate(profile))
    listed = unseen[:UNSEEN_LISTED]
    named = len(unseen)
    details = {
        "unseen": listed,
        "unseen_counts": [current.unseen[label] for label in listed],
        "unseen_categories": named,
        "unseen_rows": unseen_rows,
        "other_count": current.other_count,
        "critical": judged.critical,
        "noise_level": judged.noise,
    }
    if unseen_rows:
        more = named - len(listed)
        tail = f" and {more} more" if more > 0 else ""
        if current.other_count:
            tail += f" and others in {current.other_count} rows"
        message = f"{column}: {_pct(share)} of values in categories unseen in the reference ({', '.join(listed)}{tail})"
        message += f" ({judged.status})" if judged.status.is_finding else ""
    else:
        message = f"{column}: no unseen categories"
    return CheckResult(
        "quality", "unseen_category_share", column, share, judged.crossed, judged.status, message, details
    )


def summary_of(counts: NumericalCounts) -> dict[str, Any]:
    """Small summary statistics of counted numerical values (for details and charts)."""
    return {"n": counts.n, "min": counts.min, "max": counts.max, "mean": counts.mean(), "std": counts.std()}


__all__ = [
    "DEFAULT_LIMITS",
    "FeatureLimits",
    "LearnedBand",
    "chunk_statistic",
    "analyze_counts",
    "analyze_features",
    "feature_drift",
    "feature_quality",
    "judge_share",
    "noise_level",
    "validate_plan",
]
