"""What the local protocol servers share (slack_server.SlackServer, sink_servers' HTTP servers).

A ``ThreadingHTTPServer`` on a free 127.0.0.1 port, served from a daemon thread, that records every
request and can be scripted: :meth:`ScriptedHttpServer.fail` makes the next requests fail, one outcome
each; :attr:`ScriptedHttpServer.down` (or the :meth:`ScriptedHttpServer.outage` block) fails every request
until reset. Subclasses say how a request is answered in :meth:`ScriptedHttpServer._handler` and ask
:meth:`ScriptedHttpServer._next_outcome` for each request's fate.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

RequestT = TypeVar("RequestT")


class QuietHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 (keep-alive) request handler that logs nothing (quiet test output)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the base class's signature
        return


class ScriptedHttpServer(ABC, Generic[RequestT]):
    """A scriptable HTTP server in a thread, recording requests of type ``RequestT``."""

    def __init__(self) -> None:
        self.requests: list[RequestT] = []
        self.failures: list[str] = []
        self.down: str | None = None
        self._lock = threading.RLock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, *outcomes: str) -> None:
        """Make the next requests fail, one outcome per request."""
        with self._lock:
            self.failures.extend(outcomes)

    def reset(self) -> None:
        """Forget requests and scripted failures."""
        with self._lock:
            self.requests.clear()
            self.failures.clear()
            self.down = None

    @contextmanager
    def outage(self, outcome: str = "server_error") -> Iterator[None]:
        """Every request fails with ``outcome`` inside the block."""
        self.down = outcome
        try:
            yield
        finally:
            self.down = None

    def _next_outcome(self) -> str:
        with self._lock:
            if self.down is not None:
                return self.down
            return self.failures.pop(0) if self.failures else "ok"

    @abstractmethod
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class (it reaches this server through a closure)."""
