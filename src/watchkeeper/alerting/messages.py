"""The messages people read: Block Kit blocks, a plain-text fallback and a terminal rendering of each.

Every message is a :class:`Message` (title, ``text`` fallback for notifications and old clients,
``blocks``, and ``plain`` for the task log and ``make demo``). Blocks are plain dicts that follow
Block Kit (the tests validate them with ``slack_sdk.models.blocks``); this module imports nothing
heavy. Slack's limits are enforced here: at most 50 blocks, 3,000 characters per section, 150 per
header, 40,000 for ``text``. What does not fit becomes "… and N more findings" with a link to the full
report (the Airflow run when there is no report yet).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watchkeeper.alerting.notice import BASELINE_KEYS, AlertEntry, Notice, _number, describe, sort_entries
from watchkeeper.results import Status, Window

__all__ = [
    "BASELINE_KEYS",
    "AlertEntry",
    "Message",
    "describe",
    "render_notification_text",
    "render_plain",
    "render_slack",
    "sort_entries",
    "title_of",
]

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_TEXT_CHARS = 40_000
#: Our own budget for the fallback ``text`` (what a phone notification shows is far shorter anyway).
FALLBACK_TEXT_CHARS = 3000
#: Characters of all blocks together; keeps a message well below what Slack accepts.
MAX_TOTAL_BLOCK_CHARS = 30_000
#: Alerts shown in a consolidated message before "… and N more findings".
MAX_ALERTS_SHOWN = 10
#: Characters of a check's own message quoted under a finding.
MESSAGE_CHARS = 240

_ICON = {
    Status.OK: ":white_check_mark:",
    Status.SKIPPED: ":white_circle:",
    Status.WARNING: ":large_yellow_circle:",
    Status.CRITICAL: ":red_circle:",
    Status.ERROR: ":x:",
}
_PLAIN = {Status.OK: "OK", Status.SKIPPED: "--", Status.WARNING: "WARN", Status.CRITICAL: "CRIT", Status.ERROR: "ERR"}
_OVERALL = {Status.OK: "healthy", Status.SKIPPED: "healthy", Status.WARNING: "warning"}


@dataclass(frozen=True)
class Message:
    """One message: ``title`` (one line), ``text`` (Slack fallback), ``blocks`` and ``plain`` (terminal)."""

    title: str
    text: str
    blocks: list[dict[str, Any]]
    plain: str
    #: Severity that routes a top-level message (``warning`` or ``critical``).
    severity: str = "critical"

    def payload(self) -> dict[str, Any]:
        """What the outbox stores."""
        return {
            "title": self.title,
            "text": self.text,
            "blocks": self.blocks,
            "plain": self.plain,
            "severity": self.severity,
        }


def _is_share(metric: str) -> bool:
    return metric.endswith(("_share", "_rate")) and not metric.endswith("rate_change")


def fmt(value: Any, metric: str = "", *, signed: bool = False) -> str:
    """A number for people: shares as percentages, 3 significant digits, thousands separated."""
    number = _number(value)
    if number is None:
        return "—"
    sign = "+" if signed else ""
    if _is_share(metric):
        return f"{number * 100:{sign}.3g}{' pp' if signed else '%'}"
    if abs(number) >= 1000:
        return f"{number:{sign},.0f}"
    return f"{number:{sign}.3g}"


def change_text(finding: Mapping[str, Any]) -> str:
    """``+80% (+120)`` against the baseline, else ``1.3× threshold``, else ``—``."""
    metric = str(finding.get("metric", ""))
    relative, delta = _number(finding.get("change")), _number(finding.get("delta"))
    if relative is not None:
        text = f"{relative * 100:+.0f}%"
        return f"{text} ({fmt(delta, metric, signed=True)})" if delta is not None else text
    if delta is not None:
        return fmt(delta, metric, signed=True)
    value, limit = _number(finding.get("value")), _number(finding.get("threshold"))
    if value is not None and limit:
        return f"{fmt(value / limit)}× threshold"
    return "—"


def numbers_line(finding: Mapping[str, Any]) -> str:
    """``psi 0.313 · baseline — · threshold 0.25 · change 1.3× threshold`` (no markup).

    Results that are fine (a recovery) show only ``psi 0.02 (threshold 0.1)``.
    """
    metric = str(finding.get("metric", ""))
    if not Status(finding.get("status", "ok")).is_finding:
        return f"{metric} {fmt(finding.get('value'), metric)} (threshold {fmt(finding.get('threshold'), metric)})"
    return (
        f"{metric} {fmt(finding.get('value'), metric)} · baseline {fmt(finding.get('baseline'), metric)}"
        f" · threshold {fmt(finding.get('threshold'), metric)} · change {change_text(finding)}"
    )


# --------------------------------------------------------------------------- markup helpers


def esc(text: str) -> str:
    """Escape text for Slack mrkdwn (``&``, ``<``, ``>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def link(url: str | None, label: str) -> str:
    """A mrkdwn link, or the bare label when there is no URL."""
    return f"<{url}|{label}>" if url else label


def slack_mention(mention: str) -> str:
    """A config mention as Slack markup: ``@here`` → ``<!here>``, ``U…``/``@U…`` → ``<@U…>``,
    ``S…`` → ``<!subteam^S…>``; ``<…>`` passes through; other names stay text (Slack does not ping them)."""
    text = mention.strip()
    if text.startswith("<") and text.endswith(">"):
        return text
    bare = text.removeprefix("@")
    if bare in {"here", "channel", "everyone"}:
        return f"<!{bare}>"
    if re.fullmatch(r"[UW][A-Z0-9]{6,}", bare):
        return f"<@{bare}>"
    if re.fullmatch(r"S[A-Z0-9]{6,}", bare):
        return f"<!subteam^{bare}>"
    return esc(text)


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER_CHARS), "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_CHARS)}}


def _context(parts: Iterable[str]) -> dict[str, Any]:
    elements = [{"type": "mrkdwn", "text": clip(p, 2000)} for p in parts if p][:10]
    return {"type": "context", "elements": elements}


_DIVIDER: dict[str, Any] = {"type": "divider"}


def _window_text(window: Window | None) -> str:
    if window is None:
        return ""
    return f"{window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC"


def _overall(status: Status) -> str:
    return _OVERALL.get(status, "critical")


def _entry_section(entry: AlertEntry) -> str:
    status = Status(entry.severity)
    tag = {
        "new": "*new*",
        "escalated": f"*escalated* from {entry.previous_severity}",
        "ongoing": f"ongoing since {entry.since:%Y-%m-%d}" if entry.since else "ongoing",
        "resolved": f"recovered (was {entry.previous_severity})",
    }.get(entry.tag, entry.tag)
    subject = f"`{esc(entry.subject)}`" if entry.subject else "model-wide"
    lines = [f"{_ICON[status]} *{esc(entry.check)}* · {subject} — {tag}"]
    for finding in entry.findings:
        lines.append(f"• {esc(numbers_line(finding))}")
        if finding.get("message"):
            lines.append(f"   _{esc(clip(str(finding['message']), MESSAGE_CHARS))}_")
    return "\n".join(lines)


def _entry_plain(entry: AlertEntry) -> list[str]:
    status = Status(entry.severity)
    tag = {"escalated": f"ESCALATED from {entry.previous_severity}", "resolved": "RECOVERED"}.get(
        entry.tag, entry.tag.upper()
    )
    if entry.tag == "ongoing" and entry.since is not None:
        tag = f"ongoing since {entry.since:%Y-%m-%d}"
    lines = [f"  {_PLAIN[status]:<4} {entry.label}  {tag}"]
    for finding in entry.findings:
        lines.append(f"       {numbers_line(finding)}")
        if finding.get("message"):
            lines.append(f"       {clip(str(finding['message']), MESSAGE_CHARS)}")
    return lines


def _fit(
    fixed: int, entries: Sequence[AlertEntry], max_shown: int, full_url: str | None
) -> tuple[list[dict[str, Any]], list[str], int]:
    """Sections of the entries that fit Slack's limits, their plain lines, and the findings left out."""
    budget_blocks = MAX_BLOCKS - fixed
    blocks: list[dict[str, Any]] = []
    plain: list[str] = []
    chars = 0
    shown = 0
    for index, entry in enumerate(entries):
        section = _section(_entry_section(entry))
        size = len(section["text"]["text"])
        rest = len(entries) - index - 1
        room = budget_blocks - len(blocks) - (1 if rest else 0)  # keep a block for "… and N more"
        if shown >= max_shown or room < 1 or chars + size > MAX_TOTAL_BLOCK_CHARS:
            break
        blocks.append(section)
        plain.extend(_entry_plain(entry))
        chars += size
        shown += 1
    hidden = sum(max(len(e.findings), 1) for e in entries[shown:])
    if hidden:
        where = link(full_url, "full report") if full_url else "the full report in the metric store"
        blocks.append(_section(f"… and {hidden} more finding{'s' if hidden != 1 else ''} — see {where}"))
        plain.append(
            f"  … and {hidden} more finding{'s' if hidden != 1 else ''} — see {full_url or 'the metric store'}"
        )
    return blocks, plain, hidden


def _links(run_url: str | None, report_url: str | None) -> list[str]:
    parts = []
    if run_url:
        parts.append(link(run_url, "Airflow run"))
    if report_url:
        parts.append(link(report_url, "Report"))
    return parts


def _owner_line(owner: str, mentions: Sequence[str], *, markup: bool = True) -> str:
    line = f"Owner: {esc(owner) if markup else owner}" if owner else ""
    if mentions:
        shown = [slack_mention(m) if markup else m for m in mentions]
        line += (" · cc " if line else "cc ") + " ".join(shown)
    return line


def _plain_links(run_url: str | None, report_url: str | None) -> list[str]:
    return [f"Airflow run: {run_url}" if run_url else "", f"Report: {report_url}" if report_url else ""]


def _done(
    title: str, text: str, blocks: list[dict[str, Any]], plain: Iterable[str], severity: str = "critical"
) -> Message:
    return Message(
        title=clip(title, MAX_HEADER_CHARS),
        text=clip(text, min(FALLBACK_TEXT_CHARS, MAX_TEXT_CHARS)),
        blocks=blocks,
        plain="\n".join(line for line in plain if line),
        severity=severity,
    )


def _short(entry: AlertEntry) -> str:
    """``drift[amount] psi 0.4`` for the fallback text, escaped (a subject may be any category or column name)."""
    finding = entry.findings[0] if entry.findings else {}
    metric = str(finding.get("metric", ""))
    return esc(f"{entry.label} {metric} {fmt(finding.get('value'), metric)}".strip())


# --------------------------------------------------------------------------- messages


def alert_message(
    *,
    model: str,
    owner: str,
    mentions: Sequence[str],
    window: Window,
    status: Status,
    entries: Sequence[AlertEntry],
    run_url: str | None,
    report_url: str | None,
    max_shown: int = MAX_ALERTS_SHOWN,
) -> Message:
    """The consolidated message of one model run: overall status, top alerts, links, owner."""
    entries = sort_entries(entries)
    overall = _overall(status)
    icon = _ICON.get(status, ":red_circle:") if overall != "healthy" else _ICON[Status.OK]
    n_findings = sum(len(e.findings) for e in entries)
    by_severity = {s: sum(1 for e in entries if e.severity == s) for s in ("error", "critical", "warning")}
    by_tag = {t: sum(1 for e in entries if e.tag == t) for t in ("new", "escalated", "ongoing")}
    counts = ", ".join(f"{n} {s}" for s, n in by_severity.items() if n)
    tags = ", ".join(f"{n} {t}" for t, n in by_tag.items() if n)
    plural = "s" if len(entries) != 1 else ""
    found = f"{n_findings} finding{'s' if n_findings != 1 else ''}"
    summary = f"*{len(entries)} alert{plural}* ({found}): {counts} · {tags}"
    head = [
        _header(f"{icon} {model}: {overall.upper()}"),
        _section(f"*Window* {_window_text(window)}\n{summary}"),
        _DIVIDER,
    ]
    tail = [_context([*_links(run_url, report_url), _owner_line(owner, mentions)])]
    body, body_plain, _ = _fit(len(head) + len(tail), entries, max_shown, report_url or run_url)
    title = f"{model}: {overall.upper()} — {len(entries)} alert{plural} in window {window.start:%Y-%m-%d %H:%M}"
    fallback = f"{esc(model)} {overall.upper()}: " + "; ".join(_short(e) for e in entries[:5])
    if len(entries) > 5:
        fallback += f"; … and {len(entries) - 5} more"
    if mentions:
        fallback += " — cc " + " ".join(slack_mention(m) for m in mentions)
    plain = [
        f"{model}: {overall.upper()}  (window {_window_text(window)})",
        f"{len(entries)} alert{plural} ({found}): {counts}; {tags}",
        *body_plain,
        *_plain_links(run_url, report_url),
        _owner_line(owner, mentions, markup=False),
    ]
    worst = "critical" if any(e.severity != "warning" for e in entries) else "warning"
    return _done(title, fallback, [*head, *body, *tail], plain, worst)


def reminder_message(
    *, model: str, window: Window, entries: Sequence[AlertEntry], cooldown_text: str, run_url: str | None
) -> Message:
    """A thread reply: alerts still open after the cooldown (or escalated, when sent as a reply)."""
    entries = sort_entries(entries)
    intro = f":hourglass_flowing_sand: *{esc(model)}: still failing* in window {_window_text(window)}"
    intro += f" (reminders at most every {cooldown_text})"
    head = [_section(intro)]
    tail = [_context(_links(run_url, None))] if run_url else []
    body, body_plain, _ = _fit(len(head) + len(tail), entries, MAX_ALERTS_SHOWN, run_url)
    title = f"{model}: still failing — " + ", ".join(e.label for e in entries[:5])
    plain = [f"{model}: still failing in window {_window_text(window)}", *body_plain, *_plain_links(run_url, None)]
    worst = "critical" if any(e.severity != "warning" for e in entries) else "warning"
    return _done(
        title,
        f"{esc(model)} still failing: " + "; ".join(_short(e) for e in entries[:5]),
        [*head, *body, *tail],
        plain,
        worst,
    )


def recovered_message(*, model: str, window: Window, entries: Sequence[AlertEntry], run_url: str | None) -> Message:
    """A thread reply: alerts that were open and are fine again."""
    entries = sorted(entries, key=lambda e: e.label)
    labels = ", ".join(e.label for e in entries)
    head = [_section(f":white_check_mark: *{esc(model)}: recovered* in window {_window_text(window)}")]
    tail = [_context(_links(run_url, None))] if run_url else []
    body, body_plain, _ = _fit(len(head) + len(tail), entries, MAX_ALERTS_SHOWN, run_url)
    plain = [f"{model}: recovered in window {_window_text(window)}", *body_plain, *_plain_links(run_url, None)]
    return _done(
        f"{model}: recovered — {labels}", esc(f"{model} recovered: {labels}"), [*head, *body, *tail], plain, "warning"
    )


def monitor_failed_message(
    *,
    model: str,
    owner: str,
    mentions: Sequence[str],
    dag_id: str,
    task: str,
    run_id: str,
    error: str,
    log_url: str | None,
    run_url: str | None,
) -> Message:
    """A broken monitor: which model, DAG, task and run, the error, and where the log is."""
    error = error.strip() or "unknown error (see the task log)"
    where = f"*DAG* `{esc(dag_id)}` · *task* `{esc(task)}` · *run* `{esc(run_id)}`"
    meaning = (
        f"The checks of this run did not complete, so *{esc(model)} is not monitored* for this window. "
        "No alert here does not mean healthy."
    )
    code = clip(error, MAX_SECTION_CHARS - 20).replace("```", "'''")
    blocks = [
        _header(f":rotating_light: {model}: monitoring failed"),
        _section(f"{where}\n{meaning}"),
        _section(f"```{esc(code)}```"),
        _context([*_links(run_url, None), link(log_url, "Task log") if log_url else "", _owner_line(owner, mentions)]),
    ]
    first_line = error.splitlines()[0] if error else ""
    text = esc(f"Monitoring of {model} FAILED in {dag_id}.{task} (run {run_id}): {clip(first_line, 300)}")
    if mentions:
        text += " — cc " + " ".join(slack_mention(m) for m in mentions)
    plain = [
        f"{model}: MONITORING FAILED  (dag {dag_id}, task {task}, run {run_id})",
        f"  {clip(error, 2000)}",
        "  The checks of this run did not complete: no alert does not mean healthy.",
        f"Task log: {log_url}" if log_url else "",
        *_plain_links(run_url, None),
        _owner_line(owner, mentions, markup=False),
    ]
    return _done(f"{model}: monitoring failed in {task}", text, blocks, plain, "critical")


def _legacy_message(notice: Notice) -> Message:
    legacy = notice.legacy or {}
    title = str(legacy.get("title") or f"{notice.model}: notification")
    text = str(legacy.get("text") or legacy.get("plain") or title)
    blocks = list(legacy.get("blocks") or [])
    return Message(title, text, blocks, str(legacy.get("plain") or text), notice.severity)


def event_message(notice: Notice) -> Message:
    """An ``event`` notice (e.g. from the Airflow notifier in another DAG): its title, text, failure and links."""
    severity = Status.CRITICAL if notice.severity != "warning" else Status.WARNING
    title = notice.title or f"{notice.model}: {notice.severity}"
    parts = [esc(clip(notice.text, MAX_SECTION_CHARS - 100))] if notice.text else []
    plain = [title, notice.text]
    if notice.failure is not None:
        failure = notice.failure
        parts.append(f"*DAG* `{esc(failure.dag_id)}` · *task* `{esc(failure.task)}` · *run* `{esc(failure.run_id)}`")
        code = clip(failure.error, MAX_SECTION_CHARS - 200).replace("```", "'''")
        parts.append(f"```{esc(code)}```")
        plain += [
            f"  dag {failure.dag_id}, task {failure.task}, run {failure.run_id}",
            f"  {clip(failure.error, 2000)}",
        ]
    links = [*_links(notice.run_url, notice.report_url), link(notice.log_url, "Task log") if notice.log_url else ""]
    blocks = [_header(f"{_ICON[severity]} {title}")]
    if parts:
        blocks.append(_section("\n".join(parts)))
    owner = _owner_line(notice.owner, notice.mentions)
    if any(links) or owner:
        blocks.append(_context([*links, owner]))
    text = esc(f"{title}: {notice.text}" if notice.text else title)
    if notice.mentions:
        text += " — cc " + " ".join(slack_mention(m) for m in notice.mentions)
    plain += [*_plain_links(notice.run_url, notice.report_url), f"Task log: {notice.log_url}" if notice.log_url else ""]
    plain.append(_owner_line(notice.owner, notice.mentions, markup=False))
    return _done(title, text, blocks, plain, str(severity_of_notice(notice)))


def severity_of_notice(notice: Notice) -> str:
    """``warning`` or ``critical``."""
    return "warning" if notice.severity == "warning" else "critical"


def render_slack(notice: Notice) -> Message:
    """The notice as a Slack message: Block Kit, the escaped fallback ``text``, and its plain-text rendering."""
    if notice.legacy is not None:
        return _legacy_message(notice)
    if notice.kind == "event":
        return event_message(notice)
    window = notice.window
    if notice.kind == "monitor_failed" and notice.failure is not None:
        return monitor_failed_message(
            model=notice.model,
            owner=notice.owner,
            mentions=notice.mentions,
            dag_id=notice.failure.dag_id,
            task=notice.failure.task,
            run_id=notice.failure.run_id,
            error=notice.failure.error,
            log_url=notice.log_url,
            run_url=notice.run_url,
        )
    if window is None:
        raise ValueError(f"a {notice.kind} notification of model {notice.model} has no window")
    if notice.kind == "reminder":
        return reminder_message(
            model=notice.model,
            window=window,
            entries=notice.alerts,
            cooldown_text=notice.cooldown or "the cooldown",
            run_url=notice.run_url,
        )
    if notice.kind == "recovered":
        return recovered_message(model=notice.model, window=window, entries=notice.alerts, run_url=notice.run_url)
    return alert_message(
        model=notice.model,
        owner=notice.owner,
        mentions=notice.mentions,
        window=window,
        status=Status(notice.status),
        entries=notice.alerts,
        run_url=notice.run_url,
        report_url=notice.report_url,
    )


def render_plain(notice: Notice) -> str:
    """The notice as plain text (task log, terminal, e-mail text part)."""
    return render_slack(notice).plain


def title_of(notice: Notice) -> str:
    """One line saying what the notice is (e-mail subject, card title)."""
    return render_slack(notice).title


def _notice_of(payload: Mapping[str, Any], get: Any) -> Notice:
    return Notice.from_json(payload, model=str(get("model") or ""), kind=str(get("kind") or "alert"))


def render_notification_text(notification: Any) -> str:
    """A notification (a stored :class:`~watchkeeper.store.NotificationRow` or a JSONL record) as text.

    The first line says what it is and where it went; the rest is the message as plain text.
    """
    get = notification.get if isinstance(notification, Mapping) else lambda k, d=None: getattr(notification, k, d)
    payload = get("payload") or {}
    plain = get("plain")
    if not plain and isinstance(payload, Mapping) and payload:
        plain = render_plain(_notice_of(payload, get))
    plain = plain or get("text") or ""
    channel = get("delivered_channel") or get("channel") or "(default channel)"
    thread = " · thread reply" if (get("parent_key") or get("thread")) else ""
    status = get("status")
    head = f"[{get('kind', 'notification')} → {channel}{thread}{' · ' + str(status) if status else ''}]"
    return f"{head}\n{plain}"
