"""Config schema of labels, performance, baseline rules and retraining."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from watchkeeper.catalogs import performance as catalog
from watchkeeper.catalogs.monitor import suggest
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
    ``{relative_drop: {warning: 0.05, critical: 0.15}}`` sets both severities. ``relative_worsening`` means
    ``relative_drop`` for a metric where higher is better (recall) and ``relative_rise`` for one where lower
    is better (mae): the same rule reads right on any metric with a direction.
    """

    relative_drop: Bound | None = Field(default=None, description="Fraction below the baseline that is a finding.")
    relative_rise: Bound | None = Field(default=None, description="Fraction above the baseline that is a finding.")
    relative_worsening: Bound | None = Field(
        default=None,
        description="Fraction worse than the baseline that is a finding, in the metric's own direction "
        "(a drop for recall, a rise for mae).",
    )
    absolute: AbsoluteBounds | None = Field(default=None, description="Absolute limits.")
    baseline: BaselineKind = Field(default=BaselineKind.REFERENCE, description="reference, rolling or seasonal.")
    window: int = Field(default=7, ge=1, le=365, description="Rolling baseline: the last N windows.")
    season: Literal["week", "year"] = Field(default="week", description="Seasonal baseline: a week or a year back.")
    persist: int | None = Field(
        default=None, ge=1, description="Consecutive degraded windows before retraining (default: retraining's)."
    )

    @field_validator("relative_drop", "relative_rise", "relative_worsening", mode="before")
    @classmethod
    def _number_is_warning(cls, value: Any) -> Any:
        return _as_bound(value)

    def relative_forms(self) -> set[str]:
        """The relative forms this rule sets (``relative_drop``, ``relative_rise``, ``relative_worsening``)."""
        return {form for form in catalog.RELATIVE_FORMS if getattr(self, form) is not None}


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


class TrendSettings(_Model):
    """Change detection on a metric's window history: flags a slow decline before any single window crosses a rule.

    Each value is standardised (in units of the window-to-window noise) before the detector reads it. From the
    **reference**: the reference is split into chunks the size of a window (by its timestamps when it has them,
    else by count), the metric's mean and standard deviation over those chunks are stored with the baseline,
    and the noise is scaled to each window's sample size -- so a monthly model is judged from its first windows.
    From the **history**: the mean and standard deviation of the first ``warmup`` windows.
    """

    enabled: bool = Field(default=True, description="Whether to watch the metrics' history at all.")
    method: str = Field(default="page_hinkley", description="Change detector: page_hinkley or cusum.")
    metrics: list[str] | None = Field(
        default=None,
        description="Metrics to watch (default by task: recall, precision, roc_auc, accuracy; accuracy, macro_f1; "
        "mae, rmse).",
    )
    standardise_from: Literal["auto", "reference", "history"] = Field(
        default="auto",
        description="Where the level and noise come from: 'reference' chunks, the first windows of the 'history', "
        "or 'auto' (the reference when it has enough labelled chunks, else the history).",
    )
    warmup: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="Windows before the first alarm (and, from the history, the windows that set level and noise). "
        "Default: 0 from the reference, 20 from the history (at least 2).",
    )
    min_chunks: int = Field(
        default=8, ge=3, le=1000, description="Reference chunks needed to standardise from the reference."
    )
    threshold: float | None = Field(
        default=None, gt=0, description="Alarm threshold of the detector in noise units (default 12 / 8)."
    )
    params: dict[str, float] = Field(
        default_factory=dict, description="Other detector parameters: delta (page_hinkley) or k (cusum)."
    )

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in catalog.DETECTORS:
            raise ValueError(f"unknown trend method {value!r} -- {suggest(value, catalog.DETECTORS)}")
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str] | None) -> list[str] | None:
        problems = [p for name in value or [] for p in catalog.key_problems(name, task=None, where="trend.metrics")]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TrendSettings:
        allowed = {"page_hinkley": {"delta"}, "cusum": {"k"}}[self.method]
        unknown = sorted(set(self.params) - allowed)
        if unknown:
            raise ValueError(
                f"trend.params {unknown} are not parameters of {self.method} -- it takes {', '.join(sorted(allowed))} "
                "(and trend.threshold)"
            )
        if self.standardise_from == "history" and self.warmup is not None and self.warmup < 2:
            raise ValueError(
                f"trend.warmup {self.warmup} cannot estimate the noise from the history -- use at least 2 windows, "
                "or standardise_from: reference"
            )
        return self


class PerformanceSettings(_Model):
    """Performance once labels arrive: metrics, intervals, segments, rules, trends."""

    labels: LabelSettings = Field(description="The labels source.")
    min_samples: int = Field(default=200, ge=1, description="Windows with fewer labelled rows are not judged.")
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1, description="Confidence level of the intervals.")
    segments: list[str] = Field(default_factory=list, description="Columns to break performance down by.")
    segment_metric: str | None = Field(
        default=None, description="Metric compared across segments (default: recall, macro_f1 or mae by task)."
    )
    segment_alpha: float = Field(default=0.05, gt=0, lt=1, description="Family-wise error rate across segments.")
    rules: dict[str, Rule] = Field(
        default_factory=dict,
        description="Rules per performance metric, e.g. {accuracy: {relative_drop: 0.10}, mae: {relative_rise: 0.2}} "
        "(relative_worsening reads right on either).",
    )
    change_detection: bool = Field(
        default=True, description="Flag slow declines with a change detector (false is trend.enabled: false)."
    )
    trend: TrendSettings = Field(default_factory=TrendSettings, description="How slow declines are detected.")

    @field_validator("segment_metric")
    @classmethod
    def _known_segment_metric(cls, value: str | None) -> str | None:
        if value is None:
            return value
        problems = catalog.key_problems(value, task=None, where="segment_metric")
        if not problems and catalog.higher_is_better(value) is None:
            problems = [f"segment_metric: {value} has no better direction, so no segment can be worse -- use another"]
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _rules_resolve(self) -> PerformanceSettings:
        problems = check_rules(None, self.rules)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def trend_enabled(self) -> bool:
        """Whether change detection runs (both switches on)."""
        return self.change_detection and self.trend.enabled


def check_rules(task: Any | None, rules: dict[str, Rule]) -> list[str]:
    """Problems of performance ``rules`` for ``task`` (a TaskType or its value; None: any task).

    A key must name a performance metric of the task (``performance.rules.recal`` -> "did you mean 'recall'?"),
    and a relative rule must watch the way the metric degrades (``relative_drop`` on mae -> "for mae use
    relative_rise"). Empty when all is well. ``PerformanceSettings`` runs it without the task when it loads;
    ``ModelConfig`` runs it with the task (through :func:`check_performance`).
    """
    problems: list[str] = []
    for key, rule in rules.items():
        where = f"performance.rules.{key}"
        found = catalog.key_problems(key, task=task, where=where)
        if found:
            problems += found
            continue
        problems += catalog.direction_problems(catalog.rule_metric(key), rule.relative_forms(), where=where)
    return problems


def check_performance(task: Any, performance: PerformanceSettings | None) -> list[str]:
    """Every problem of the ``performance`` section that needs the model's task: rule keys, trend metrics and
    the segment metric must be metrics of ``task``. Call it from the model validator; empty when all is well."""
    if performance is None:
        return []
    problems = check_rules(task, performance.rules)
    for name in performance.trend.metrics or []:
        problems += catalog.key_problems(name, task=task, where="performance.trend.metrics")
    if performance.segment_metric is not None:
        problems += catalog.key_problems(performance.segment_metric, task=task, where="performance.segment_metric")
    return problems


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
