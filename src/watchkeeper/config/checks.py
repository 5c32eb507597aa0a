"""Config schema of the monitor's check families: quality, drift, prediction and service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from watchkeeper.config.common import Duration, Threshold, _Model, parse_duration


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

    @field_validator("freshness_max_lag", mode="before")
    @classmethod
    def _parse_lag(cls, value: Any) -> timedelta:
        return parse_duration(value)


class FeatureDriftOverride(_Model):
    """Per-feature drift settings."""

    method: str | None = Field(default=None, description="Drift test for this feature (see docs/drift.md).")
    threshold: Threshold | None = Field(default=None, description="Thresholds for this feature's statistic.")
    enabled: bool = Field(default=True, description="Set false to skip drift on this feature.")


class DriftSettings(_Model):
    """Feature and prediction drift settings."""

    numerical_method: str = Field(default="auto", description="Drift test for numerical features, or 'auto'.")
    categorical_method: str = Field(default="auto", description="Drift test for categorical features, or 'auto'.")
    thresholds: dict[str, Threshold] = Field(
        default_factory=dict, description="Thresholds per drift test name, e.g. {psi: {warning: 0.1, critical: 0.25}}."
    )
    features: dict[str, FeatureDriftOverride] = Field(default_factory=dict, description="Per-feature overrides.")


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
