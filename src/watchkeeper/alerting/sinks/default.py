"""The sink of a model without ``alerts.sinks``: today's behaviour, chosen at send time from the environment.

In order: ``$WATCHKEEPER_ALERT_SINK`` forces one (``slack``, ``slack_webhook`` -- or its old name
``webhook`` -- or ``log``); ``alerts.webhook_conn_id`` selects that Slack webhook; a bot token from the
Airflow connection ``alerts.slack_conn_id`` (default ``slack_api_default``) or ``$WATCHKEEPER_SLACK_TOKEN``;
a webhook URL in ``$WATCHKEEPER_SLACK_WEBHOOK_URL``; otherwise the log sink. Its key in the outbox is
``default``, so a message queued before a token was configured is delivered once it is.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from watchkeeper.alerting.sinks.base import Sink, sink_class, timeout_of
from watchkeeper.alerting.sinks.log import LogSink
from watchkeeper.alerting.sinks.slack import (
    TOKEN_ENV,
    WEBHOOK_ENV,
    SlackBotSink,
    SlackWebhookSink,
    bot_sink,
    webhook_sink_from_connection,
)
from watchkeeper.exceptions import AlertDeliveryError

if TYPE_CHECKING:
    from watchkeeper.config import AlertSettings

#: Force the default sink by name (``slack``, ``slack_webhook`` or ``webhook``, ``log``).
SINK_ENV = "WATCHKEEPER_ALERT_SINK"
#: Key of the default sink in the outbox.
DEFAULT_KEY = "default"
_ALIASES = {"webhook": "slack_webhook"}


def _webhook(settings: AlertSettings, model: str) -> SlackWebhookSink | None:
    if settings.webhook_conn_id:
        return webhook_sink_from_connection(settings.webhook_conn_id, model, field="alerts.webhook_conn_id")
    url = os.environ.get(WEBHOOK_ENV)
    return (
        SlackWebhookSink(url, source=f"${WEBHOOK_ENV}", timeout=timeout_of({}, "WATCHKEEPER_SLACK_TIMEOUT"))
        if url
        else None
    )


def resolve_default_sink(settings: AlertSettings, model: str) -> Sink:
    """The default sink of a model (see the module docstring), looked up at send time.

    Raises :class:`AlertDeliveryError` when the YAML names a connection that does not exist or a forced
    sink is not configured.
    """
    sink = _resolve(settings, model)
    sink.key = DEFAULT_KEY
    return sink


def _resolve(settings: AlertSettings, model: str) -> Sink:
    forced = os.environ.get(SINK_ENV, "").strip().lower()
    if forced:
        cls = sink_class(_ALIASES.get(forced, forced))
        if cls is LogSink:
            return LogSink()
        found: Sink | None = None
        if cls is SlackWebhookSink:
            found = _webhook(settings, model)
        elif cls is SlackBotSink:
            found = bot_sink(settings.slack_conn_id, model, field="alerts.slack_conn_id")
        else:
            raise AlertDeliveryError(
                f"{SINK_ENV}={forced} forces a sink that needs a config -- use alerts.sinks in the model's YAML "
                f"for {forced}; {SINK_ENV} takes slack, slack_webhook or log"
            )
        if found is None:
            raise AlertDeliveryError(
                f"{SINK_ENV}={forced} but no {forced} credentials are configured -- set "
                f"{WEBHOOK_ENV if cls is SlackWebhookSink else TOKEN_ENV} or the Airflow connection"
            )
        return found
    if settings.webhook_conn_id:
        webhook = _webhook(settings, model)
        assert webhook is not None
        return webhook
    return (
        bot_sink(settings.slack_conn_id, model, field="alerts.slack_conn_id") or _webhook(settings, model) or LogSink()
    )
