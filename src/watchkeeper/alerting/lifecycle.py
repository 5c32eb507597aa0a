"""The alert lifecycle: from one window's results and the stored key states to messages and new states.

Pure logic, no I/O: :func:`plan_window` is called by the store inside the transaction that writes its
result, so concurrent runs of one model never decide from the same state.

An alert key is (model, check, subject); the findings of all metrics of one check and subject form
one alert. States: ``open`` (first window with a finding), ``ongoing`` (still a finding in a later
window), ``resolved`` (evaluated again and no longer an alert). Per window:

* any key that is **new** (never announced in this incident) or **escalated** (worse than when it
  was last announced) makes the run post **one consolidated top-level message** listing every open
  alert of the model in that window; each listed key's thread moves to that message;
* otherwise keys still open after ``cooldown`` since they were last announced get a **reminder**
  reply in their thread (one reply per thread);
* keys that were announced and are now fine get a **recovered** reply in their thread;
* during quiet hours new warnings and warning reminders are **held**: announced by the first run
  outside quiet hours if still open (or listed in a message that a critical sends anyway); criticals
  go out, and so do recoveries (thread replies that mention nobody);
* only-skipped results (e.g. drift on an empty window) leave a key as it is; a key of a check family
  present in the results but with no result any more counts as fine.

Re-dispatching the window a key was last updated with (a task retry, a re-run) starts from the
state saved before that window (``previous``), so it takes the same decisions and produces the same
idempotency keys: the outbox does not queue the messages twice. A window older than a key's latest
one (a backfill) does not touch that key.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from watchkeeper.alerting import notice as nt
from watchkeeper.alerting.routing import in_quiet_hours, is_alertable, route, severity_of
from watchkeeper.alerting.sinkset import SinkSet
from watchkeeper.config import Severity
from watchkeeper.results import CheckResult, Status, Window, worst

if TYPE_CHECKING:
    from watchkeeper.config import ModelConfig
    from watchkeeper.store import AlertingPlan, AlertStateRow, NotificationRow

Key = tuple[str, str]

OPEN, ONGOING, RESOLVED = "open", "ongoing", "resolved"
#: How long the outbox keeps trying to deliver a message.
DEFAULT_TTL = timedelta(days=3)


@dataclass(frozen=True)
class RunInfo:
    """The run being dispatched."""

    model: ModelConfig
    window: Window
    run_id: str
    dag_id: str
    now: datetime
    run_url: str | None = None
    report_url: str | None = None
    ttl: timedelta = DEFAULT_TTL


@dataclass
class Counts:
    """What the plan did, by key (for the dispatch summary)."""

    opened: int = 0
    ongoing: int = 0
    escalated: int = 0
    reminded: int = 0
    resolved: int = 0
    held: int = 0
    stale: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "opened": self.opened,
            "ongoing": self.ongoing,
            "escalated": self.escalated,
            "reminded": self.reminded,
            "resolved": self.resolved,
            "held": self.held,
            "stale": self.stale,
        }


@dataclass
class _Decision:
    key: Key
    state: AlertStateRow
    base: AlertStateRow | None
    category: str  # new | escalated | reminder | quiet | held | recovered | silent
    alertable: list[CheckResult]
    #: The stored row when it already holds an earlier attempt at this same window.
    retried: AlertStateRow | None = None

    def notified_at(self, now: datetime) -> datetime:
        """``now``, or the time an earlier attempt at this window notified (so retries keep the cooldown)."""
        earlier = self.retried.notified_at if self.retried is not None else None
        before = self.base.notified_at if self.base is not None else None
        return earlier if earlier is not None and (before is None or earlier > before) else now


def idempotency_key(kind: str, model: str, *parts: Any) -> str:
    """``kind:model:digest`` -- the same message of the same window always gets the same key."""
    digest = hashlib.sha256(json.dumps([kind, model, *parts], default=str, sort_keys=True).encode()).hexdigest()
    return f"{kind}:{model[:48]}:{digest[:32]}"


def _label(key: Key) -> str:
    return f"{key[0]}[{key[1]}]" if key[1] else key[0]


def _rank(severity: str | None) -> int:
    return Status(severity).rank if severity else -1


def _humanize(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def plan_window(
    info: RunInfo, results: Sequence[CheckResult], states: Mapping[Key, AlertStateRow]
) -> tuple[AlertingPlan, Counts]:
    """Decide the new key states and the messages of one window (see the module docstring)."""
    from watchkeeper.store import AlertStateRow

    settings = info.model.alerts
    window, now = info.window, info.now
    quiet = in_quiet_hours(settings, now)
    groups: dict[Key, list[CheckResult]] = defaultdict(list)
    for result in results:
        groups[(result.check, result.subject or "")].append(result)
    families = {r.check for r in results}
    keys = set(groups) | {k for k, s in states.items() if k[0] in families and s.state != RESOLVED}
    counts = Counts()
    decisions: list[_Decision] = []
    for key in sorted(keys):
        stored = states.get(key)
        if stored is not None and stored.window != window and stored.window_end >= window.end:
            counts.stale += 1  # a backfill of an older window: the key has moved on
            continue
        # A retry or re-run of the key's latest window starts from the state saved before that window.
        retried = stored if stored is not None and stored.window == window else None
        base = stored
        if retried is not None:
            base = AlertStateRow.from_snapshot(retried.previous) if retried.previous else None
        group = groups.get(key, [])
        if group and all(r.status is Status.SKIPPED for r in group):
            continue  # not evaluated: neither ongoing nor recovered
        alertable = [r for r in group if is_alertable(r.status, settings)]
        snapshot = base.snapshot() if base is not None else None
        if alertable:
            decisions.append(
                _open(info, key, base=base, retried=retried, alertable=alertable, snapshot=snapshot, quiet=quiet)
            )
        elif base is not None and base.state != RESOLVED:
            current = [nt.describe(r) for r in group if r.status is not Status.SKIPPED]
            state = replace(
                base,
                state=RESOLVED,
                findings=current,
                window_start=window.start,
                window_end=window.end,
                resolved_at=now,
                previous=snapshot,
            )
            decisions.append(_Decision(key, state, base, "recovered" if base.notified_at is not None else "silent", []))
    return _compose(info, decisions, counts, families, results)


def _open(
    info: RunInfo,
    key: Key,
    *,
    base: AlertStateRow | None,
    retried: AlertStateRow | None,
    alertable: list[CheckResult],
    snapshot: dict[str, Any] | None,
    quiet: bool,
) -> _Decision:
    from watchkeeper.store import AlertStateRow

    severity = str(worst([r.status for r in alertable]))
    ordered = sorted(alertable, key=lambda r: (-r.status.rank, r.metric))
    findings = [nt.describe(r) for r in ordered]
    if base is None or base.state == RESOLVED:  # a new incident
        state = AlertStateRow(
            model=info.model.name,
            check=key[0],
            subject=key[1],
            state=OPEN,
            severity=severity,
            findings=findings,
            opened_at=info.window.start,
            window_start=info.window.start,
            window_end=info.window.end,
            previous=snapshot,
        )
    else:
        state = replace(
            base,
            state=ONGOING,
            severity=severity,
            findings=findings,
            window_start=info.window.start,
            window_end=info.window.end,
            resolved_at=None,
            previous=snapshot,
        )
    if state.notified_at is None:  # a new incident, or one held back so far
        category = "new"
    elif _rank(severity) > _rank(state.notified_severity):
        category = "escalated"
    elif info.now - state.notified_at >= info.model.alerts.cooldown:
        category = "reminder"
    else:
        category = "quiet"
    if quiet and category in {"new", "reminder"} and severity_of(severity) is Severity.WARNING:
        category = "held"
    return _Decision(key, state, base, category, alertable, retried)


def _entry(decision: _Decision, tag: str) -> nt.AlertEntry:
    state = decision.state
    previous = decision.base.notified_severity if decision.base is not None else None
    if tag == "resolved" and decision.base is not None:
        # the worst it was announced at or reached: sinks with a floor hear about the recovery they alerted on
        known = [s for s in (decision.base.severity, decision.base.notified_severity) if s]
        previous = max(known, key=nt.severity_rank, default=None)
    return nt.AlertEntry(
        check=state.check,
        subject=state.subject,
        severity=state.severity if tag != "resolved" else "ok",
        tag=tag,
        findings=list(state.findings),
        since=state.opened_at,
        previous_severity=previous,
    )


def _notice(info: RunInfo, kind: str, entries: list[nt.AlertEntry], **kw: Any) -> nt.Notice:
    """The structured notification of this run (what happened; each sink renders it when sending)."""
    model = info.model
    entries = nt.sort_entries(entries)
    if kind == "recovered":
        severity = max((e.previous_severity or "warning" for e in entries), key=nt.severity_rank, default="warning")
    else:
        severity = "critical" if any(e.severity != "warning" for e in entries) else "warning"
    links = {"run": info.run_url, "report": info.report_url if kind == "alert" else None}
    return nt.Notice(
        kind=kind,
        model=model.name,
        severity=str(severity_of(severity)) if severity != "ok" else "warning",
        owner=model.owner,
        mentions=tuple(model.alerts.mentions),
        window=info.window,
        alerts=tuple(entries),
        links={k: v for k, v in links.items() if v},
        **kw,
    )


def _new_notification(
    info: RunInfo,
    kind: str,
    key: str,
    notice: nt.Notice,
    alert_keys: list[str],
    *,
    channel: str | None,
    parent: str | None,
) -> NotificationRow:
    from watchkeeper.alerting.messages import title_of
    from watchkeeper.store import NotificationRow

    notice = replace(notice, title=notice.title or title_of(notice))  # a one-line summary for lists and reports
    sinks = SinkSet(info.model.alerts, info.model.name).targets(notice)
    return NotificationRow(
        idempotency_key=key,
        model=info.model.name,
        kind=kind,
        payload=notice.to_json(),
        status="pending" if sinks else "skipped",
        sinks=sinks,
        created_at=info.now,
        expires_at=info.now + info.ttl,
        next_attempt_at=info.now,
        channel=channel,
        parent_key=parent,
        alert_keys=alert_keys,
        run_id=info.run_id,
        window_start=info.window.start,
        window_end=info.window.end,
    )


def _compose(
    info: RunInfo, decisions: list[_Decision], counts: Counts, families: set[str], results: Sequence[CheckResult]
) -> tuple[AlertingPlan, Counts]:
    from watchkeeper.store import AlertingPlan

    model, settings, window, now = info.model, info.model.alerts, info.window, info.now
    notifications: list[NotificationRow] = []
    final: dict[Key, AlertStateRow] = {d.key: d.state for d in decisions}
    active = [d for d in decisions if d.alertable]
    announce = [d for d in active if d.category in {"new", "escalated"}]
    for d in decisions:
        counts.opened += d.state.state == OPEN
        counts.ongoing += d.state.state == ONGOING
        counts.escalated += d.category == "escalated"
        counts.held += d.category == "held" and not announce
        counts.resolved += d.state.state == RESOLVED
    if announce:
        # One consolidated message: every open alert of the window, tagged new / escalated / ongoing.
        tags = {"new": "new", "escalated": "escalated"}
        entries = [_entry(d, tags.get(d.category, "ongoing")) for d in active]
        worst_status = worst([Status(d.state.severity) for d in active])
        status = worst([r.status for r in results] + [worst_status])
        notice = _notice(info, "alert", entries, status=str(status))
        channel = route(settings, notice.severity)
        announced = sorted((_label(d.key), d.state.severity) for d in announce)
        key = idempotency_key("alert", model.name, window.as_dict(), announced)
        notifications.append(
            _new_notification(
                info, "alert", key, notice, sorted(_label(d.key) for d in active), channel=channel, parent=None
            )
        )
        for d in active:
            final[d.key] = replace(
                d.state,
                notified_at=d.notified_at(now),
                notified_severity=d.state.severity,
                thread_key=key,
                channel=channel,
            )
    else:
        due = [d for d in active if d.category == "reminder"]
        for (channel, thread), group in _by_thread(due).items():
            notice = _notice(
                info, "reminder", [_entry(d, "ongoing") for d in group], cooldown=_humanize(settings.cooldown)
            )
            labels = sorted(_label(d.key) for d in group)
            key = idempotency_key("reminder", model.name, window.as_dict(), thread, labels)
            notifications.append(
                _new_notification(info, "reminder", key, notice, labels, channel=channel, parent=thread)
            )
            counts.reminded += len(group)
            for d in group:
                final[d.key] = replace(d.state, notified_at=d.notified_at(now), notified_severity=d.state.severity)
    recovered = [d for d in decisions if d.category == "recovered"]
    for (channel, thread), group in _by_thread(recovered).items():
        notice = _notice(info, "recovered", [_entry(d, "resolved") for d in group])
        labels = sorted(_label(d.key) for d in group)
        key = idempotency_key("recovered", model.name, window.as_dict(), thread, labels)
        notifications.append(_new_notification(info, "recovered", key, notice, labels, channel=channel, parent=thread))
    window_alerts: list[dict[str, Any]] = []
    for d in decisions:
        state = final[d.key]
        if d.alertable:
            window_alerts += [
                {
                    "check": r.check,
                    "metric": r.metric,
                    "subject": r.subject,
                    "severity": str(r.status),
                    "status": state.state,
                    "message": r.message,
                }
                for r in d.alertable
            ]
        elif d.base is not None:
            window_alerts += [
                {
                    "check": d.key[0],
                    "metric": str(f.get("metric")),
                    "subject": d.key[1],
                    "severity": d.base.severity,
                    "status": RESOLVED,
                    "message": f"recovered: {f.get('message') or ''}".strip(),
                }
                for f in d.base.findings
            ]
    plan = AlertingPlan(
        states=list(final.values()),
        notifications=notifications,
        window=window,
        window_alerts=window_alerts,
        checks=frozenset(families),
    )
    return plan, counts


def _by_thread(decisions: list[_Decision]) -> dict[tuple[str | None, str | None], list[_Decision]]:
    groups: dict[tuple[str | None, str | None], list[_Decision]] = defaultdict(list)
    for d in decisions:
        source = d.base if d.base is not None else d.state
        groups[(source.channel, source.thread_key)].append(d)
    return dict(groups)
