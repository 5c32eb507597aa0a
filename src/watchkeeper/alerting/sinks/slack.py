"""Slack: a bot token (``chat.postMessage``, threads) and an incoming webhook (one channel, no threads).

Rendered at send time from the notice: Block Kit with an escaped plain-text fallback (``messages.py``;
every text that comes from data has ``&``, ``<``, ``>`` escaped, so a category value such as ``<!channel>``
never pings). Delivery uses slack-sdk's own retry handlers for rate limits (honouring ``Retry-After``),
server errors and connection errors/timeouts; there is no retry loop here. Tokens and webhook URLs never
reach a log line, an error or a file: clients log through a logger that drops slack-sdk's debug output,
and every error text is redacted.
"""

from __future__ import annotations

import logging
import os
import random
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from watchkeeper.alerting.messages import Message, render_slack
from watchkeeper.alerting.sinks.base import (
    DEFAULT_TIMEOUT_S,
    ConnectionOrEnvConfig,
    Delivered,
    DeliveryFailure,
    SendContext,
    Sink,
    SinkConfig,
    connection,
    extra_of,
    timeout_of,
)
from watchkeeper.exceptions import AlertDeliveryError

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    from slack_sdk.http_retry import RetryHandler

    from watchkeeper.alerting.notice import Notice

log = logging.getLogger(__name__)
#: slack-sdk clients log here; INFO and up only, so request URLs (a webhook URL is a secret) never show.
_SDK_LOG = logging.getLogger("watchkeeper.alerting.slack_sdk")
_SDK_LOG.setLevel(logging.INFO)

#: Default channel of every model without ``alerts.channel``.
CHANNEL_ENV = "WATCHKEEPER_SLACK_CHANNEL"
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
#: Retries of one request by each slack-sdk retry handler (rate limit, server error, connection error).
MAX_RETRIES = 2
#: Backoff factor of the server and connection error handlers: waits of about 0.5 s, 1 s, 2 s...
RETRY_BACKOFF_S = 0.5

AUTH_ERRORS = frozenset(
    {"invalid_auth", "token_revoked", "token_expired", "not_authed", "account_inactive", "missing_scope"}
)
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"})
WEBHOOK_AUTH_ERRORS = frozenset({"invalid_token", "no_service", "no_active_hooks", "action_prohibited"})


class _ProportionalJitter:
    """Up to +50 % random extra wait (slack-sdk's default jitter adds up to a whole second)."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random() / 2)  # noqa: S311 -- jitter, not security


def retry_handlers() -> list[RetryHandler]:
    """slack-sdk's built-in retry handlers: connection errors and timeouts, 429 (``Retry-After``), 500/503."""
    from http.client import RemoteDisconnected
    from urllib.error import URLError

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


def _blocks(message: Message) -> list[dict[str, Any]] | None:
    """The message's blocks if slack-sdk's models accept them; otherwise None (send the text only)."""
    blocks = message.blocks or None
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


def _text(message: Message) -> str:
    return message.text or message.title or "Watchkeeper alert"


def _fix(source: str) -> str:
    return f"the environment variable {source[1:]}" if source.startswith("$") else f"the password of the {source}"


class SlackConfig(SinkConfig):
    """A Slack app's bot token: messages in a channel, replies in their threads."""

    kind: Literal["slack"] = Field(default="slack", description="Which sink: slack.")
    channel: str | None = Field(
        default=None,
        description="Channel, e.g. '#fraud-ml' (default: alerts.severity_channels / alerts.channel / "
        "$WATCHKEEPER_SLACK_CHANNEL).",
    )
    conn_id: str | None = Field(
        default=None,
        description="Airflow connection with the bot token (xoxb-...) as its password; extra base_url and "
        "timeout optional (default: slack_api_default, else $WATCHKEEPER_SLACK_TOKEN).",
    )

    def target(self) -> str:
        """The channel and connection."""
        return ":".join(p for p in (self.channel, self.conn_id) if p)

    def connection_ids(self) -> list[tuple[str, str]]:
        """The connection named in the YAML (the default one may be missing: then the env is used)."""
        return [("conn_id", self.conn_id)] if self.conn_id else []


class SlackBotSink(Sink):
    """A Slack app's bot token: ``chat.postMessage``, replies threaded under their parent's ``ts``."""

    kind = "slack"
    config = SlackConfig
    threads = True

    def __init__(
        self,
        token: str,
        *,
        source: str,
        base_url: str = DEFAULT_API_URL,
        timeout: float = DEFAULT_TIMEOUT_S,
        channel: str | None = None,
    ) -> None:
        self._token = token
        self.source = source
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.channel = channel
        self._client_obj: WebClient | None = None

    @classmethod
    def from_config(cls, config: Any, *, model: str, default_channel: str | None) -> SlackBotSink:
        """Token from the connection ``conn_id`` (default ``slack_api_default``) or ``$WATCHKEEPER_SLACK_TOKEN``."""
        found = bot_sink(config.conn_id, model, field="alerts.sinks[slack].conn_id")
        if found is None:
            raise AlertDeliveryError(
                f"model {model}: a slack sink has no bot token -- create the Airflow connection "
                f"{DEFAULT_CONN_ID!r} (password: the xoxb-... token), set conn_id, or set ${TOKEN_ENV}"
            )
        found.channel = config.channel
        return found

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

    def send(self, notice: Notice, ctx: SendContext) -> Delivered:
        from http.client import HTTPException

        from slack_sdk.errors import SlackApiError, SlackClientError

        thread_ts = ctx.thread
        channel = (ctx.thread_channel or self.channel or ctx.channel) if thread_ts else (self.channel or ctx.channel)
        if not channel:
            raise DeliveryFailure(
                f"model {ctx.model}: no Slack channel to post to -- set alerts.channel (or the slack sink's "
                f"channel) in the model's YAML or the environment variable {CHANNEL_ENV}",
                kind="channel",
                stop=False,
            )
        message = render_slack(notice)
        try:
            response = self._client().chat_postMessage(
                channel=channel,
                text=_text(message),
                blocks=_blocks(message),
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise self._refused(exc, ctx.model, channel) from None
        except (SlackClientError, OSError, HTTPException, ValueError) as exc:
            reason = self.redact(f"{type(exc).__name__}: {exc}")
            raise DeliveryFailure(
                f"cannot reach the Slack API at {self.base_url} ({reason}) after {MAX_RETRIES} retries -- "
                "Slack or the network is down; the notification stays in the outbox for the next run",
                kind="transport",
                stop=True,
            ) from None
        return Delivered(ts=response.get("ts"), channel=response.get("channel"))

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
                f"(xoxb-..., scope chat:write) in {_fix(self.source)}; the notification stays in the outbox and "
                "is sent by the next run after the fix",
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


class SlackWebhookConfig(ConnectionOrEnvConfig):
    """A Slack incoming webhook: one fixed channel, no threads (replies are posted as standalone messages)."""

    kind: Literal["slack_webhook"] = Field(default="slack_webhook", description="Which sink: slack_webhook.")
    conn_id: str | None = Field(
        default=None,
        description="Airflow connection with the webhook URL as its password (or host + path as password).",
    )
    url_env: str | None = Field(
        default=None, description="Environment variable with the webhook URL (default: $WATCHKEEPER_SLACK_WEBHOOK_URL)."
    )


class SlackWebhookSink(Sink):
    """A Slack incoming webhook: posts to the webhook's channel; no threads (replies stand alone)."""

    kind = "slack_webhook"
    config = SlackWebhookConfig

    def __init__(self, url: str, *, source: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._url = url
        self.source = source
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Any, *, model: str, default_channel: str | None) -> SlackWebhookSink:
        """URL from the connection, the named variable or ``$WATCHKEEPER_SLACK_WEBHOOK_URL``."""
        if config.conn_id:
            return webhook_sink_from_connection(config.conn_id, model, field="alerts.sinks[slack_webhook].conn_id")
        var = config.url_env or WEBHOOK_ENV
        url = os.environ.get(var, "").strip()
        if not url:
            raise AlertDeliveryError(
                f"model {model}: the slack_webhook sink has no URL -- set ${var} to the webhook URL "
                "(https://hooks.slack.com/services/...) or name an Airflow connection in conn_id"
            )
        return cls(url, source=f"${var}", timeout=timeout_of({}, TIMEOUT_ENV))

    def secrets(self) -> list[str]:
        path = self._url.split("://", 1)[-1].partition("/")[2]
        return [self._url, path]

    def send(self, notice: Notice, ctx: SendContext) -> Delivered:
        from http.client import HTTPException

        from slack_sdk.webhook import WebhookClient

        message = render_slack(notice)
        client = WebhookClient(
            self._url,
            timeout=self.timeout,  # type: ignore[arg-type]  # urllib takes float seconds
            retry_handlers=retry_handlers(),
            logger=_SDK_LOG,
        )
        try:
            response = client.send(text=_text(message), blocks=_blocks(message), unfurl_links=False, unfurl_media=False)
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
            raise DeliveryFailure(
                f"the Slack webhook answered HTTP {status} ({body}) after {MAX_RETRIES} retries -- Slack is down "
                "or rate limiting; the notification stays in the outbox for the next run",
                kind="transport",
                stop=True,
            )
        if body in WEBHOOK_AUTH_ERRORS or status in {401, 403}:
            fix = f"the environment variable {self.source[1:]}" if self.source.startswith("$") else f"the {self.source}"
            raise DeliveryFailure(
                f"Slack rejected the incoming webhook from the {self.source} ({body}, HTTP {status}) -- create a "
                f"new webhook URL in the Slack app and put it in {fix}; the notification stays in the outbox",
                kind="auth",
                stop=True,
            )
        if body in CHANNEL_ERRORS or status in {404, 410}:
            raise DeliveryFailure(
                f"the Slack webhook's channel cannot be posted to ({body}, HTTP {status}) -- re-create the webhook "
                "for an existing channel; the notification stays in the outbox until it is sent or expires",
                kind="channel",
                stop=True,
            )
        raise DeliveryFailure(
            f"the Slack webhook refused a message of model {ctx.model} ({body}, HTTP {status})",
            kind="refused",
            stop=False,
        )


# --------------------------------------------------------------------------- credentials


def bot_sink(conn_id: str | None, model: str, *, field: str) -> SlackBotSink | None:
    """A bot sink from the connection ``conn_id`` (default ``slack_api_default``) or ``$WATCHKEEPER_SLACK_TOKEN``.

    None when nothing is configured; :class:`AlertDeliveryError` when ``conn_id`` names a connection that
    does not exist or has no token.
    """
    name = conn_id or DEFAULT_CONN_ID
    conn = connection(name)
    if conn is not None:
        if not conn.password:
            raise AlertDeliveryError(
                f"Airflow connection {name!r} has no password -- put the Slack bot token (xoxb-...) in its "
                "password field"
            )
        extra = extra_of(conn)
        base_url = str(extra.get("base_url") or os.environ.get(API_URL_ENV) or DEFAULT_API_URL)
        return SlackBotSink(
            conn.password,
            source=f"Airflow connection {name!r}",
            base_url=base_url,
            timeout=timeout_of(extra, TIMEOUT_ENV),
        )
    if conn_id is not None:
        raise AlertDeliveryError(
            f"model {model}: {field} is {name!r} but no such Airflow connection is defined -- "
            f"create it (password: the bot token) or remove it to use ${TOKEN_ENV}"
        )
    token = os.environ.get(TOKEN_ENV)
    if not token:
        return None
    base_url = os.environ.get(API_URL_ENV) or DEFAULT_API_URL
    return SlackBotSink(token, source=f"${TOKEN_ENV}", base_url=base_url, timeout=timeout_of({}, TIMEOUT_ENV))


def _webhook_url(conn: Any) -> str | None:
    secret = str(conn.password or "").strip()
    if secret.startswith(("http://", "https://")):
        return secret
    host = str(conn.host or "").strip().rstrip("/")
    if host and secret:
        base = host if host.startswith(("http://", "https://")) else f"https://{host}"
        return f"{base}/{secret.lstrip('/')}"
    return None


def webhook_sink_from_connection(conn_id: str, model: str, *, field: str) -> SlackWebhookSink:
    """A webhook sink from an Airflow connection (the URL as password, or host + path)."""
    conn = connection(conn_id)
    url = _webhook_url(conn) if conn is not None else None
    if url is None:
        raise AlertDeliveryError(
            f"model {model}: {field} is {conn_id!r} but that Airflow connection is not defined or holds no "
            "webhook URL -- create it with the URL (https://hooks.slack.com/services/...) as its password"
        )
    return SlackWebhookSink(
        url, source=f"Airflow connection {conn_id!r}", timeout=timeout_of(extra_of(conn), TIMEOUT_ENV)
    )
