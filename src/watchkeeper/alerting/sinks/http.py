"""One JSON POST with retries, for the HTTP sinks (PagerDuty, Teams, generic webhook), and :class:`UrlSink`,
the base of the sinks that post to one secret URL (Teams, generic webhook).

Like slack-sdk's retry handlers for Slack: a connection error or timeout, a 429 (honouring
``Retry-After``, capped) and a 5xx are retried :data:`MAX_RETRIES` times with exponential backoff; what
still fails raises :class:`DeliveryFailure` with ``stop=True`` (the service is down: later messages
would fail the same way). A 4xx answer is not retried: it is the caller's to explain (a revoked key, a
bad payload). No URL or secret appears in an error: the caller passes a description of the target.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from watchkeeper.alerting.sinks.base import (
    Delivered,
    DeliveryFailure,
    Sink,
    extra_of,
    require_connection,
    require_env,
    timeout_of,
)
from watchkeeper.exceptions import AlertDeliveryError

if TYPE_CHECKING:
    import urllib.error

MAX_RETRIES = 2
#: Waits of about 0.5 s, 1 s... between attempts (tests make it shorter).
RETRY_BACKOFF_S = 0.5
#: Longest ``Retry-After`` honoured within one send; longer waits are left to the next dispatch.
MAX_RETRY_AFTER_S = 30.0
USER_AGENT = "watchkeeper-alerts/1"


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status and body (the first 2,000 characters)."""

    status: int
    body: str

    def json(self) -> Any:
        """The body as JSON, or None."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    value = error.headers.get("Retry-After") if error.headers else None
    try:
        return min(float(value), MAX_RETRY_AFTER_S) if value else None
    except ValueError:
        return None


def post_json(
    url: str,
    body: bytes,
    *,
    headers: dict[str, str],
    timeout: float,
    target: str,
    redact: Any = lambda text: text,
) -> Answer:
    """POST ``body`` (JSON bytes) to ``url``; retried on connection errors, timeouts, 429 and 5xx.

    Returns the answer for 2xx and 4xx (other than 429); raises :class:`DeliveryFailure` when the service
    cannot be reached or keeps failing. ``target`` names the destination in errors (never the URL).
    """
    import urllib.error
    import urllib.request
    from http.client import HTTPException

    last = ""
    for attempt in range(MAX_RETRIES + 1):
        wait = RETRY_BACKOFF_S * (2**attempt) * (1 + random.random() / 2)  # noqa: S311 -- jitter
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 -- http(s) URL from config
                return Answer(response.status, response.read(2000).decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            text = error.read(2000).decode("utf-8", "replace") if error.fp else ""
            if error.code != 429 and error.code < 500:
                return Answer(error.code, text)
            last = f"HTTP {error.code}{f' ({redact(text.strip()[:200])})' if text.strip() else ''}"
            wait = _retry_after(error) or wait
        except (urllib.error.URLError, OSError, HTTPException, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            last = redact(f"{type(exc).__name__}: {reason}")
        if attempt < MAX_RETRIES:
            time.sleep(wait)
    raise DeliveryFailure(
        f"{target} did not accept the notification ({last}) after {MAX_RETRIES} retries -- the service or the "
        "network is down; the notification stays in the outbox for the next run",
        kind="transport",
        stop=True,
    )


def url_from_connection(conn: Any) -> str | None:
    """A webhook URL kept in a connection: the password, or host + password as the path."""
    secret = str(conn.password or "").strip()
    if secret.startswith(("http://", "https://")):
        return secret
    host = str(conn.host or "").strip().rstrip("/")
    if host:
        base = host if host.startswith(("http://", "https://")) else f"https://{host}"
        return f"{base}/{secret.lstrip('/')}" if secret else base
    return None


class UrlSink(Sink):
    """A sink that POSTs JSON to one secret URL: from an Airflow connection (``conn_id``: the password, or host
    + password as the path; its extra may set ``timeout``) or an environment variable (``url_env``).

    The URL, and its path (the token part of most webhook URLs), never appear in an error.
    """

    #: The service in errors, e.g. "the Teams webhook".
    service: ClassVar[str]
    #: What the URL is, e.g. "the Teams webhook URL" (said where it is missing).
    url_what: ClassVar[str]
    #: What to do when the service refuses (a 4xx answer); ``{source}`` is filled in.
    refused_fix: ClassVar[str]

    def __init__(self, url: str, *, source: str, timeout: float) -> None:
        self._url = url
        self.source = source
        self.timeout = timeout

    @classmethod
    def url_of(cls, config: Any, model: str) -> tuple[str, str, dict[str, Any]]:
        """The URL, where it came from (for errors) and the connection's extra (``{}`` from a variable)."""
        if config.conn_id:
            field = f"alerts.sinks[{cls.kind}].conn_id"
            conn = require_connection(config.conn_id, model, field, f"password: {cls.url_what}")
            url, source, extra = url_from_connection(conn), f"Airflow connection {config.conn_id!r}", extra_of(conn)
        else:
            url = require_env(config.url_env, model, f"alerts.sinks[{cls.kind}].url_env", cls.url_what)
            source, extra = f"${config.url_env}", {}
        if not url:
            raise AlertDeliveryError(f"the {source} holds no URL -- put {cls.url_what} in its password")
        return url, source, extra

    @classmethod
    def from_config(cls, config: Any, *, model: str, default_channel: str | None) -> UrlSink:
        """The URL from the connection or the variable."""
        url, source, extra = cls.url_of(config, model)
        return cls(url, source=source, timeout=timeout_of(extra))

    def secrets(self) -> list[str]:
        path = self._url.split("://", 1)[-1].partition("/")[2]
        return [self._url, path]

    def post(self, body: bytes, headers: dict[str, str]) -> Delivered:
        """POST ``body`` (retried as :func:`post_json` does); a refusal is a :class:`DeliveryFailure` that stops."""
        target = f"{self.service} ({self.source})"
        answer = post_json(self._url, body, headers=headers, timeout=self.timeout, target=target, redact=self.redact)
        if answer.status >= 400:
            raise DeliveryFailure(
                f"{self.service} from the {self.source} answered HTTP {answer.status} "
                f"({self.redact(answer.body.strip()[:200])}) -- {self.refused_fix.format(source=self.source)}",
                kind="refused",
                stop=True,
            )
        return Delivered(ts=None, channel=None)
