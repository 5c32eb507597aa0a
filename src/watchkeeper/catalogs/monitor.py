"""Names of the monitor's check families, their metrics and the drift tests (parse-time light).

``tests/unit/catalogs`` asserts that the check families and the drift registry produce exactly these names.
"""

from __future__ import annotations

import difflib
import re

#: The check families of the monitor DAG, in run order.
FAMILIES = ("quality", "drift", "prediction", "service")

#: Registered drift tests (see :mod:`watchkeeper.drift.registry`).
DRIFT_TESTS = ("chisquare", "jensenshannon", "ks", "psi", "wasserstein")

#: The feature kinds each drift test applies to.
DRIFT_TEST_KINDS: dict[str, tuple[str, ...]] = {
    "chisquare": ("categorical",),
    "jensenshannon": ("categorical", "numerical"),
    "ks": ("numerical",),
    "psi": ("categorical", "numerical"),
    "wasserstein": ("numerical",),
}

#: Fixed metric names per family. ``drift`` metrics are drift-test names and ``multivariate_pca`` (the opt-in
#: joint-distribution detector); ``quality`` also has one
#: ``gx.<expectation_type>`` metric per expectation; ``prediction`` has ``score_<test>`` and
#: ``prediction_<test>`` per drift test and ``estimated_<metric>`` per estimated performance metric.
METRICS: dict[str, tuple[str, ...]] = {
    "quality": (
        "schema",
        "column_missing",
        "column_unexpected",
        "column_mistyped",
        "row_count",
        "freshness_lag_hours",
        "missing_share",
        "out_of_range_share",
        "nonfinite_count",
        "unseen_category_share",
        "duplicate_id_share",
        "probability_out_of_range_share",
        "probability_sum_share",
        "timestamp_unparseable",
        "schema_change",
        "gx_suite",
    ),
    "drift": (*DRIFT_TESTS, "multivariate_pca"),
    "prediction": (
        *(f"score_{t}" for t in DRIFT_TESTS),
        *(f"prediction_{t}" for t in DRIFT_TESTS),
        "score_drift",
        "class_rate_change",
        "mean_confidence",
        "low_confidence_share",
    ),
    "service": ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate"),
}

#: Metric-name patterns that are open-ended (checked by shape, not by a list).
_OPEN_METRICS = {"quality": re.compile(r"^gx\.[a-z0-9_]+$"), "prediction": re.compile(r"^estimated_[a-z0-9_]+$")}


def known_metric(family: str, metric: str) -> bool:
    """Whether ``family.metric`` is a metric the monitor can produce."""
    if metric in METRICS.get(family, ()):
        return True
    pattern = _OPEN_METRICS.get(family)
    return bool(pattern and pattern.match(metric))


def suggest(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    """``did you mean 'x'?`` for the closest candidate, else the list of candidates."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(candidates)}"
