"""Config schema of alert routing and lifecycle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from watchkeeper.config.common import Duration, Severity, _check_zone, _Model, parse_duration


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
