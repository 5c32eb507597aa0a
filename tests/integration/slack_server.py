"""A local HTTP server that speaks the part of Slack's Web API Watchkeeper uses, in a thread.

``POST /api/chat.postMessage`` (JSON or form body, bearer token) answers like Slack: ``ok``, ``channel``
(an id), ``ts`` and the message (``thread_ts`` honoured). ``POST /services/<...>`` is an incoming
webhook (answers ``ok``). Every request is recorded. Failures are scripted with :meth:`SlackServer.fail`
(the next N requests) or :attr:`SlackServer.down` (all requests until reset): ``ratelimited`` (429 with
``Retry-After``), ``server_error`` (500), ``slow`` (answers after ``slow_seconds``, without posting),
``channel_not_found``, ``invalid_auth``, ``token_revoked``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from local_http import QuietHandler, ScriptedHttpServer

TOKEN = "xoxb-test-0123456789-secret"
WEBHOOK_PATH = "/services/T000TEST/B000TEST/webhooksecret0123456789"


@dataclass
class Request:
    """One request as received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    outcome: str
    at: float = field(default_factory=time.monotonic)


@dataclass
class Posted:
    """One message the fake Slack accepted."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    via: str  # "api" or "webhook"


class SlackServer(ScriptedHttpServer[Request]):
    """The fake Slack. ``url`` is the Web API base (``http://127.0.0.1:PORT/api/``)."""

    def __init__(self, channels: dict[str, str] | None = None, tokens: set[str] | None = None) -> None:
        #: Channel name (or id) -> channel id.
        self.channels = channels if channels is not None else {"#ml-alerts": "C0ALERTS", "#ml-oncall": "C0ONCALL"}
        self.tokens = tokens if tokens is not None else {TOKEN}
        self.messages: list[Posted] = []
        self.retry_after = 1
        self.slow_seconds = 1.5
        self._ts = 1_790_000_000
        super().__init__()

    # -- control ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def reset(self) -> None:
        """Forget requests, messages and scripted failures."""
        with self._lock:
            super().reset()
            self.messages.clear()

    def thread(self, parent_ts: str) -> list[Posted]:
        """Replies posted in the thread of ``parent_ts``."""
        return [m for m in self.messages if m.thread_ts == parent_ts]

    def top_level(self) -> list[Posted]:
        """Messages that are not thread replies."""
        return [m for m in self.messages if m.thread_ts is None]

    # -- serving ---------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"{self._ts}.000100"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def _read(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                kind = self.headers.get("Content-Type", "")
                if "json" in kind:
                    return dict(json.loads(raw or "{}"))
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                for name in ("blocks", "attachments"):
                    if isinstance(form.get(name), str):
                        form[name] = json.loads(form[name])
                return form

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = (json.dumps(body) if not isinstance(body, str) else body).encode("utf-8")
                self.send_response(status)
                content = "application/json; charset=utf-8" if not isinstance(body, str) else "text/plain"
                self.send_header("Content-Type", content)
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    self.close_connection = True

            def do_POST(self) -> None:
                body = self._read()
                outcome = server._next_outcome()
                headers = {k: v for k, v in self.headers.items()}
                with server._lock:
                    server.requests.append(Request(self.path, headers, body, outcome))
                if self.path.startswith("/services/"):
                    self._webhook(body, outcome)
                elif self.path.rstrip("/") == "/api/chat.postMessage":
                    self._post_message(body, outcome)
                else:
                    self._send(404, {"ok": False, "error": "unknown_method"})

            def _common_failure(self, outcome: str, webhook: bool) -> bool:
                if outcome == "ratelimited":
                    body: Any = "rate_limited" if webhook else {"ok": False, "error": "ratelimited"}
                    self._send(429, body, {"Retry-After": str(server.retry_after)})
                elif outcome == "server_error":
                    self._send(500, "internal_error" if webhook else {"ok": False, "error": "internal_error"})
                elif outcome == "slow":
                    time.sleep(server.slow_seconds)  # the client has given up by now; nothing is posted
                    self._send(503, "timeout" if webhook else {"ok": False, "error": "request_timeout"})
                else:
                    return False
                return True

            def _webhook(self, body: dict[str, Any], outcome: str) -> None:
                if self._common_failure(outcome, webhook=True):
                    return
                if outcome in {"invalid_auth", "token_revoked"} or self.path != WEBHOOK_PATH:
                    self._send(403, "invalid_token")
                    return
                if outcome == "channel_not_found":
                    self._send(404, "channel_not_found")
                    return
                with server._lock:
                    server.messages.append(
                        Posted(
                            "C0WEBHOOK", server._next_ts(), body.get("text", ""), body.get("blocks"), None, "webhook"
                        )
                    )
                self._send(200, "ok")

            def _post_message(self, body: dict[str, Any], outcome: str) -> None:
                if self._common_failure(outcome, webhook=False):
                    return
                token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
                if outcome in {"invalid_auth", "token_revoked"} or token not in server.tokens:
                    error = outcome if outcome in {"invalid_auth", "token_revoked"} else "invalid_auth"
                    self._send(200, {"ok": False, "error": error})
                    return
                channel = str(body.get("channel") or "")
                channel_id = server.channels.get(channel) or (channel if channel in server.channels.values() else None)
                if outcome == "channel_not_found" or channel_id is None:
                    self._send(200, {"ok": False, "error": "channel_not_found"})
                    return
                if not body.get("text") and not body.get("blocks"):
                    self._send(200, {"ok": False, "error": "no_text"})
                    return
                ts = server._next_ts()
                thread_ts = body.get("thread_ts") or None
                with server._lock:
                    server.messages.append(
                        Posted(channel_id, ts, body.get("text", ""), body.get("blocks"), thread_ts, "api")
                    )
                message = {"type": "message", "text": body.get("text", ""), "ts": ts, "bot_id": "B0BOT"}
                if thread_ts:
                    message["thread_ts"] = thread_ts
                self._send(200, {"ok": True, "channel": channel_id, "ts": ts, "message": message})

        return Handler
