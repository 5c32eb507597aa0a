"""No service: the notification goes to the task log (by the outbox) and one JSON line of the alert file.

What ``make demo`` uses. The line holds the structured notice and its plain-text and Slack renderings
(``{"record": "notification", "kind", "model", "key", "sink", "channel", "title", "text", "plain", "blocks",
"notice", ...}``), so ``watchkeeper.alerting.read_notifications`` can print it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from watchkeeper.alerting.messages import render_slack
from watchkeeper.alerting.sinks.base import Delivered, DeliveryFailure, SendContext, Sink, SinkConfig

if TYPE_CHECKING:
    from watchkeeper.alerting.notice import Notice


class LogConfig(SinkConfig):
    """The task log and ``$WATCHKEEPER_HOME/alerts.jsonl`` (or another file)."""

    kind: Literal["log"] = Field(default="log", description="Which sink: log.")
    path: str | None = Field(default=None, description="JSONL file (default: $WATCHKEEPER_HOME/alerts.jsonl).")

    def target(self) -> str:
        """The file, when not the default."""
        return self.path or ""


class LogSink(Sink):
    """The task log and one JSON line per notification."""

    kind = "log"
    config = LogConfig
    source = "task log and JSONL file"

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    @classmethod
    def from_config(cls, config: Any, *, model: str, default_channel: str | None) -> LogSink:
        """No credentials."""
        return cls(Path(config.path) if config.path else None)

    def send(self, notice: Notice, ctx: SendContext) -> Delivered:
        from watchkeeper.reporting import append_record

        message = render_slack(notice)
        window = notice.window
        record = {
            "record": "notification",
            "kind": notice.kind,
            "model": notice.model,
            "key": ctx.key,
            "sink": self.key or self.kind,
            "thread": ctx.parent,
            "channel": ctx.channel,
            "window_start": window.start.isoformat() if window else None,
            "window_end": window.end.isoformat() if window else None,
            "title": message.title,
            "text": message.text,
            "plain": message.plain,
            "blocks": message.blocks,
            "notice": notice.to_json(),
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
        return Delivered(ts=None, channel=ctx.channel)
