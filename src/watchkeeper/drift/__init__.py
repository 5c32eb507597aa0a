"""Feature drift and per-column data quality against stored reference profiles (task-side: imports numpy/pandas).

Build profiles once from the reference data (:func:`profile_numerical`, :func:`profile_categorical`),
store them, and judge each window with :func:`analyze_features`. Drift tests live in a registry keyed
by name (:func:`get_drift_test`, :func:`available_tests`); ``docs/drift.md`` documents each of them.
"""

from watchkeeper.drift.engine import analyze_features
from watchkeeper.drift.profile import CATEGORICAL, NUMERICAL, profile_categorical, profile_numerical
from watchkeeper.drift.registry import (
    DriftStat,
    DriftTest,
    auto_method,
    available_tests,
    get_drift_test,
    register_drift_test,
)

__all__ = [
    "CATEGORICAL",
    "NUMERICAL",
    "DriftStat",
    "DriftTest",
    "analyze_features",
    "auto_method",
    "available_tests",
    "get_drift_test",
    "profile_categorical",
    "profile_numerical",
    "register_drift_test",
]
