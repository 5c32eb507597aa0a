"""Routing (severity channels, defaults, quiet hours, filters) and sink selection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from watchkeeper.alerting.routing import in_quiet_hours, is_alertable, route, severity_of
from watchkeeper.alerting.sinks import sink_class
from watchkeeper.alerting.sinks.default import resolve_default_sink as resolve_sink
from watchkeeper.alerting.sinks.log import LogSink
from watchkeeper.alerting.sinks.slack import SlackBotSink, SlackWebhookSink
from watchkeeper.config import AlertSettings, LoadedConfig, QuietHours, Severity
from watchkeeper.exceptions import AlertDeliveryError, UnknownNameError
from watchkeeper.results import Status


def test_severity_routing_model_channel_and_global_default(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = AlertSettings(channel="#fraud-ml", severity_channels={Severity.CRITICAL: "#ml-oncall"})
    assert route(settings, "critical") == "#ml-oncall"
    assert route(settings, Severity.WARNING) == "#fraud-ml"
    assert route(AlertSettings(), "warning") is None
    monkeypatch.setenv("WATCHKEEPER_SLACK_CHANNEL", "#ml-alerts")
    assert route(AlertSettings(), "critical") == "#ml-alerts"
    assert route(settings, "warning") == "#fraud-ml"  # the model's own channel wins over the default


def test_alert_filter_min_severity_and_severe_only() -> None:
    default = AlertSettings()
    assert [is_alertable(s, default) for s in Status] == [False, False, True, True, True]
    for settings in (AlertSettings(severe_only=True), AlertSettings(min_severity=Severity.CRITICAL)):
        assert [is_alertable(s, settings) for s in Status] == [False, False, False, True, True]
    assert severity_of(Status.ERROR) is Severity.CRITICAL  # a crashed check is never "just a warning"


@pytest.mark.parametrize(
    ("start", "end", "hour", "quiet"),
    [
        ("22:00", "07:00", 23, True),
        ("22:00", "07:00", 3, True),
        ("22:00", "07:00", 7, False),
        ("22:00", "07:00", 12, False),
        ("09:00", "17:00", 12, True),
        ("09:00", "17:00", 17, False),
    ],
)
def test_quiet_hours(start: str, end: str, hour: int, quiet: bool) -> None:
    settings = AlertSettings(quiet_hours=QuietHours(start=start, end=end, timezone="Europe/Paris"))
    paris_hour_in_utc = datetime(2026, 1, 15, (hour - 1) % 24, 30, tzinfo=UTC)  # Paris is UTC+1 in winter
    assert in_quiet_hours(settings, paris_hour_in_utc) is quiet
    assert in_quiet_hours(AlertSettings(), paris_hour_in_utc) is False


def test_quiet_hours_with_an_unknown_zone_fall_back_to_utc(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):  # the config rejects it...
        QuietHours(start="22:00", end="07:00", timezone="Mars/Olympus")
    # ...and routing stays safe if an unvalidated value reaches it anyway
    quiet = QuietHours.model_construct(start="22:00", end="07:00", timezone="Mars/Olympus")
    settings = AlertSettings(quiet_hours=quiet)
    assert in_quiet_hours(settings, datetime(2026, 1, 15, 23, 0, tzinfo=UTC)) is True
    assert "quiet_hours.timezone 'Mars/Olympus' is not an IANA time zone" in caplog.text


def test_sink_registry_lists_names_on_a_typo() -> None:
    assert sink_class("slack") is SlackBotSink
    message = (
        r"No alert sink named 'slak'\. Available sinks: email, log, pagerduty, slack, slack_webhook, teams, webhook "
        r"-- did you mean 'slack'\?"
    )
    with pytest.raises(UnknownNameError, match=message):
        sink_class("slak")


def test_sink_resolution_order(monkeypatch: pytest.MonkeyPatch, config_factory: Callable[..., LoadedConfig]) -> None:
    settings = config_factory(channel="#x").model.alerts
    assert isinstance(resolve_sink(settings, "fraud"), LogSink)  # nothing configured: the demo's path

    monkeypatch.setenv("WATCHKEEPER_SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/secret")
    assert isinstance(resolve_sink(settings, "fraud"), SlackWebhookSink)

    monkeypatch.setenv("WATCHKEEPER_SLACK_TOKEN", "xoxb-env-token")
    monkeypatch.setenv("WATCHKEEPER_SLACK_API_URL", "http://127.0.0.1:9/api")
    bot = resolve_sink(settings, "fraud")
    assert isinstance(bot, SlackBotSink)  # a bot token (threads) wins over a webhook
    assert bot.base_url == "http://127.0.0.1:9/api/" and bot.source == "$WATCHKEEPER_SLACK_TOKEN"
    assert "xoxb-env-token" not in repr(bot)

    monkeypatch.setenv("WATCHKEEPER_ALERT_SINK", "log")
    assert isinstance(resolve_sink(settings, "fraud"), LogSink)
    monkeypatch.setenv("WATCHKEEPER_ALERT_SINK", "webhook")  # the old name of the Slack webhook still works
    assert isinstance(resolve_sink(settings, "fraud"), SlackWebhookSink)
    monkeypatch.setenv("WATCHKEEPER_ALERT_SINK", "pager")
    with pytest.raises(UnknownNameError, match="Available sinks: email, log, pagerduty"):
        resolve_sink(settings, "fraud")
    monkeypatch.setenv("WATCHKEEPER_ALERT_SINK", "pagerduty")  # needs alerts.sinks: the YAML says where
    with pytest.raises(AlertDeliveryError, match="use alerts.sinks in the model's YAML for pagerduty"):
        resolve_sink(settings, "fraud")


def test_a_connection_named_in_the_yaml_must_exist(config_factory: Callable[..., LoadedConfig]) -> None:
    settings = config_factory(channel="#x", slack_conn_id="slack_fraud").model.alerts
    with pytest.raises(AlertDeliveryError, match=r"alerts\.slack_conn_id is 'slack_fraud' but no such Airflow"):
        resolve_sink(settings, "fraud")
    hooks = config_factory(webhook_conn_id="fraud_hook").model.alerts
    with pytest.raises(AlertDeliveryError, match=r"alerts\.webhook_conn_id is 'fraud_hook' but that Airflow"):
        resolve_sink(hooks, "fraud")


def test_webhook_secret_is_redacted() -> None:
    sink = SlackWebhookSink("https://hooks.slack.com/services/T1/B2/abcdefsecret", source="$X")
    assert sink.redact("failed POST https://hooks.slack.com/services/T1/B2/abcdefsecret") == "failed POST ***"
    assert sink.redact("path services/T1/B2/abcdefsecret") == "path ***"
