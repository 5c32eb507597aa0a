"""Typed model configs: one ``dags/models/<model>.yaml`` per monitored model.

The schema is a tree of frozen pydantic v2 models with extra keys forbidden; every field carries a
description so that ``watchkeeper schema`` exports a self-documenting JSON Schema for editors. The
package is split by concern -- ``common`` (base model, durations, thresholds), ``sources``, ``checks``,
``alerts``, ``performance``, ``model`` (the whole config) and ``loading`` (files, YAML, errors) -- and
re-exports the public names here. It is imported while Airflow parses DAG files: keep it free of heavy imports.
"""

from watchkeeper.config.alerts import AlertSettings, QuietHours
from watchkeeper.config.checks import (
    DriftSettings,
    FeatureDriftOverride,
    PredictionSettings,
    QualitySettings,
    ServiceSettings,
    VolumeSettings,
)
from watchkeeper.config.common import (
    Duration,
    FeatureKind,
    Severity,
    TaskType,
    Threshold,
    expand_env,
    parse_duration,
)
from watchkeeper.config.loading import config_paths, find_config, load_config, load_configs, parse_config
from watchkeeper.config.model import LoadedConfig, ModelConfig, PredictionLog, ReferenceData, json_schema
from watchkeeper.config.performance import (
    AbsoluteBounds,
    BaselineKind,
    Bound,
    LabelSettings,
    PerformanceSettings,
    RetrainingSettings,
    Rule,
)
from watchkeeper.config.sources import CsvSource, ParquetSource, Source, SqlSource

__all__ = [
    "AbsoluteBounds",
    "AlertSettings",
    "BaselineKind",
    "Bound",
    "CsvSource",
    "DriftSettings",
    "Duration",
    "FeatureDriftOverride",
    "FeatureKind",
    "LabelSettings",
    "LoadedConfig",
    "ModelConfig",
    "ParquetSource",
    "PerformanceSettings",
    "PredictionLog",
    "PredictionSettings",
    "QualitySettings",
    "QuietHours",
    "ReferenceData",
    "RetrainingSettings",
    "Rule",
    "ServiceSettings",
    "Severity",
    "Source",
    "SqlSource",
    "TaskType",
    "Threshold",
    "VolumeSettings",
    "config_paths",
    "expand_env",
    "find_config",
    "json_schema",
    "load_config",
    "load_configs",
    "parse_config",
    "parse_duration",
]
