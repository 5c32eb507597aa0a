"""Config schema of alert routing, sinks and lifecycle.

``alerts.sinks`` is the union of the sinks registered in :mod:`watchkeeper.alerting.sinks` (each sink's
fields live with its class). The registry is imported when a config lists ``sinks`` (or the JSON Schema is
made), not when this module is: parsing a DAG file whose models use the default sink does not pay for it.
"""

from __future__ import annotations

import difflib
import re
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import (
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from watchkeeper.config.common import Duration, Severity, _check_zone, _Model, parse_duration

if TYPE_CHECKING:
    from watchkeeper.alerting.sinks import SinkConfig


def _sink_kinds() -> list[str]:
    from watchkeeper.alerting.sinks import kinds

    return kinds()


@cache
def _sink_adapter() -> TypeAdapter[Any]:
    """The registered sink configs, told apart by ``kind`` (built on first use: it imports every sink)."""
    spec: Any = Annotated[Union[_LazySinkSpec.config_models()], Field(discriminator="kind")]  # noqa: UP007
    return TypeAdapter(spec)


class _LazySinkSpec:
    """Pydantic type of one ``alerts.sinks`` entry: validated, and documented in the JSON Schema, by
    :func:`_sink_adapter` when first needed."""

    @staticmethod
    def config_models() -> tuple[type[SinkConfig], ...]:
        """The registered sink configs (for error messages that name a sink's fields)."""
        from watchkeeper.alerting.sinks import config_models

        return config_models()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(lambda value: _sink_adapter().validate_python(value))

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(_sink_adapter().core_schema)


if TYPE_CHECKING:
    SinkSpec = SinkConfig
else:
    #: One entry of ``alerts.sinks``: the registered sink configs, told apart by ``kind``.
    SinkSpec = _LazySinkSpec


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


_IMPORT_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"
_SECRET_ARG = re.compile(r"pass(word|wd)|token|secret|api_?key|private_key|credential|webhook_url", re.I)


class NotifierSpec(_Model):
    """Any Airflow notifier (a ``BaseNotifier`` subclass), called when a Watchkeeper task of the model fails."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    class_: str = Field(
        alias="class",
        pattern=_IMPORT_PATH,
        description="Import path of the notifier class, e.g. airflow.providers.slack.notifications.slack.SlackNotifier "
        "(imported when a task fails, never while Airflow parses DAGs; `watchkeeper validate` imports it).",
    )
    kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="Its arguments; its template fields render with the failed task's context (e.g. "
        "'{{ dag.dag_id }}', '{{ ti.task_id }}', '{{ exception }}'). Credentials through connection ids only.",
    )

    @field_validator("kwargs")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if _SECRET_ARG.search(str(key)) and not str(key).endswith(("conn_id", "_env")):
                raise ValueError(
                    f"kwargs.{key} looks like a secret -- never write one in the YAML: give the notifier an Airflow "
                    "connection id instead (e.g. slack_conn_id)"
                )
        return value


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
    sinks: list[SinkSpec] | None = Field(
        default=None,
        description="Where alerts go, each with its own severity floor, e.g. [{kind: slack, channel: '#fraud-ml'}, "
        "{kind: pagerduty, min_severity: critical, conn_id: pagerduty_fraud}, {kind: email, to: [ml@example.com]}]. "
        "Kinds: the sink configs below. Credentials only from Airflow connections or environment variables. "
        "Default: Slack (slack_conn_id / $WATCHKEEPER_SLACK_TOKEN / webhook) or the log, as chosen by the environment.",
    )

    on_failure_notifiers: list[NotifierSpec] = Field(
        default_factory=list,
        description="Airflow notifiers called when a Watchkeeper task of the model fails, after Watchkeeper's own "
        "'monitoring failed' notification, e.g. [{class: airflow.providers.slack.notifications.slack.SlackNotifier, "
        "kwargs: {slack_conn_id: slack_api_default, channel: '#ml-oncall', text: 'Failed: {{ ti.task_id }}'}}].",
    )

    @field_validator("cooldown", mode="before")
    @classmethod
    def _parse_cooldown(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("sinks", mode="before")
    @classmethod
    def _known_kinds(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        known = _sink_kinds()
        for index, entry in enumerate(value):
            if not isinstance(entry, dict):
                raise ValueError(f"sinks[{index}] must be a mapping with a kind, e.g. {{kind: slack, channel: '#ml'}}")
            kind = entry.get("kind")
            if kind not in known:
                close = difflib.get_close_matches(str(kind), known, n=1)
                fix = f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(known)}"
                what = "has no kind" if kind is None else f"kind {kind!r} is not a sink"
                raise ValueError(f"sinks[{index}]: {what} -- {fix}")
        return value

    @model_validator(mode="after")
    def _sinks_are_distinct(self) -> AlertSettings:
        if self.sinks is None:
            return self
        if not self.sinks:
            raise ValueError("sinks is empty -- list at least one sink, or remove sinks to use the default (Slack)")
        seen: dict[str, int] = {}
        for index, sink in enumerate(self.sinks):
            key = sink.key
            if key in seen:
                raise ValueError(
                    f"sinks[{index}] and sinks[{seen[key]}] are both {key!r} -- give one of them a distinct name"
                )
            seen[key] = index
        legacy = [f for f in ("slack_conn_id", "webhook_conn_id") if getattr(self, f)]
        if legacy:
            raise ValueError(
                f"{legacy[0]} applies to the default sink only, and sinks is set -- move it into the sink "
                "(e.g. {kind: slack, conn_id: ...} or {kind: slack_webhook, conn_id: ...})"
            )
        return self
