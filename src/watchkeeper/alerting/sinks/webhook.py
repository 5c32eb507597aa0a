"""A generic JSON webhook with an HMAC-SHA256 signature, for anything else (an incident tool, a chat bridge...).

Each notification is one ``POST`` of ``{"id", "sink", "notice", "text"}``: ``id`` is the notification's
idempotency key (the same on a retry: deduplicate on it), ``notice`` the structured notification (see
:class:`~watchkeeper.alerting.notice.Notice`), ``text`` its plain-text rendering. Headers:

* ``X-Watchkeeper-Timestamp``: seconds since the epoch;
* ``X-Watchkeeper-Signature``: ``sha256=`` + hex HMAC-SHA256 of ``<timestamp>.<body>`` with the shared
  secret -- verify it, and reject old timestamps, to know the request is Watchkeeper's and not replayed;
* ``Idempotency-Key``: the ``id``; ``X-Watchkeeper-Event``: the notification kind.

The URL and the secret come from an Airflow connection (``conn_id``: URL as host or password... see
:func:`url_from_connection`; the secret in the extra ``secret``) or environment variables (``url_env``,
``secret_env``). Data is only ever JSON-encoded. 2xx is success; other 4xx answers are permanent errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from watchkeeper.alerting.messages import render_plain
from watchkeeper.alerting.sinks import http
from watchkeeper.alerting.sinks.base import ConnectionOrEnvConfig, Delivered, SendContext, require_env, timeout_of
from watchkeeper.exceptions import AlertDeliveryError

if TYPE_CHECKING:
    from watchkeeper.alerting.notice import Notice

SIGNATURE_HEADER = "X-Watchkeeper-Signature"
TIMESTAMP_HEADER = "X-Watchkeeper-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``<timestamp>.<body>``)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (constant-time compare)."""
    try:
        fresh = abs(time.time() - float(timestamp)) <= max_age_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookConfig(ConnectionOrEnvConfig):
    """Any HTTP endpoint: the structured notification as JSON, signed with HMAC-SHA256."""

    kind: Literal["webhook"] = Field(default="webhook", description="Which sink: webhook.")
    conn_id: str | None = Field(
        default=None,
        description="Airflow connection: the URL as password (or host + path), the signing secret in the "
        "extra 'secret'.",
    )
    url_env: str | None = Field(default=None, description="Environment variable with the URL (instead of conn_id).")
    secret_env: str | None = Field(
        default=None, description="Environment variable with the signing secret (default: the connection's extra)."
    )

    one_source: ClassVar[str | None] = "give the URL through exactly one of conn_id or url_env -- never in the YAML"

    def env_vars(self) -> list[tuple[str, str]]:
        """The URL's and the secret's variables."""
        return super().env_vars() + ([("secret_env", self.secret_env)] if self.secret_env else [])


class WebhookSink(http.UrlSink):
    """A generic JSON webhook with an HMAC-SHA256 signature header."""

    kind = "webhook"
    config = WebhookConfig
    service = "the webhook"
    url_what = "the webhook URL"
    refused_fix = (
        "check the URL and the signing secret; the notification stays in the outbox and is reported until it is "
        "sent or expires"
    )

    def __init__(self, url: str, *, secret: str, source: str, timeout: float) -> None:
        super().__init__(url, source=source, timeout=timeout)
        self._secret = secret

    @classmethod
    def from_config(cls, config: Any, *, model: str, default_channel: str | None) -> WebhookSink:
        """URL and secret from the connection or the variables; a secret is required."""
        url, source, extra = cls.url_of(config, model)
        secret = str(extra.get("secret") or "")
        if config.secret_env:
            secret = require_env(config.secret_env, model, "alerts.sinks[webhook].secret_env", "the signing secret")
        if not secret:
            raise AlertDeliveryError(
                f"model {model}: the webhook sink has no signing secret -- set secret_env in the YAML (an "
                "environment variable holding it) or the extra 'secret' of the Airflow connection"
            )
        return cls(url, secret=secret, source=source, timeout=timeout_of(extra))

    def secrets(self) -> list[str]:
        return [*super().secrets(), self._secret]

    def body(self, notice: Notice, ctx: SendContext) -> bytes:
        """The JSON body."""
        data = {"id": ctx.key, "sink": self.key or self.kind, "notice": notice.to_json(), "text": render_plain(notice)}
        return json.dumps(data, sort_keys=True, default=str).encode()

    def send(self, notice: Notice, ctx: SendContext) -> Delivered:
        body = self.body(notice, ctx)
        timestamp = str(int(time.time()))
        headers = {
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            TIMESTAMP_HEADER: timestamp,
            "X-Watchkeeper-Event": notice.kind,
            "Idempotency-Key": ctx.key,
        }
        return self.post(body, headers)
