"""Typed model configs: one ``dags/models/<model>.yaml`` per monitored model.

The schema is a tree of frozen pydantic v2 models with extra keys forbidden; every field carries a
description so that ``watchkeeper schema`` exports a self-documenting JSON Schema for editors. The
package is split by concern -- ``common`` (base model, durations, thresholds), ``sources``, ``checks``,
``alerts``, ``performance``, ``model`` (the whole config), ``schedule`` and ``names`` (names resolved at
load), ``reading`` (size, encoding, bounded YAML), ``messages`` (errors) and ``loading`` (files, folders,
shards) -- and re-exports the public names here. It is imported while Airflow parses DAG files: keep it
free of heavy imports.
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
    FieldError,
    Severity,
    TaskLayout,
    TaskType,
    Threshold,
    expand_env,
    parse_duration,
)
from watchkeeper.config.loading import (
    config_paths,
    duplicate_errors,
    find_config,
    load_config,
    load_configs,
    parse_config,
    shard_of,
)
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
from watchkeeper.config.reading import MAX_CONFIG_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES
from watchkeeper.config.schedule import check_schedule
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
    "FieldError",
    "LabelSettings",
    "MAX_CONFIG_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
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
    "TaskLayout",
    "TaskType",
    "Threshold",
    "VolumeSettings",
    "check_schedule",
    "config_paths",
    "duplicate_errors",
    "expand_env",
    "find_config",
    "json_schema",
    "load_config",
    "load_configs",
    "parse_config",
    "parse_duration",
    "shard_of",
]
