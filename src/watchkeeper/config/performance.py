"""Config schema of labels, performance, baseline rules and retraining."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator

from watchkeeper.config.common import Duration, Severity, _Model, parse_duration
from watchkeeper.config.sources import Source


class BaselineKind(StrEnum):
    """What a metric is compared with."""

    REFERENCE = "reference"
    ROLLING = "rolling"
    SEASONAL = "seasonal"


class Bound(_Model):
    """A warning and a critical level of one rule."""

    warning: float | None = Field(default=None, description="Level at which the result is a warning.")
    critical: float | None = Field(default=None, description="Level at which the result is critical.")


class AbsoluteBounds(_Model):
    """Absolute limits of a metric."""

    min: float | None = Field(default=None, description="Values below this are findings.")
    max: float | None = Field(default=None, description="Values above this are findings.")
    severity: Severity = Field(default=Severity.WARNING, description="Severity of crossing a limit.")


def _as_bound(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"warning": float(value)}
    return value


class Rule(_Model):
    """How one metric is judged: relative to a baseline, and/or against absolute bounds.

    ``{relative_drop: 0.10}`` alerts (warning) when the metric is 10 % below its baseline;
    ``{relative_drop: {warning: 0.05, critical: 0.15}}`` sets both severities.
    """

    relative_drop: Bound | None = Field(default=None, description="Fraction below the baseline that is a finding.")
    relative_rise: Bound | None = Field(default=None, description="Fraction above the baseline that is a finding.")
    absolute: AbsoluteBounds | None = Field(default=None, description="Absolute limits.")
    baseline: BaselineKind = Field(default=BaselineKind.REFERENCE, description="reference, rolling or seasonal.")
    window: int = Field(default=7, ge=1, le=365, description="Rolling baseline: the last N windows.")
    season: Literal["week", "year"] = Field(default="week", description="Seasonal baseline: a week or a year back.")
    persist: int | None = Field(
        default=None, ge=1, description="Consecutive degraded windows before retraining (default: retraining's)."
    )

    @field_validator("relative_drop", "relative_rise", mode="before")
    @classmethod
    def _number_is_warning(cls, value: Any) -> Any:
        return _as_bound(value)


class LabelSettings(_Model):
    """Where ground-truth labels arrive, and when they are expected."""

    source: Source = Field(description="csv, parquet or sql source of labels (sql may use :start and :end).")
    id: str = Field(description="Column joining to predictions.id.")
    label: str = Field(description="Column with the true label (class or value).")
    delay: Duration = Field(default=timedelta(days=3), description="Expected label delay, e.g. '3d'.")
    min_coverage: float = Field(
        default=0.8, gt=0, le=1, description="Share of a window's predictions that need a label before it is scored."
    )

    @field_validator("delay", mode="before")
    @classmethod
    def _parse_delay(cls, value: Any) -> timedelta:
        return parse_duration(value)


class PerformanceSettings(_Model):
    """Performance once labels arrive: metrics, intervals, segments, rules."""

    labels: LabelSettings = Field(description="The labels source.")
    min_samples: int = Field(default=200, ge=1, description="Windows with fewer labelled rows are not judged.")
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1, description="Confidence level of the intervals.")
    segments: list[str] = Field(default_factory=list, description="Columns to break performance down by.")
    segment_metric: str | None = Field(
        default=None, description="Metric compared across segments (default: recall, macro_f1 or mae by task)."
    )
    segment_alpha: float = Field(default=0.05, gt=0, lt=1, description="Family-wise error rate across segments.")
    rules: dict[str, Rule] = Field(
        default_factory=dict, description="Rules per performance metric, e.g. {accuracy: {relative_drop: 0.10}}."
    )
    change_detection: bool = Field(default=True, description="Flag slow declines with a Page-Hinkley detector.")


class RetrainingSettings(_Model):
    """Which DAG retrains the model, and when."""

    dag_id: str | None = Field(default=None, description="Airflow DAG id of the retraining pipeline.")
    after_windows: int = Field(
        default=3, ge=1, description="Trigger when a rule is degraded this many consecutive windows."
    )
    cooldown: Duration = Field(default=timedelta(days=7), description="Minimum time between two triggers.")
    severity: Severity = Field(default=Severity.CRITICAL, description="Lowest severity that counts as degraded.")

    @field_validator("cooldown", mode="before")
    @classmethod
    def _parse_cooldown(cls, value: Any) -> timedelta:
        return parse_duration(value)
