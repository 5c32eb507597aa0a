"""The model config: one ``dags/models/<model>.yaml`` per monitored model, built from the sections."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from watchkeeper.catalogs.performance import direction_problems
from watchkeeper.config.alerts import AlertSettings
from watchkeeper.config.checks import DriftSettings, PredictionSettings, QualitySettings, ServiceSettings
from watchkeeper.config.common import FeatureKind, TaskLayout, TaskType, _check_zone, _Model
from watchkeeper.config.names import RuleKey, check_rule_subject
from watchkeeper.config.performance import PerformanceSettings, RetrainingSettings, Rule, check_performance
from watchkeeper.config.schedule import check_schedule
from watchkeeper.config.sources import Source

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class PredictionLog(_Model):
    """Where the model's prediction log lives and which columns mean what."""

    source: Source = Field(description="csv, parquet or sql source of the prediction log.")
    timestamp: str = Field(description="Column with the prediction time.")
    timezone: str = Field(
        default="UTC", description="Time zone of timestamps that carry none (naive timestamps are read in it)."
    )
    id: str = Field(description="Column with the prediction id (joins to labels).")
    features: dict[str, FeatureKind] = Field(
        min_length=1, description="Feature columns, each typed 'numerical' or 'categorical'."
    )
    prediction: str = Field(description="Column with the predicted class (classification) or value (regression).")
    score: str | None = Field(
        default=None, description="Column with the score or probability of the positive/predicted class."
    )
    scores: dict[str, str] | None = Field(
        default=None,
        description="Multiclass only: one probability column per class, {class_label: column}, "
        "e.g. {setosa: p_setosa, versicolor: p_versicolor, virginica: p_virginica} (at least two classes).",
    )
    latency: str | None = Field(default=None, description="Optional column with inference latency in milliseconds.")
    status: str | None = Field(default=None, description="Optional column with the request status (ok/error...).")
    error_values: list[str] = Field(
        default_factory=lambda: ["error", "timeout", "failed"],
        description="Values of the status column that count as errors.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("scores", mode="before")
    @classmethod
    def _labels_as_text(cls, value: Any) -> Any:
        # YAML reads class labels such as 0, 1, 2 as numbers; labels are compared as text everywhere.
        if isinstance(value, dict):
            return {
                str(k) if isinstance(k, int | float) and not isinstance(k, bool) else k: v for k, v in value.items()
            }
        return value

    @model_validator(mode="after")
    def _distinct_columns(self) -> PredictionLog:
        special = {k: v for k, v in self.role_columns().items() if v is not None}
        clash = sorted(set(special.values()) & set(self.features))
        if clash:
            raise ValueError(f"column(s) {clash} are both a feature and a role column -- list each column once")
        if self.scores is not None:
            self._check_scores(self.scores, set(special.values()))
        return self

    def _check_scores(self, scores: dict[str, str], roles: set[str]) -> None:
        if len(scores) < 2:
            raise ValueError(
                f"predictions.scores has {len(scores)} class(es) -- list one probability column per class "
                "(at least two), e.g. {a: p_a, b: p_b}"
            )
        columns = list(scores.values())
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(
                f"predictions.scores uses column(s) {repeated} for several classes -- give each class its own column"
            )
        clash = sorted(set(columns) & (set(self.features) | roles))
        if clash:
            raise ValueError(
                f"predictions.scores column(s) {clash} are also a feature or a role column -- list each column once"
            )

    def score_columns(self) -> dict[str, str]:
        """Per-class probability columns ``{class_label: column}`` (empty unless ``scores`` is set)."""
        return dict(self.scores or {})

    def role_columns(self) -> dict[str, str | None]:
        """Non-feature columns by role."""
        return {
            "timestamp": self.timestamp,
            "id": self.id,
            "prediction": self.prediction,
            "score": self.score,
            "latency": self.latency,
            "status": self.status,
        }

    def columns(self) -> list[str]:
        """Every column the monitor reads: role columns, per-class score columns, then features."""
        roles = [c for c in self.role_columns().values() if c is not None]
        return list(dict.fromkeys([*roles, *self.score_columns().values(), *self.features]))


class ReferenceData(_Model):
    """The training/validation data the live traffic is compared with."""

    source: Source = Field(description="csv, parquet or sql source of the reference data.")


class ModelConfig(_Model):
    """One monitored model."""

    name: str = Field(description="Model name: lower case letters, digits and '_'; equals the file name.")
    owner: str = Field(min_length=1, description="Owning team or person (shown in Airflow and alerts).")
    description: str = Field(default="", description="What the model does.")
    schedule: str = Field(default="@daily", description="Airflow schedule of the monitor DAG (preset or cron).")
    start_date: datetime = Field(
        default=datetime(2026, 1, 1, tzinfo=UTC), description="First data interval start (ISO date; naive means UTC)."
    )
    catchup: bool = Field(default=False, description="Whether Airflow backfills missed intervals.")
    paused: bool = Field(
        default=False,
        description="Whether the model's DAGs start paused when Airflow first sees them. Default false: a new "
        "model runs on its schedule without a click (Airflow's own default would leave its runs queued). "
        "Only applies when the DAG is created; afterwards the pause toggle in Airflow decides.",
    )
    layout: TaskLayout = Field(
        default=TaskLayout.FAMILIES,
        description="Tasks of the monitor DAG. 'families' (default): baseline, profile, one mapped check per "
        "family, report, health -- each family visible and retried on its own in Airflow's grid. 'compact': one "
        "'monitor' task runs them all on the same stored profile, then 'health' -- the same results for a "
        "quarter of the task instances; for fleets of hundreds of models with small windows, where Airflow's "
        "per-task cost dominates.",
    )
    task: TaskType = Field(description="binary_classification, multiclass_classification or regression.")
    predictions: PredictionLog = Field(description="The prediction log.")
    reference: ReferenceData = Field(description="The reference (training) data.")
    quality: QualitySettings = Field(default_factory=QualitySettings, description="Data-quality checks.")
    drift: DriftSettings = Field(default_factory=DriftSettings, description="Drift checks.")
    prediction_checks: PredictionSettings = Field(
        default_factory=PredictionSettings, description="Prediction drift and confidence checks."
    )
    service: ServiceSettings = Field(default_factory=ServiceSettings, description="Service-health checks.")
    performance: PerformanceSettings | None = Field(
        default=None, description="Performance on ground-truth labels (omit when labels never arrive)."
    )
    rules: dict[RuleKey, Rule] = Field(
        default_factory=dict,
        description="Baseline rules for monitor metrics, keyed 'check.metric' or 'check.metric[subject]', "
        "e.g. {'service.latency_p95_ms': {relative_rise: 0.5, baseline: rolling}}.",
    )
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Alert routing.")
    retraining: RetrainingSettings = Field(default_factory=RetrainingSettings, description="Retraining target.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(f"{value!r} is not a valid model name -- use lower case letters, digits and '_'")
        return value

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str) -> str:
        return check_schedule(value)

    @field_validator("start_date")
    @classmethod
    def _aware_start(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _cross_checks(self) -> ModelConfig:
        if self.task is TaskType.BINARY_CLASSIFICATION and self.predictions.score is None:
            raise ValueError("predictions.score is required for binary_classification -- name the probability column")
        if self.predictions.scores is not None and self.task is not TaskType.MULTICLASS_CLASSIFICATION:
            raise ValueError(
                f"predictions.scores (per-class probability columns) is only for multiclass_classification, "
                f"not {self.task} -- remove it (binary models name the positive-class probability in predictions.score)"
            )
        if self.performance is not None:
            bad_segments = sorted(set(self.performance.segments) - set(self.predictions.columns()))
            if bad_segments:
                raise ValueError(
                    f"performance.segments names {bad_segments} which are not prediction-log columns -- "
                    "use feature or role column names"
                )
        for key in self.rules:
            check_rule_subject(key, self.predictions.features)
        problems = check_performance(self.task, self.performance)
        for key, rule in self.rules.items():
            metric = key.partition(".")[2].split("[", 1)[0]
            if key.startswith("prediction.estimated_"):  # an estimate degrades the way its metric does
                where = f"rules.{key}"
                problems += direction_problems(metric.removeprefix("estimated_"), rule.relative_forms(), where=where)
        if problems:
            raise ValueError("; ".join(problems))
        unknown = sorted(set(self.drift.features) - set(self.predictions.features))
        if unknown:
            raise ValueError(
                f"drift.features names {unknown} which are not in predictions.features -- fix the spelling"
            )
        return self


class LoadedConfig(BaseModel):
    """A validated config with the file it came from and its raw text (rendered into ``doc_md``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: Path
    text: str
    model: ModelConfig

    @property
    def base_dir(self) -> Path:
        """Folder that relative source paths are resolved against."""
        return self.path.parent


def json_schema() -> dict[str, Any]:
    """JSON Schema of the model config, for editors."""
    return ModelConfig.model_json_schema()
