"""Shared pieces of the config schema: the frozen base model, durations, ``${VAR}`` expansion, thresholds,
severities and the enums every section uses. Imported at DAG parse time: keep it light."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from watchkeeper.exceptions import ConfigError

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
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskLayout(StrEnum):
    """How a model's monitor DAG splits its run into Airflow tasks."""

    #: baseline, profile, one mapped ``check`` per family, report, health (8 task instances per run)
    FAMILIES = "families"
    #: one ``monitor`` task does baseline, profile, every family and the report; then health (2 per run)
    COMPACT = "compact"


class TaskType(StrEnum):
    """What the model predicts."""

    BINARY_CLASSIFICATION = "binary_classification"
    MULTICLASS_CLASSIFICATION = "multiclass_classification"
    REGRESSION = "regression"


class FeatureKind(StrEnum):
    """How a feature column is compared with the reference."""

    NUMERICAL = "numerical"
    CATEGORICAL = "categorical"


class Threshold(_Model):
    """Warning and critical bounds on a value that is bad when it is high."""

    warning: float | None = Field(default=None, description="Value at or above which the result is a warning.")
    critical: float | None = Field(default=None, description="Value at or above which the result is critical.")

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.warning is not None and self.critical is not None and self.critical < self.warning:
            raise ValueError(f"critical ({self.critical}) is below warning ({self.warning}) -- swap them")
        return self


class Severity(StrEnum):
    """Severity of a finding or alert."""

    WARNING = "warning"
    CRITICAL = "critical"


class FieldError(ValueError):
    """A cross-field problem that belongs to one field: its message is shown at ``field`` (a dotted path
    relative to the model that raised it) instead of ``(top level)``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
