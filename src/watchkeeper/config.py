"""Typed model configs: one ``dags/models/<model>.yaml`` per monitored model.

The schema is a tree of frozen pydantic v2 models with extra keys forbidden; every field carries a
description so that ``watchkeeper schema`` exports a self-documenting JSON Schema for editors.
This module is imported while Airflow parses DAG files: it must stay free of heavy imports.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from watchkeeper.exceptions import ConfigError

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses ~10x faster
_RULE_KEY_RE = re.compile(r"^(quality|drift|prediction|service)\.[A-Za-z0-9_.]+(\[[^\]]*\])?$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_duration(value: Any) -> timedelta:
    """Parse ``30m``, ``2h``, ``3d``, ``1w`` (or a number of seconds) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    match = _DURATION_RE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration -- write a number and a unit, e.g. '30m', '2h', '3d' or '1w'")
    return timedelta(**{_DURATION_UNITS[match.group(2)]: float(match.group(1))})


Duration = Annotated[timedelta, Field(json_schema_extra={"type": "string", "examples": ["2h", "3d"]})]


def expand_env(text: str) -> str:
    """Replace ``${VAR}`` by the environment variable's value (``${WATCHKEEPER_HOME}`` by the state folder)."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "WATCHKEEPER_HOME":
            from watchkeeper.settings import state_dir

            return str(state_dir())
        if name not in os.environ:
            raise ConfigError(f"environment variable {name} is not set -- export it or remove ${{{name}}}")
        return os.environ[name]

    return _ENV_RE.sub(repl, text)


def _check_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} -- use an IANA name such as 'UTC' or 'Europe/Paris'") from exc
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# --------------------------------------------------------------------------- enums


class TaskType(StrEnum):
    """What the model predicts."""

    BINARY_CLASSIFICATION = "binary_classification"
    MULTICLASS_CLASSIFICATION = "multiclass_classification"
    REGRESSION = "regression"


class FeatureKind(StrEnum):
    """How a feature column is compared with the reference."""

    NUMERICAL = "numerical"
    CATEGORICAL = "categorical"


# --------------------------------------------------------------------------- sources


class _FileSource(_Model):
    path: str = Field(description="File path or glob; relative paths are relative to the config file. ${VAR} expands.")

    def resolved_path(self, base: Path) -> str:
        """The path with environment variables expanded, made absolute against ``base``."""
        text = expand_env(self.path)
        return text if Path(text).is_absolute() else str(base / text)


class CsvSource(_FileSource):
    """Rows from one CSV file or a glob of CSV files."""

    kind: Literal["csv"] = "csv"


class ParquetSource(_FileSource):
    """Rows from one Parquet file or a glob of Parquet files."""

    kind: Literal["parquet"] = "parquet"


class SqlSource(_Model):
    """Rows from a SQL query. Window bounds are the bound parameters ``:start`` and ``:end``."""

    kind: Literal["sql"] = "sql"
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Put passwords in an environment variable: "
        "postgresql+psycopg://user:${PGPASSWORD}@host/db",
    )
    conn_id: str | None = Field(default=None, description="Airflow connection id (alternative to url).")
    query: str = Field(description="SELECT statement; for windowed sources filter with :start and :end.")

    @model_validator(mode="after")
    def _one_target(self) -> SqlSource:
        if (self.url is None) == (self.conn_id is None):
            raise ValueError("give exactly one of 'url' or 'conn_id' -- a SQLAlchemy URL or an Airflow connection id")
        if self.url is not None:
            creds = self.url.partition("://")[2].rpartition("@")[0]
            password = creds.partition(":")[2]
            if password and not _ENV_RE.fullmatch(password):
                raise ValueError(
                    "the url contains a literal password -- never commit secrets: write ${SOME_ENV_VAR} "
                    "in its place or use an Airflow connection (conn_id)"
                )
        if re.search(r"\{\s*(start|end)\s*\}|%\(?(start|end)", self.query):
            raise ValueError("the query formats the window into the string -- use the bound parameters :start and :end")
        return self


Source = Annotated[CsvSource | ParquetSource | SqlSource, Field(discriminator="kind")]


# --------------------------------------------------------------------------- thresholds


class Threshold(_Model):
    """Warning and critical bounds on a value that is bad when it is high."""

    warning: float | None = Field(default=None, description="Value at or above which the result is a warning.")
    critical: float | None = Field(default=None, description="Value at or above which the result is critical.")

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.warning is not None and self.critical is not None and self.critical < self.warning:
            raise ValueError(f"critical ({self.critical}) is below warning ({self.warning}) -- swap them")
        return self


# --------------------------------------------------------------------------- sections


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

    @model_validator(mode="after")
    def _distinct_columns(self) -> PredictionLog:
        special = {k: v for k, v in self.role_columns().items() if v is not None}
        clash = sorted(set(special.values()) & set(self.features))
        if clash:
            raise ValueError(f"column(s) {clash} are both a feature and a role column -- list each column once")
        return self

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
        """Every column the monitor reads."""
        roles = [c for c in self.role_columns().values() if c is not None]
        return list(dict.fromkeys([*roles, *self.features]))


class ReferenceData(_Model):
    """The training/validation data the live traffic is compared with."""

    source: Source = Field(description="csv, parquet or sql source of the reference data.")


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


class Severity(StrEnum):
    """Severity of a finding or alert."""

    WARNING = "warning"
    CRITICAL = "critical"


class QuietHours(_Model):
    """A daily period in which only critical alerts are sent (warnings wait for the next run)."""

    start: str = Field(description="Start of the quiet period, HH:MM.", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(
        description="End of the quiet period, HH:MM (may be before start: spans midnight).",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
    )
    timezone: str = Field(default="UTC", description="IANA time zone of start/end.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)


class AlertSettings(_Model):
    """Where findings go, and how often people hear about them."""

    channel: str | None = Field(
        default=None, description="Slack channel of the model, e.g. '#fraud-ml' (default: $WATCHKEEPER_SLACK_CHANNEL)."
    )
    mentions: list[str] = Field(default_factory=list, description="Owners to mention, e.g. ['@risk-oncall'].")
    min_severity: Severity = Field(default=Severity.WARNING, description="Lowest severity that is reported.")
    severity_channels: dict[Severity, str] = Field(
        default_factory=dict, description="Route a severity elsewhere, e.g. {critical: '#ml-oncall'}."
    )
    slack_conn_id: str | None = Field(
        default=None,
        description="Airflow connection with the Slack bot token (default: slack_api_default, "
        "else $WATCHKEEPER_SLACK_TOKEN).",
    )
    webhook_conn_id: str | None = Field(
        default=None, description="Airflow connection with an incoming-webhook URL (alternative to a bot token)."
    )
    cooldown: Duration = Field(
        default=timedelta(hours=24),
        description="An ongoing alert posts a thread reply at most this often (sooner if its severity rises).",
    )
    severe_only: bool = Field(default=False, description="Only alert on critical findings.")
    quiet_hours: QuietHours | None = Field(default=None, description="Hold warnings back during these hours.")

    @field_validator("cooldown", mode="before")
    @classmethod
    def _parse_cooldown(cls, value: Any) -> timedelta:
        return parse_duration(value)


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
    rules: dict[str, Rule] = Field(
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
        presets = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@continuous"}
        if value.startswith("@"):
            if value not in presets:
                raise ValueError(f"unknown preset {value!r} -- use one of {sorted(presets)} or a cron expression")
        elif len(value.split()) not in (5, 6):
            raise ValueError(f"{value!r} is not a cron expression -- e.g. '0 6 * * *' or a preset such as '@daily'")
        return value

    @field_validator("start_date")
    @classmethod
    def _aware_start(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _cross_checks(self) -> ModelConfig:
        if self.task is TaskType.BINARY_CLASSIFICATION and self.predictions.score is None:
            raise ValueError("predictions.score is required for binary_classification -- name the probability column")
        if self.performance is not None:
            bad_segments = sorted(set(self.performance.segments) - set(self.predictions.columns()))
            if bad_segments:
                raise ValueError(
                    f"performance.segments names {bad_segments} which are not prediction-log columns -- "
                    "use feature or role column names"
                )
        for key in self.rules:
            if not _RULE_KEY_RE.match(key):
                raise ValueError(
                    f"rules key {key!r} is not 'check.metric' or 'check.metric[subject]' -- "
                    "e.g. 'service.latency_p95_ms' or 'drift.psi[amount]'"
                )
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


# --------------------------------------------------------------------------- loading and errors


def _all_field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> dict[str, set[str]]:
    """Field names of every model in the schema, keyed by model name (for did-you-mean)."""
    seen = seen if seen is not None else set()
    out: dict[str, set[str]] = {}
    if model in seen:
        return out
    seen.add(model)
    out[model.__name__] = set(model.model_fields)
    for field in model.model_fields.values():
        for sub in _models_in(field.annotation):
            out.update(_all_field_names(sub, seen))
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _fields_at(loc: tuple[Any, ...], data: Any) -> set[str]:
    """Allowed keys of the object at ``loc`` (best effort, walking the schema with the input data)."""
    from typing import get_args, get_origin

    annotation: Any = ModelConfig
    node = data
    for part in loc:
        models = _models_in(annotation)
        if isinstance(node, dict) and "kind" in node and len(models) > 1:
            models = [
                m for m in models if m.model_fields.get("kind") and m.model_fields["kind"].default == node["kind"]
            ]
        if len(models) == 1 and isinstance(part, str) and part in models[0].model_fields:
            annotation = models[0].model_fields[part].annotation
        elif get_origin(annotation) is dict or any(get_origin(a) is dict for a in get_args(annotation)):
            dict_ann = (
                annotation
                if get_origin(annotation) is dict
                else next(a for a in get_args(annotation) if get_origin(a) is dict)
            )
            annotation = get_args(dict_ann)[1]
        else:
            return set()
        node = node.get(part) if isinstance(node, dict) else None
    models = _models_in(annotation)
    if isinstance(node, dict) and "kind" in node and len(models) > 1:
        models = [m for m in models if m.model_fields.get("kind") and m.model_fields["kind"].default == node["kind"]]
    return set(models[0].model_fields) if len(models) == 1 else set()


_FIXES = {
    "missing": "add this required key",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "bool_parsing": "write true or false",
    "string_type": "write a text value (quote it if YAML reads it as something else)",
    "enum": "use one of the values listed",
    "literal_error": "use one of the values listed",
    "union_tag_invalid": "set 'kind' to csv, parquet or sql",
    "union_tag_not_found": "add 'kind: csv', 'kind: parquet' or 'kind: sql'",
    "dict_type": "write a mapping (key: value lines)",
    "list_type": "write a list",
    "too_short": "add at least one entry",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "datetime_from_date_parsing": "write an ISO date such as 2026-01-01",
}


def _format_errors(path: Path, exc: ValidationError, data: Any) -> list[str]:
    problems = []
    everything = set().union(*_all_field_names(ModelConfig).values())
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in {"csv", "parquet", "sql"}))
        where = ".".join(str(p) for p in loc) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _fields_at(loc[:-1], data) or everything
            close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
            fix = f"did you mean '{close[0]}'?" if close else f"remove it (allowed keys: {', '.join(sorted(allowed))})"
            problems.append(f"{path}: {where}: unknown key '{key}' -- {fix}")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(kind, "")
        if " -- " in msg or not fix:
            problems.append(f"{path}: {where}: {msg}" + ("" if " -- " in msg else " -- see `watchkeeper schema`"))
        else:
            problems.append(f"{path}: {where}: {msg} -- {fix}")
    return problems


def parse_config(path: Path, text: str, cache: _YamlCache | None = None) -> LoadedConfig:
    """Validate YAML ``text`` read from ``path``; raise :class:`ConfigError` listing every problem."""
    try:
        data = cache.load(text) if cache is not None else yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 -- a safe loader (C-accelerated when available)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        problem = getattr(exc, "problem", None) or str(exc)
        msg = f"{path}: {where}: invalid YAML: {problem} -- fix the indentation or quoting"
        raise ConfigError(msg) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: (top level): expected a mapping of keys, got {type(data).__name__} -- "
            "start from an example in dags/models/"
        )
    try:
        model = ModelConfig.model_validate(data)
    except ValidationError as exc:
        problems = _format_errors(path, exc, data)
        raise ConfigError("\n".join(problems), problems) from None
    if model.name != path.stem:
        msg = (
            f"{path}: name: model name '{model.name}' differs from the file name '{path.stem}' -- "
            f"rename the file to {model.name}.yaml or set name: {path.stem}"
        )
        raise ConfigError(msg)
    return LoadedConfig(path=path, text=text, model=model)


def _iso(value: Any) -> str:
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class _YamlCache:
    """Parsed YAML keyed by a hash of the text, kept as JSON in the state folder.

    Constructing Python objects from YAML is the slowest step of parsing hundreds of configs; JSON
    loads an order of magnitude faster. Keys are content hashes, so an entry can never be stale.
    """

    def __init__(self) -> None:
        from watchkeeper.settings import state_dir

        self.path = state_dir() / "cache" / "config-yaml.json"
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False
        try:
            self.entries = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}

    def load(self, text: str) -> Any:
        key = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
        self.used.add(key)
        if key in self.entries:
            return self.entries[key]
        data = yaml.load(text, Loader=_YAML_LOADER)
        try:  # dates become ISO strings, which the schema parses back to the same values
            data = json.loads(json.dumps(data, default=_iso))
        except (TypeError, ValueError):  # other non-JSON scalars: parse every time
            return data
        self.entries[key] = data
        self.dirty = True
        return data

    def save(self) -> None:
        if not self.dirty and self.used == set(self.entries):
            return
        keep = {k: v for k, v in self.entries.items() if k in self.used}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(keep), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:  # a read-only state folder only costs speed
            pass


def load_config(path: str | Path, cache: _YamlCache | None = None) -> LoadedConfig:
    """Read and validate one config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: (file): cannot read: {exc.strerror} -- check the path") from exc
    return parse_config(path, text, cache)


def config_paths(folder: Path) -> list[Path]:
    """Config files in ``folder`` (``*.yaml`` and ``*.yml``), sorted."""
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_configs(folder: str | Path) -> tuple[list[LoadedConfig], dict[Path, ConfigError]]:
    """Load every config of ``folder``; bad ones are returned as errors, never raised."""
    good: list[LoadedConfig] = []
    bad: dict[Path, ConfigError] = {}
    cache = _YamlCache()
    for path in config_paths(Path(folder)):
        try:
            good.append(load_config(path, cache))
        except ConfigError as exc:
            bad[path] = exc
    cache.save()
    return good, bad


def find_config(model: str, folder: str | Path) -> LoadedConfig:
    """The config of ``model`` in ``folder``; a clear error lists the known models otherwise."""
    folder = Path(folder)
    for suffix in (".yaml", ".yml"):
        candidate = folder / f"{model}{suffix}"
        if candidate.exists():
            return load_config(candidate)
    known = [p.stem for p in config_paths(folder)]
    close = difflib.get_close_matches(model, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known models: {', '.join(known) or 'none'}"
    raise ConfigError(f"{folder / (model + '.yaml')}: (file): no config for model '{model}' -- {hint}")


def json_schema() -> dict[str, Any]:
    """JSON Schema of the model config, for editors."""
    return ModelConfig.model_json_schema()
