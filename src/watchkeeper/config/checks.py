"""Config schema of the monitor's check families: quality, drift, prediction and service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from watchkeeper.catalogs.monitor import DRIFT_TEST_KINDS, DRIFT_TESTS, suggest
from watchkeeper.config.common import Duration, Threshold, _Model, parse_duration

#: Drift is not judged on fewer usable values than this (default of ``drift.min_sample``).
DEFAULT_MIN_SAMPLE = 100


def _drift_test_name(value: str, kind: str | None = None, *, allow_auto: bool = True) -> str:
    """``value`` if it names a drift test (applying to ``kind``), else a ValueError with did-you-mean."""
    names = (("auto",) if allow_auto else ()) + DRIFT_TESTS
    if value not in names:
        raise ValueError(f"unknown drift test {value!r} -- {suggest(value, names)}")
    if kind is not None and value != "auto" and kind not in DRIFT_TEST_KINDS[value]:
        usable = tuple(n for n in DRIFT_TESTS if kind in DRIFT_TEST_KINDS[n])
        raise ValueError(
            f"drift test {value!r} does not apply to {kind} features -- use auto or one of: {', '.join(usable)}"
        )
    return value


class VolumeSettings(_Model):
    """Row count of a window against the baseline's expected rows for the window length."""

    expected_rows_per_day: float | None = Field(
        default=None, gt=0, description="Expected rows per day; default: derived from the reference timestamps."
    )
    min_ratio: float = Field(default=0.5, ge=0, description="Warn when rows < min_ratio x expected.")
    max_ratio: float = Field(default=2.0, gt=0, description="Warn when rows > max_ratio x expected.")


class QualitySettings(_Model):
    """Data-quality checks: a Great Expectations suite plus generated checks."""

    suite: str | None = Field(default=None, description="Name of the GX suite file expectations/<suite>.json.")
    freshness_max_lag: Duration = Field(
        default=timedelta(hours=2),
        description="Warn when the newest row is older than this before the window end (e.g. '2h').",
    )
    volume: VolumeSettings = Field(default_factory=VolumeSettings, description="Row-count check.")
    missing_share: Threshold = Field(
        default_factory=lambda: Threshold(warning=0.05, critical=0.20),
        description="Levels of a feature's missing share, as margins above the reference's own null share. "
        "A finding also needs more nulls than the reference's share explains at the window's size.",
    )
    out_of_range_share: Threshold = Field(
        default_factory=lambda: Threshold(warning=0.01, critical=0.05),
        description="Levels of the share of a numerical feature's values outside the reference [min, max]. A finding "
        "also needs more than a reference of that size explains (a new value falls outside the range of n "
        "reference values with probability 2/(n+1)).",
    )
    unseen_category_share: Threshold = Field(
        default_factory=lambda: Threshold(warning=0.0, critical=0.05),
        description="Levels of the share of a categorical feature's values in categories the reference never saw "
        "(warning 0: any, beyond what the reference's own rare categories explain).",
    )
    nonfinite_count: Threshold = Field(
        default_factory=lambda: Threshold(warning=1),
        description="Levels of the number of +/-inf values of a numerical feature (beyond the reference's own rate).",
    )
    duplicate_id_share: Threshold = Field(
        default_factory=lambda: Threshold(warning=0.0, critical=0.05),
        description="Levels of the share of rows whose prediction id already appeared in the window "
        "(warning 0: any duplicate).",
    )
    invalid_probability_share: Threshold = Field(
        default_factory=lambda: Threshold(warning=0.0, critical=0.01),
        description="Multiclass `predictions.scores` only: levels of the share of rows whose class probabilities "
        "lie outside [0, 1] or do not sum to 1 within probability_tolerance (warning 0: any such row).",
    )
    probability_tolerance: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="Multiclass only: a row's class probabilities may sum to 1 +/- this (rounding in the log).",
    )

    @field_validator("freshness_max_lag", mode="before")
    @classmethod
    def _parse_lag(cls, value: Any) -> timedelta:
        return parse_duration(value)


class FeatureDriftOverride(_Model):
    """Per-feature drift settings."""

    method: str | None = Field(default=None, description="Drift test for this feature, or 'auto' (see docs/drift.md).")
    threshold: Threshold | None = Field(default=None, description="Thresholds for this feature's statistic.")
    enabled: bool = Field(default=True, description="Set false to skip drift on this feature.")

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str | None) -> str | None:
        return None if value is None else _drift_test_name(value)


class MultivariateSettings(_Model):
    """The joint-distribution drift detector (PCA reconstruction error with a band learned on the reference)."""

    enabled: bool = Field(
        default=False,
        description="Fit a PCA on the reference's features and judge each window's mean reconstruction error "
        "against the band of the reference's own chunks (drift metric 'multivariate_pca'). It catches a change in "
        "the correlation between features that per-feature tests miss. Off by default: turning it on adds one "
        "drift result, and the next run rebuilds the stored baseline to fit the detector.",
    )
    variance: float = Field(default=0.65, gt=0, lt=1, description="Share of the variance the PCA keeps.")
    k: float = Field(
        default=3.0, gt=0, description="Band width in standard deviations of the reference chunks' mean errors."
    )


class LearnedThresholdSettings(_Model):
    """Bands learned from the reference's own window-sized chunks (``drift.threshold_mode: learned``)."""

    k: float = Field(default=3.0, gt=0, description="Band width: mean + k standard deviations of the chunk statistics.")
    min_chunks: int = Field(
        default=8,
        ge=2,
        description="Fewer reference chunks than this and no band is learned: the fixed threshold applies (said so "
        "in the result).",
    )
    floor_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Floor of the band as a share of the fixed warning level (0.1: PSI 0.01): however narrow the "
        "band, a smaller statistic is never a finding, so huge samples do not alert on trivia.",
    )


class DriftSettings(_Model):
    """Feature and prediction drift settings."""

    numerical_method: str = Field(default="auto", description="Drift test for numerical features, or 'auto'.")
    categorical_method: str = Field(default="auto", description="Drift test for categorical features, or 'auto'.")
    thresholds: dict[str, Threshold] = Field(
        default_factory=dict, description="Thresholds per drift test name, e.g. {psi: {warning: 0.1, critical: 0.25}}."
    )
    features: dict[str, FeatureDriftOverride] = Field(default_factory=dict, description="Per-feature overrides.")
    min_sample: int = Field(
        default=DEFAULT_MIN_SAMPLE,
        ge=1,
        description="Fewer usable values than this in a window (per feature, and for the score): drift is not "
        "judged (skipped, with the reason). A handful of values cannot tell drift from noise.",
    )
    multivariate: MultivariateSettings = Field(
        default_factory=MultivariateSettings, description="Joint-distribution drift detector (opt-in)."
    )
    threshold_mode: Literal["fixed", "learned"] = Field(
        default="fixed",
        description="'fixed': a feature drifts when its statistic reaches the fixed warning level. 'learned': when it "
        "leaves the band of the statistic over the reference's own window-sized chunks (see docs/drift.md); the "
        "next run rebuilds the stored baseline to learn the bands.",
    )
    learned: LearnedThresholdSettings = Field(
        default_factory=LearnedThresholdSettings, description="Settings of the learned bands."
    )

    @field_validator("numerical_method")
    @classmethod
    def _numerical_method(cls, value: str) -> str:
        return _drift_test_name(value, "numerical")

    @field_validator("categorical_method")
    @classmethod
    def _categorical_method(cls, value: str) -> str:
        return _drift_test_name(value, "categorical")

    @field_validator("thresholds")
    @classmethod
    def _threshold_keys(cls, value: dict[str, Threshold]) -> dict[str, Threshold]:
        for key in value:
            if key not in DRIFT_TESTS:
                raise ValueError(f"thresholds for unknown drift test {key!r} -- {suggest(key, DRIFT_TESTS)}")
        return value


class PredictionSettings(_Model):
    """Prediction drift and confidence checks."""

    positive_class: str = Field(default="1", description="Label of the positive class (binary classification).")
    low_confidence: float = Field(
        default=0.6, gt=0, le=1, description="A prediction whose confidence is below this counts as low-confidence."
    )
    low_confidence_share: Threshold = Field(
        default_factory=lambda: Threshold(warning=0.2, critical=0.4),
        description="Thresholds on the share of low-confidence predictions.",
    )
    class_rate_change: Threshold = Field(
        default_factory=lambda: Threshold(warning=0.5, critical=1.0),
        description="Relative change of a predicted-class rate vs the reference (0.5 = +/-50%).",
    )


class ServiceSettings(_Model):
    """Service-health thresholds (applied when the log has latency/status columns)."""

    latency_p50_ms: Threshold | None = Field(default=None, description="Thresholds on median latency (ms).")
    latency_p95_ms: Threshold | None = Field(
        default_factory=lambda: Threshold(warning=250, critical=1000), description="Thresholds on p95 latency (ms)."
    )
    latency_p99_ms: Threshold | None = Field(default=None, description="Thresholds on p99 latency (ms).")
    error_rate: Threshold = Field(
        default_factory=lambda: Threshold(warning=0.01, critical=0.05), description="Thresholds on the error share."
    )
