"""Alert sinks: where a notification goes. Each sink is a small class with a name and one ``send`` method.

* ``slack`` -- a bot token, ``chat.postMessage``; replies go into threads.
* ``webhook`` -- a Slack incoming webhook (one fixed channel, no threads: replies are posted as
  self-contained messages).
* ``log`` -- the task log and the local JSONL file (``<state>/alerts.jsonl``), when Slack is not set up.

:func:`resolve_sink` picks one for a model (see its docstring). Delivery uses slack-sdk's own retry
handlers for rate limits (honouring ``Retry-After``), server errors and connection errors/timeouts;
there is no retry loop here. What still fails raises :class:`DeliveryFailure`, and the outbox keeps
the notification for the next dispatch. Tokens and webhook URLs never reach a log line, an error
message or a file: clients log through a logger that drops slack-sdk's debug output, and every
error text is redacted.
"""

from __future__ import annotations

import logging
import os
import random
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException, RemoteDisconnected
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.error import URLError

from watchkeeper.alerting.routing import CHANNEL_ENV
from watchkeeper.exceptions import AlertDeliveryError, UnknownNameError

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    from slack_sdk.http_retry import RetryHandler

    from watchkeeper.config import AlertSettings
    from watchkeeper.store import NotificationRow

log = logging.getLogger(__name__)
#: slack-sdk clients log here; INFO and up only, so request URLs (a webhook URL is a secret) never show.
_SDK_LOG = logging.getLogger("watchkeeper.alerting.slack_sdk")
_SDK_LOG.setLevel(logging.INFO)

#: Force a sink by name (``slack``, ``webhook``, ``log``), e.g. ``log`` for a demo on a machine with a token.
SINK_ENV = "WATCHKEEPER_ALERT_SINK"
#: Bot token used when no Airflow connection is found.
TOKEN_ENV = "WATCHKEEPER_SLACK_TOKEN"
#: Slack Web API URL (default https://slack.com/api/); a connection's ``base_url`` extra wins.
API_URL_ENV = "WATCHKEEPER_SLACK_API_URL"
#: Incoming-webhook URL used when no bot token is configured.
WEBHOOK_ENV = "WATCHKEEPER_SLACK_WEBHOOK_URL"
#: Seconds before one HTTP request to Slack times out (a connection's ``timeout`` extra wins).
TIMEOUT_ENV = "WATCHKEEPER_SLACK_TIMEOUT"
DEFAULT_CONN_ID = "slack_api_default"
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_TIMEOUT_S = 10.0
#: Retries of one request by each slack-sdk retry handler (rate limit, server error, connection error).
MAX_RETRIES = 2
#: Backoff factor of the server and connection error handlers: waits of about 0.5 s, 1 s, 2 s...
RETRY_BACKOFF_S = 0.5

AUTH_ERRORS = frozenset(
    {"invalid_auth", "token_revoked", "token_expired", "not_authed", "account_inactive", "missing_scope"}
)
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"})
WEBHOOK_AUTH_ERRORS = frozenset({"invalid_token", "no_service", "no_active_hooks", "action_prohibited"})


class DeliveryFailure(Exception):  # noqa: N818 -- internal signal, turned into AlertDeliveryError by dispatch
    """A send that did not work. ``stop``: later messages would fail the same way (outage, bad token)."""

    def __init__(self, message: str, *, kind: str, stop: bool) -> None:
        self.kind = kind
        self.stop = stop
        super().__init__(message)


@dataclass(frozen=True)
class Delivered:
    """Where a message landed: Slack's ``ts`` (the thread id for replies) and channel id, when known."""

    ts: str | None
    channel: str | None


class Sink(ABC):
    """A destination for notifications."""

    #: Registry name.
    name: ClassVar[str]
    #: Whether replies can go into the thread of an earlier message.
    threads: ClassVar[bool] = False
    #: Where the credentials come from, for error messages (never the secret itself).
    source: str = ""

    @abstractmethod
    def send(self, notification: NotificationRow, *, channel: str | None, thread_ts: str | None) -> Delivered:
        """Deliver one notification or raise :class:`DeliveryFailure`."""

    def secrets(self) -> list[str]:
        """Strings that must never appear in logs, errors or files."""
        return []

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self.secrets():
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r})"


class _ProportionalJitter:
    """Up to +50 % random extra wait (slack-sdk's default jitter adds up to a whole second)."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random() / 2)  # noqa: S311 -- jitter, not security


def retry_handlers() -> list[RetryHandler]:
    """slack-sdk's built-in retry handlers: connection errors and timeouts, 429 (``Retry-After``), 500/503."""
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    backoff = BackoffRetryIntervalCalculator(backoff_factor=RETRY_BACKOFF_S, jitter=_ProportionalJitter())  # type: ignore[arg-type]
    return [
        ConnectionErrorRetryHandler(
            max_retry_count=MAX_RETRIES,
            interval_calculator=backoff,
            # A read timeout surfaces as a bare TimeoutError, not a URLError: retry it too.
            error_types=[URLError, ConnectionResetError, RemoteDisconnected, TimeoutError],
        ),
        RateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
        ServerErrorRetryHandler(max_retry_count=MAX_RETRIES, interval_calculator=backoff),
    ]


def _blocks(payload: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The payload's blocks if slack-sdk's models accept them; otherwise None (send the text only)."""
    blocks = payload.get("blocks") or None
    if not blocks:
        return None
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import Block

    try:
        for block in blocks:
            parsed = Block.parse(block)
            if parsed is None:
                raise SlackObjectFormationError(f"unknown block type {block.get('type')!r}")
            parsed.validate_json()
    except (SlackObjectFormationError, KeyError, TypeError, ValueError) as exc:
        log.warning("blocks of a notification do not validate (%s): sending the plain-text fallback only", exc)
        return None
    return list(blocks)


def _text(payload: dict[str, Any]) -> str:
    return str(payload.get("text") or payload.get("title") or "Watchkeeper alert")


class SlackBotSink(Sink):
    """A Slack app's bot token: ``chat.postMessage``, replies threaded under their parent's ``ts``."""

    name = "slack"
    threads = True

    def __init__(
        self, token: str, *, source: str, base_url: str = DEFAULT_API_URL, timeout: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self._token = token
        self.source = source
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self._client_obj: WebClient | None = None

    def secrets(self) -> list[str]:
        return [self._token]

    def _client(self) -> WebClient:
        if self._client_obj is None:
            from slack_sdk import WebClient

            self._client_obj = WebClient(
                token=self._token,
                base_url=self.base_url,
                timeout=self.timeout,  # type: ignore[arg-type]  # urllib takes float seconds
                retry_handlers=retry_handlers(),
                logger=_SDK_LOG,
            )
        return self._client_obj

    def send(self, notification: NotificationRow, *, channel: str | None, thread_ts: str | None) -> Delivered:
        from slack_sdk.errors import SlackApiError, SlackClientError

        if not channel:
            raise DeliveryFailure(
                f"model {notification.model}: no Slack channel to post to -- set alerts.channel in the model's "
                f"YAML or the environment variable {CHANNEL_ENV}",
                kind="channel",
                stop=False,
            )
        try:
            response = self._client().chat_postMessage(
                channel=channel,
                text=_text(notification.payload),
                blocks=_blocks(notification.payload),
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise self._refused(exc, notification.model, channel) from None
        except (SlackClientError, OSError, HTTPException, ValueError) as exc:
            reason = self.redact(f"{type(exc).__name__}: {exc}")
            raise DeliveryFailure(
                f"cannot reach the Slack API at {self.base_url} ({reason}) after {MAX_RETRIES} retries -- "
                "Slack or the network is down; the notification stays in the outbox for the next run",
                kind="transport",
                stop=True,
            ) from None
        return Delivered(ts=response.get("ts"), channel=response.get("channel"))

    def _fix(self) -> str:
        if self.source.startswith("$"):
            return f"the environment variable {self.source[1:]}"
        return f"the password of the {self.source}"

    def _refused(self, exc: SlackApiError, model: str, channel: str) -> DeliveryFailure:
        response = exc.response
        error = str(response.get("error") or "") if isinstance(response.data, dict) else ""
        status = response.status_code
        if status == 429 or status >= 500:
            return DeliveryFailure(
                f"the Slack API at {self.base_url} answered HTTP {status}{f' ({error})' if error else ''} after "
                f"{MAX_RETRIES} retries -- Slack is down or rate limiting; the notification stays in the outbox "
                "for the next run",
                kind="transport",
                stop=True,
            )
        if error in AUTH_ERRORS:
            return DeliveryFailure(
                f"Slack rejected the bot token from the {self.source} ({error}) -- put a valid bot token "
                f"(xoxb-..., scope chat:write) in {self._fix()}; the notification stays in the outbox and is "
                "sent by the next run after the fix",
                kind="auth",
                stop=True,
            )
        if error in CHANNEL_ERRORS:
            return DeliveryFailure(
                f"Slack channel {channel!r} of model {model} cannot be posted to ({error}) -- invite the bot "
                "to the channel (/invite @your-bot) or fix alerts.channel / alerts.severity_channels in the "
                "model's YAML; the notification stays in the outbox until it is sent or expires",
                kind="channel",
                stop=False,
            )
        return DeliveryFailure(
            self.redact(f"Slack refused a message of model {model} to {channel!r} ({error or f'HTTP {status}'})"),
            kind="refused",
            stop=False,
        )


class SlackWebhookSink(Sink):
    """A Slack incoming webhook: posts to the webhook's channel; no threads (replies stand alone)."""

    name = "webhook"

    def __init__(self, url: str, *, source: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._url = url
        self.source = source
        self.timeout = timeout

    def secrets(self) -> list[str]:
        path = self._url.split("://", 1)[-1].partition("/")[2]
        return [self._url, path]

    def send(self, notification: NotificationRow, *, channel: str | None, thread_ts: str | None) -> Delivered:
        from slack_sdk.webhook import WebhookClient

        client = WebhookClient(
            self._url,
            timeout=self.timeout,  # type: ignore[arg-type]  # urllib takes float seconds
            retry_handlers=retry_handlers(),
            logger=_SDK_LOG,
        )
        try:
            response = client.send(
                text=_text(notification.payload),
                blocks=_blocks(notification.payload),
                unfurl_links=False,
                unfurl_media=False,
            )
        except (OSError, HTTPException, ValueError) as exc:
            reason = self.redact(f"{type(exc).__name__}: {exc}")
            raise DeliveryFailure(
                f"cannot reach the Slack webhook from the {self.source} ({reason}) after {MAX_RETRIES} retries -- "
                "Slack or the network is down; the notification stays in the outbox for the next run",
                kind="transport",
                stop=True,
            ) from None
        status, body = response.status_code, self.redact(str(response.body or "").strip()[:200])
        if status == 200:
            return Delivered(ts=None, channel=None)
        if status == 429 or status >= 500:
            return self._raise(
                f"the Slack webhook answered HTTP {status} ({body}) after {MAX_RETRIES} retries -- Slack is down "
                "or rate limiting; the notification stays in the outbox for the next run",
                kind="transport",
                stop=True,
            )
        if body in WEBHOOK_AUTH_ERRORS or status in {401, 403}:
            fix = f"the environment variable {self.source[1:]}" if self.source.startswith("$") else f"the {self.source}"
            return self._raise(
                f"Slack rejected the incoming webhook from the {self.source} ({body}, HTTP {status}) -- create a "
                f"new webhook URL in the Slack app and put it in {fix}; the notification stays in the outbox",
                kind="auth",
                stop=True,
            )
        if body in CHANNEL_ERRORS or status in {404, 410}:
            return self._raise(
                f"the Slack webhook's channel cannot be posted to ({body}, HTTP {status}) -- re-create the webhook "
                "for an existing channel; the notification stays in the outbox until it is sent or expires",
                kind="channel",
                stop=True,
            )
        return self._raise(
            f"the Slack webhook refused a message of model {notification.model} ({body}, HTTP {status})",
            kind="refused",
            stop=False,
        )

    @staticmethod
    def _raise(message: str, *, kind: str, stop: bool) -> Delivered:
        raise DeliveryFailure(message, kind=kind, stop=stop)


class LogSink(Sink):
    """No Slack: the message goes to the task log (by the outbox) and one JSON line of the alert file."""

    name = "log"
    source = "task log and JSONL file"

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def send(self, notification: NotificationRow, *, channel: str | None, thread_ts: str | None) -> Delivered:
        from watchkeeper.reporting import append_record

        payload = notification.payload
        window = notification.window
        record = {
            "record": "notification",
            "kind": notification.kind,
            "model": notification.model,
            "key": notification.idempotency_key,
            "thread": notification.parent_key,
            "channel": channel,
            "run_id": notification.run_id,
            "window_start": window.start.isoformat() if window else None,
            "window_end": window.end.isoformat() if window else None,
            "title": payload.get("title"),
            "text": payload.get("text"),
            "plain": payload.get("plain"),
            "blocks": payload.get("blocks"),
            "at": datetime.now(UTC).isoformat(),
        }
        try:
            append_record(record, self.path)
        except OSError as exc:
            raise DeliveryFailure(
                f"cannot write the alert file ({exc.strerror or exc}) -- check that the state folder is writable",
                kind="transport",
                stop=True,
            ) from None
        return Delivered(ts=None, channel=channel)


#: Sinks by name.
SINKS: dict[str, type[Sink]] = {cls.name: cls for cls in (SlackBotSink, SlackWebhookSink, LogSink)}


def sink_class(name: str) -> type[Sink]:
    """The sink registered as ``name``; an unknown name lists the available ones."""
    try:
        return SINKS[name]
    except KeyError:
        raise UnknownNameError(f"No alert sink named {name!r}. Available sinks: {', '.join(SINKS)}") from None


# --------------------------------------------------------------------------- configuration


def _connection(conn_id: str) -> Any | None:
    """The Airflow connection ``conn_id``, or None (not defined, or no Airflow in this process).

    Only looked up at send time: inside a task (Airflow already imported) or when an
    ``AIRFLOW_CONN_<ID>`` variable defines it; a plain CLI or test process never imports Airflow here.
    """
    if "airflow.sdk" not in sys.modules and f"AIRFLOW_CONN_{conn_id.upper()}" not in os.environ:
        return None
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or no metadata DB outside a task
        log.debug("Airflow connection %s not available: %s", conn_id, type(exc).__name__)
        return None


def _extra(conn: Any) -> dict[str, Any]:
    try:
        extra = conn.extra_dejson
    except Exception:  # a malformed extra must not leak its text
        return {}
    return extra if isinstance(extra, dict) else {}


def _timeout(extra: dict[str, Any]) -> float:
    value = extra.get("timeout") or os.environ.get(TIMEOUT_ENV)
    try:
        return float(value) if value else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _bot_sink(settings: AlertSettings, model: str) -> SlackBotSink | None:
    conn_id = settings.slack_conn_id or DEFAULT_CONN_ID
    conn = _connection(conn_id)
    if conn is not None:
        if not conn.password:
            raise AlertDeliveryError(
                f"Airflow connection {conn_id!r} has no password -- put the Slack bot token (xoxb-...) in its "
                "password field"
            )
        extra = _extra(conn)
        base_url = str(extra.get("base_url") or os.environ.get(API_URL_ENV) or DEFAULT_API_URL)
        return SlackBotSink(
            conn.password, source=f"Airflow connection {conn_id!r}", base_url=base_url, timeout=_timeout(extra)
        )
    if settings.slack_conn_id is not None:
        raise AlertDeliveryError(
            f"model {model}: alerts.slack_conn_id is {conn_id!r} but no such Airflow connection is defined -- "
            f"create it (password: the bot token) or remove slack_conn_id to use ${TOKEN_ENV}"
        )
    token = os.environ.get(TOKEN_ENV)
    if not token:
        return None
    base_url = os.environ.get(API_URL_ENV) or DEFAULT_API_URL
    return SlackBotSink(token, source=f"${TOKEN_ENV}", base_url=base_url, timeout=_timeout({}))


def _webhook_url(conn: Any) -> str | None:
    secret = str(conn.password or "").strip()
    if secret.startswith(("http://", "https://")):
        return secret
    host = str(conn.host or "").strip().rstrip("/")
    if host and secret:
        base = host if host.startswith(("http://", "https://")) else f"https://{host}"
        return f"{base}/{secret.lstrip('/')}"
    return None


def _webhook_sink(settings: AlertSettings, model: str) -> SlackWebhookSink | None:
    if settings.webhook_conn_id:
        conn = _connection(settings.webhook_conn_id)
        url = _webhook_url(conn) if conn is not None else None
        if url is None:
            raise AlertDeliveryError(
                f"model {model}: alerts.webhook_conn_id is {settings.webhook_conn_id!r} but that Airflow "
                "connection is not defined or holds no webhook URL -- create it with the URL "
                "(https://hooks.slack.com/services/...) as its password"
            )
        source = f"Airflow connection {settings.webhook_conn_id!r}"
        return SlackWebhookSink(url, source=source, timeout=_timeout(_extra(conn)))
    url = os.environ.get(WEBHOOK_ENV)
    return SlackWebhookSink(url, source=f"${WEBHOOK_ENV}", timeout=_timeout({})) if url else None


def resolve_sink(settings: AlertSettings, model: str) -> Sink:
    """The sink of a model, looked up at send time (never while parsing DAGs).

    In order: ``$WATCHKEEPER_ALERT_SINK`` forces a sink by name; ``alerts.webhook_conn_id`` in the YAML
    selects that webhook; a bot token from the Airflow connection ``alerts.slack_conn_id`` (default
    ``slack_api_default``) or ``$WATCHKEEPER_SLACK_TOKEN``; a webhook URL in
    ``$WATCHKEEPER_SLACK_WEBHOOK_URL``; otherwise the log sink. Raises :class:`AlertDeliveryError` when
    the YAML names a connection that does not exist or a forced sink is not configured.
    """
    forced = os.environ.get(SINK_ENV, "").strip().lower()
    if forced:
        cls = sink_class(forced)
        if cls is LogSink:
            return LogSink()
        found: Sink | None = _webhook_sink(settings, model) if cls is SlackWebhookSink else _bot_sink(settings, model)
        if found is None:
            raise AlertDeliveryError(
                f"{SINK_ENV}={forced} but no {forced} credentials are configured -- set "
                f"{WEBHOOK_ENV if cls is SlackWebhookSink else TOKEN_ENV} or the Airflow connection"
            )
        return found
    if settings.webhook_conn_id:
        webhook = _webhook_sink(settings, model)
        assert webhook is not None
        return webhook
    return _bot_sink(settings, model) or _webhook_sink(settings, model) or LogSink()
