"""The structured notification: what happened, stored in the outbox and rendered by each sink when it sends.

A :class:`Notice` says which model, which window, how severe, which alert keys with which lifecycle event
(``new``, ``ongoing``, ``escalated``, ``resolved``), their findings (value, baseline, threshold crossed,
change), the links (Airflow run, report, task log) and, for a broken monitor, the failure. It holds no
service's format: Slack's Block Kit, the e-mail's HTML, the Teams card, the PagerDuty events and the JSON
of the generic webhook are all rendered from it at send time (``messages.py`` and the sinks).

Its JSON form (:meth:`Notice.to_json`, ``"version": 2``) is the ``payload`` of an outbox row. Rows queued
before migration 0004 held a rendered Slack message; the migration wraps it as ``legacy`` so that the
message is still delivered (Slack sends its blocks as they were, other sinks its plain text).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from watchkeeper.results import CheckResult, Status, Window

#: Version of the outbox payload written by :meth:`Notice.to_json`.
NOTICE_VERSION = 2
#: Kinds of notification (``event``: anything else, e.g. from the Airflow notifier in another DAG).
KINDS = ("alert", "reminder", "recovered", "monitor_failed", "event")
#: Lifecycle events of an alert key within a notification.
EVENTS = ("new", "ongoing", "escalated", "resolved")

#: Keys of ``CheckResult.details`` that hold the value the metric is compared with, in order of preference.
BASELINE_KEYS = (
    "baseline",
    "reference",
    "reference_value",
    "reference_mean",
    "reference_rate",
    "reference_share",
    "expected",
)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _limit(result: CheckResult) -> float | None:
    critical = _number(result.details.get("critical"))
    if result.status is Status.CRITICAL and critical is not None:
        return critical
    return result.threshold


def describe(result: CheckResult) -> dict[str, Any]:
    """The numbers of a finding for a notification: value, baseline, threshold crossed, change, impact.

    The baseline is the first number among ``details`` keys :data:`BASELINE_KEYS`; the change is
    ``details["change"]`` (relative, from a rule) or derived from value and baseline; the impact (used
    to rank findings of equal severity) is how far the value is past its threshold, relatively.
    """
    value = result.value
    limit = _limit(result)
    baseline = next((b for k in BASELINE_KEYS if (b := _number(result.details.get(k))) is not None), None)
    relative = _number(result.details.get("change"))
    delta = value - baseline if value is not None and baseline is not None else None
    if relative is None and delta is not None and baseline:
        relative = delta / abs(baseline)
    if value is not None and limit:
        impact = abs(value - limit) / abs(limit)
    elif relative is not None:
        impact = abs(relative)
    else:
        impact = 0.0
    return {
        "check": result.check,
        "metric": result.metric,
        "subject": result.subject,
        "status": str(result.status),
        "value": value,
        "threshold": limit,
        "baseline": baseline,
        "change": relative,
        "delta": delta,
        "impact": impact,
        "message": result.message,
    }


@dataclass(frozen=True)
class AlertEntry:
    """One alert key in a notification, with its lifecycle event and its findings (dicts from :func:`describe`)."""

    check: str
    subject: str
    #: Worst status of the findings (``warning``, ``critical``, ``error``; ``ok`` once resolved).
    severity: str
    #: Lifecycle event: ``new``, ``escalated``, ``ongoing`` or ``resolved``.
    tag: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    since: datetime | None = None
    previous_severity: str | None = None

    @property
    def label(self) -> str:
        """``check[subject]`` or ``check`` for model-wide alerts."""
        return f"{self.check}[{self.subject}]" if self.subject else self.check

    @property
    def rank(self) -> tuple[int, float]:
        """Sort key: severity, then the impact of the most severe findings."""
        top = Status(self.severity).rank
        impacts = [float(f.get("impact") or 0.0) for f in self.findings if Status(f.get("status", "ok")).rank == top]
        return (top, max(impacts, default=0.0))

    def to_json(self) -> dict[str, Any]:
        """JSON form (``event`` is the lifecycle tag)."""
        return {
            "check": self.check,
            "subject": self.subject,
            "label": self.label,
            "severity": self.severity,
            "event": self.tag,
            "previous_severity": self.previous_severity,
            "since": self.since.isoformat() if self.since else None,
            "findings": [_jsonable(f) for f in self.findings],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertEntry:
        """Inverse of :meth:`to_json`."""
        since = data.get("since")
        return cls(
            check=str(data["check"]),
            subject=str(data.get("subject") or ""),
            severity=str(data["severity"]),
            tag=str(data.get("event") or data.get("tag") or "new"),
            findings=[dict(f) for f in data.get("findings") or []],
            since=datetime.fromisoformat(since) if since else None,
            previous_severity=data.get("previous_severity"),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Failure:
    """A Watchkeeper task that failed: where, and the error (already free of secrets)."""

    dag_id: str
    task: str
    run_id: str
    error: str


@dataclass(frozen=True)
class Notice:
    """One structured notification (see the module docstring)."""

    #: ``alert`` (a run's consolidated message), ``reminder``, ``recovered``, ``monitor_failed`` or ``event``.
    kind: str
    model: str
    #: Severity that routes and filters the notification: ``warning`` or ``critical``.
    severity: str
    #: Overall status of the window (``ok``, ``warning``, ``critical``, ``error``) for ``alert``.
    status: str = "critical"
    owner: str = ""
    mentions: tuple[str, ...] = ()
    window: Window | None = None
    alerts: tuple[AlertEntry, ...] = ()
    #: ``run``, ``report``, ``log``: links to the Airflow run, the HTML report and the task log.
    links: Mapping[str, str] = field(default_factory=dict)
    #: How often reminders repeat (``reminder`` only), e.g. ``1d``.
    cooldown: str | None = None
    failure: Failure | None = None
    #: A message rendered before migration 0004 (title, text, blocks, plain): sent as it was.
    legacy: Mapping[str, Any] | None = None
    #: One line saying what it is (an ``event``'s own title; for the other kinds the rendered summary, kept
    #: for lists and reports) and, for an ``event``, its text (plain text; each sink escapes both).
    title: str = ""
    text: str = ""

    @property
    def run_url(self) -> str | None:
        """The Airflow run."""
        return self.links.get("run")

    @property
    def report_url(self) -> str | None:
        """The window's HTML report."""
        return self.links.get("report")

    @property
    def log_url(self) -> str | None:
        """The failed task's log."""
        return self.links.get("log")

    def to_json(self) -> dict[str, Any]:
        """The outbox payload."""
        data: dict[str, Any] = {
            "version": NOTICE_VERSION,
            "kind": self.kind,
            "model": self.model,
            "severity": self.severity,
            "status": self.status,
            "owner": self.owner,
            "mentions": list(self.mentions),
            "window": self.window.as_dict() if self.window else None,
            "alerts": [a.to_json() for a in self.alerts],
            "links": {k: v for k, v in self.links.items() if v},
        }
        if self.cooldown:
            data["cooldown"] = self.cooldown
        if self.failure is not None:
            data["failure"] = {
                "dag_id": self.failure.dag_id,
                "task": self.failure.task,
                "run_id": self.failure.run_id,
                "error": self.failure.error,
            }
        if self.legacy is not None:
            data["legacy"] = dict(self.legacy)
        if self.title or self.text:
            data["title"], data["text"] = self.title, self.text
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, model: str = "", kind: str = "alert") -> Notice:
        """A notice from an outbox payload; a pre-0004 payload (a rendered Slack message) becomes ``legacy``."""
        if data.get("version") != NOTICE_VERSION:
            legacy = {k: data.get(k) for k in ("title", "text", "blocks", "plain")}
            return cls(kind=kind, model=model, severity=str(data.get("severity") or "critical"), legacy=legacy)
        window = data.get("window")
        failure = data.get("failure")
        return cls(
            kind=str(data["kind"]),
            model=str(data["model"]),
            severity=str(data.get("severity") or "critical"),
            status=str(data.get("status") or "critical"),
            owner=str(data.get("owner") or ""),
            mentions=tuple(data.get("mentions") or ()),
            window=None
            if not window
            else Window(datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])),
            alerts=tuple(AlertEntry.from_json(a) for a in data.get("alerts") or []),
            links=dict(data.get("links") or {}),
            cooldown=data.get("cooldown"),
            failure=None if not failure else Failure(**{k: str(failure.get(k) or "") for k in Failure.__annotations__}),
            legacy=data.get("legacy"),
            title=str(data.get("title") or ""),
            text=str(data.get("text") or ""),
        )

    def keys(self) -> list[str]:
        """The alert keys (``check[subject]``) the notice is about."""
        return [a.label for a in self.alerts]


def severity_rank(severity: str | None) -> int:
    """``warning`` < ``critical`` (``error`` counts as critical); unknown or None: below everything."""
    return {"warning": 1, "critical": 2, "error": 2}.get(str(severity or ""), 0)


def sort_entries(entries: Sequence[AlertEntry]) -> list[AlertEntry]:
    """Most severe first, then highest impact, then by label."""
    return sorted(entries, key=lambda e: (-e.rank[0], -e.rank[1], e.label))
