"""Local servers that speak each sink's protocol, in threads (no mocks, no internet).

* :class:`PagerDutyServer` -- the Events API v2 (``POST /v2/enqueue``): validates the body like PagerDuty
  (routing key known, ``event_action``, ``dedup_key``, for triggers ``payload.summary/source/severity``)
  and answers 202 ``{"status": "success", "dedup_key": ...}`` or 400 ``{"status": "invalid event",
  "message": "Event object is invalid", "errors": [...]}``; keeps the open alerts by dedup key.
* :class:`TeamsServer` -- an incoming webhook (``POST /webhookb2/<secret>``): answers ``1`` for a message
  whose attachment is an Adaptive Card, 400 otherwise, 404 for an unknown path (a deleted webhook).
* :class:`WebhookServer` -- a receiver that verifies ``X-Watchkeeper-Signature`` with the shared secret and
  rejects (401) a bad or stale signature.
* :class:`SmtpServer` -- ``aiosmtpd`` with a handler that keeps every message; ``stop()``/``start()``
  simulate an outage.

Each HTTP server records every request and can be scripted like ``slack_server.SlackServer``:
``fail("server_error", ...)`` for the next requests, or ``down = "server_error"`` until reset.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler
from typing import Any

from local_http import QuietHandler, ScriptedHttpServer

PAGERDUTY_KEY = "R0UTINGKEY0123456789abcdefABCDEF"
TEAMS_PATH = "/webhookb2/0000-teams-secret-1111/IncomingWebhook/abc/def"
WEBHOOK_SECRET = "whsec-test-0123456789"


@dataclass
class Request:
    """One request as received."""

    path: str
    headers: dict[str, str]
    raw: bytes
    outcome: str

    @property
    def body(self) -> Any:
        return json.loads(self.raw or b"null")


class _HttpServer(ScriptedHttpServer[Request]):
    """A scriptable JSON HTTP server in a thread; subclasses answer in :meth:`answer`."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def accepted(self) -> list[Request]:
        """Requests that were answered with success."""
        return [r for r in self.requests if r.outcome == "ok"]

    def answer(self, request: Request) -> tuple[int, Any]:  # pragma: no cover -- overridden
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                outcome = server._next_outcome()
                request = Request(self.path, dict(self.headers.items()), raw, outcome)
                if outcome == "server_error":
                    status, body, extra = 500, {"status": "error"}, {}
                elif outcome == "ratelimited":
                    status, body, extra = 429, {"status": "throttled"}, {"Retry-After": "1"}
                else:
                    status, body = server.answer(request)
                    extra = {}
                    if status >= 400:
                        request.outcome = f"rejected {status}"
                with server._lock:
                    server.requests.append(request)
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


class PagerDutyServer(_HttpServer):
    """PagerDuty's Events API v2."""

    def __init__(self) -> None:
        super().__init__()
        self.keys = {PAGERDUTY_KEY}
        #: Open alerts: dedup_key -> the trigger's payload.
        self.open: dict[str, dict[str, Any]] = {}
        self.resolved: list[str] = []

    @property
    def url(self) -> str:
        return f"{self.base}/v2/enqueue"

    def events(self) -> list[dict[str, Any]]:
        """Accepted events, in order."""
        return [r.body for r in self.accepted()]

    def answer(self, request: Request) -> tuple[int, Any]:
        if request.path != "/v2/enqueue":
            return 404, {"status": "not found"}
        body = request.body
        errors = []
        if body.get("routing_key") not in self.keys:
            errors.append("Invalid routing key")
        action = body.get("event_action")
        if action not in {"trigger", "acknowledge", "resolve"}:
            errors.append(
                "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')"
            )
        if action != "trigger" and not body.get("dedup_key"):
            errors.append("'dedup_key' is missing or blank")
        if action == "trigger":
            payload = body.get("payload") or {}
            for name in ("summary", "source", "severity"):
                if not payload.get(name):
                    errors.append(f"'payload.{name}' is missing or blank")
            if payload.get("severity") not in {"critical", "error", "warning", "info"}:
                errors.append("'payload.severity' is invalid")
            if len(str(payload.get("summary", ""))) > 1024:
                errors.append("'payload.summary' is too long")
        if errors:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        key = body.get("dedup_key")
        with self._lock:
            if action == "trigger":
                self.open[key] = body["payload"]
            elif action == "resolve":
                self.open.pop(key, None)
                self.resolved.append(key)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}


class TeamsServer(_HttpServer):
    """A Teams incoming webhook."""

    @property
    def url(self) -> str:
        return f"{self.base}{TEAMS_PATH}"

    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards accepted, in order."""
        return [r.body["attachments"][0]["content"] for r in self.accepted()]

    def answer(self, request: Request) -> tuple[int, Any]:
        if request.path != TEAMS_PATH:
            return 404, "Webhook not found"
        body = request.body
        try:
            (attachment,) = body["attachments"]
            content = attachment["content"]
            valid = (
                body["type"] == "message"
                and attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
                and content["type"] == "AdaptiveCard"
                and content["body"]
            )
        except (KeyError, TypeError, ValueError):
            valid = False
        if not valid:
            return 400, "Bad payload received by generic incoming webhook."
        return 200, "1"


class WebhookServer(_HttpServer):
    """A receiver of the generic webhook that checks its signature."""

    def __init__(self, secret: str = WEBHOOK_SECRET) -> None:
        super().__init__()
        self.secret = secret

    @property
    def url(self) -> str:
        return f"{self.base}/hooks/watchkeeper"

    def answer(self, request: Request) -> tuple[int, Any]:
        from watchkeeper.alerting.sinks.webhook import verify

        headers = {k.lower(): v for k, v in request.headers.items()}
        signature = headers.get("x-watchkeeper-signature", "")
        timestamp = headers.get("x-watchkeeper-timestamp", "")
        if not verify(self.secret, timestamp, request.raw, signature):
            return 401, {"error": "bad signature"}
        return 200, {"ok": True}


@dataclass
class SmtpServer:
    """aiosmtpd on a free port, keeping every message it receives."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    port: int = 0
    _controller: Any = None

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller

        if not self.port:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                self.port = int(sock.getsockname()[1])
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 -- aiosmtpd API
                parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                outer.messages.append(parsed)
                outer.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 Message accepted for delivery"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
