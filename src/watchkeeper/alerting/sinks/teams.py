"""Microsoft Teams incoming webhook (or a Power Automate "post to a channel when a webhook request is received"
flow): an Adaptive Card per notification.

The card has the title, the window, one block per alert key (severity, lifecycle event, each finding's
value, baseline, threshold and change, the check's message) and buttons to the report, the Airflow run
and the task log. Teams reads card text as Markdown: every text from the data is Markdown-escaped, so a
category value such as ``[click](http://evil)`` or ``**x**`` shows as typed. No threads: recoveries and
reminders are standalone cards. The URL is a secret: it comes from an Airflow connection (``conn_id``,
the URL as password) or an environment variable (``url_env``) and never appears in an error.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field

from watchkeeper.alerting.messages import MAX_ALERTS_SHOWN, numbers_line, sort_entries, title_of
from watchkeeper.alerting.sinks import http
from watchkeeper.alerting.sinks.base import ConnectionOrEnvConfig, Delivered, SendContext

if TYPE_CHECKING:
    from watchkeeper.alerting.notice import AlertEntry, Notice

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
_COLOR = {"critical": "attention", "error": "attention", "warning": "warning", "ok": "good"}
MESSAGE_CHARS = 400


def md(text: object) -> str:
    """Text from the data, Markdown-escaped for a card's TextBlock."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def _text(text: str, **kw: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **kw}


def _entry_block(entry: AlertEntry) -> dict[str, Any]:
    event = {"escalated": f"escalated from {entry.previous_severity}", "resolved": "recovered"}.get(
        entry.tag, entry.tag
    )
    items: list[dict[str, Any]] = [
        _text(
            f"**{md(entry.severity.upper())}** {md(entry.label)} · {md(event)}",
            color=_COLOR.get(entry.severity, "default"),
        )
    ]
    for finding in entry.findings:
        items.append(_text(md(numbers_line(finding)), spacing="None", isSubtle=False))
        if finding.get("message"):
            items.append(
                _text(md(str(finding["message"])[:MESSAGE_CHARS]), spacing="None", isSubtle=True, size="Small")
            )
    return {"type": "Container", "items": items, "separator": True}


def card(notice: Notice) -> dict[str, Any]:
    """The Adaptive Card (1.4) of a notice."""
    title = title_of(notice)
    body: list[dict[str, Any]] = [
        _text(md(title), size="Medium", weight="Bolder", color=_COLOR.get(notice.severity, "default"))
    ]
    if notice.window is not None:
        body.append(
            _text(
                md(f"Window {notice.window.start:%Y-%m-%d %H:%M} → {notice.window.end:%Y-%m-%d %H:%M} UTC"),
                isSubtle=True,
            )
        )
    if notice.text:
        body.append(_text(md(notice.text[:2000])))
    entries = sort_entries(list(notice.alerts))
    body += [_entry_block(e) for e in entries[:MAX_ALERTS_SHOWN]]
    hidden = len(entries) - MAX_ALERTS_SHOWN
    if hidden > 0:
        body.append(_text(f"… and {hidden} more alert{'s' if hidden != 1 else ''} — see the report", isSubtle=True))
    if notice.failure is not None:
        failure = notice.failure
        body.append(
            _text(
                md(f"DAG {failure.dag_id} · task {failure.task} · run {failure.run_id}")
                + "\n\nThe checks of this run did not complete: no alert does not mean healthy."
            )
        )
        body.append(_text(md(failure.error[:2000]), fontType="Monospace", size="Small"))
    if notice.owner:
        body.append(_text(f"Owner: {md(notice.owner)}", isSubtle=True, size="Small"))
    actions = [
        {"type": "Action.OpenUrl", "title": label, "url": url}
        for label, url in (("Report", notice.report_url), ("Airflow run", notice.run_url), ("Task log", notice.log_url))
        if url
    ]
    content: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


class TeamsConfig(ConnectionOrEnvConfig):
    """Microsoft Teams: an incoming webhook or a Workflows webhook URL."""

    kind: Literal["teams"] = Field(default="teams", description="Which sink: teams.")
    conn_id: str | None = Field(default=None, description="Airflow connection with the webhook URL as its password.")
    url_env: str | None = Field(default=None, description="Environment variable with the webhook URL.")

    one_source: ClassVar[str | None] = (
        "give the webhook URL through exactly one of conn_id or url_env -- never in the YAML"
    )


class TeamsSink(http.UrlSink):
    """Microsoft Teams webhook: one Adaptive Card per notification."""

    kind = "teams"
    config = TeamsConfig
    service = "the Teams webhook"
    url_what = "the Teams webhook URL"
    refused_fix = (
        "the webhook was deleted or its URL is wrong: create a new one and put its URL in the {source}; the "
        "notification stays in the outbox"
    )

    def send(self, notice: Notice, ctx: SendContext) -> Delivered:
        return self.post(json.dumps(card(notice)).encode(), headers={})
