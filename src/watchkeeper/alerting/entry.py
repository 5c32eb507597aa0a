"""The entry points: :func:`dispatch` after a run's results are recorded, :func:`notify_monitor_failure`
when a Watchkeeper task fails, and helpers to read the notifications back."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watchkeeper.alerting.lifecycle import DEFAULT_TTL, Counts, RunInfo, idempotency_key, plan_window
from watchkeeper.alerting.notice import Failure, Notice
from watchkeeper.alerting.outbox import DeliveryReport, deliver
from watchkeeper.alerting.routing import route
from watchkeeper.alerting.sinks import DeliveryFailure, SendContext
from watchkeeper.alerting.sinkset import SinkRemovedError, SinkSet
from watchkeeper.config import AlertSettings, LoadedConfig, Severity
from watchkeeper.exceptions import AlertDeliveryError, StoreError
from watchkeeper.results import CheckResult, Window

if TYPE_CHECKING:
    from watchkeeper.store import AlertingPlan, AlertStateRow, MetricStore, NotificationRow

log = logging.getLogger(__name__)


def _sink_names(sinks: SinkSet) -> str | None:
    """The kinds the model's sinks resolve to now, e.g. ``slack`` or ``slack,pagerduty`` (None: none works)."""
    kinds = [kind for kind in sinks.describe().values() if not kind.startswith("error:")]
    return ",".join(dict.fromkeys(kinds)) or None


def dispatch(
    config: LoadedConfig,
    window: Window,
    results: list[CheckResult],
    *,
    run_id: str,
    dag_id: str,
    store: MetricStore,
    now: datetime | None = None,
    run_url: str | None = None,
    report_url: str | None = None,
    raise_on_failure: bool = True,
    sender: str | None = None,
) -> dict[str, Any]:
    """Alert on one window's results: flush older notifications, apply the lifecycle, deliver.

    1. deliver the model's pending notifications (oldest first) -- an outage of earlier runs catches up;
    2. in one transaction: update the alert key states and queue this window's messages in the outbox
       (see :mod:`watchkeeper.alerting.lifecycle`);
    3. deliver them (unless step 1 found Slack down or the token rejected).

    Works for any check family (``performance`` included); families absent from ``results`` are left
    alone. Returns a small JSON summary (counts by lifecycle event, sent, pending, expired, errors).
    With ``raise_on_failure``, a delivery failure raises :class:`AlertDeliveryError` (carrying the
    summary) after everything is recorded, so the task fails visibly and its retry tries again.
    """
    now = now or datetime.now(UTC)
    model = config.model
    sinks = SinkSet(model.alerts, model.name)
    flushed = deliver(store, model.name, sinks, now=now, sender=sender)
    info = RunInfo(model, window, run_id, dag_id, now, run_url, report_url)
    decided: list[Counts] = []

    def decide(states: dict[tuple[str, str], AlertStateRow]) -> AlertingPlan:
        plan, counts = plan_window(info, results, states)
        decided[:] = [counts]
        return plan

    queued = store.apply_alerting(model.name, decide)
    counts = decided[-1]
    report = flushed.merge(deliver(store, model.name, sinks, now=now, skip=flushed.stopped, sender=sender))
    summary: dict[str, Any] = {
        "model": model.name,
        "window": window.as_dict(),
        "sink": _sink_names(sinks),
        **counts.as_dict(),
        "notifications": len(queued),
        **_delivery_summary(store, model.name, report),
    }
    log.info(
        "model=%s window=%s run=%s alerting: %s", model.name, window.start.isoformat(), run_id, json.dumps(summary)
    )
    if raise_on_failure and report.errors:
        raise AlertDeliveryError(_failure_text(model.name, summary), summary)
    return summary


def _delivery_summary(store: MetricStore, model: str, report: DeliveryReport) -> dict[str, Any]:
    pending = store.notifications(model, status="pending")
    out: dict[str, Any] = {
        "sent": len(report.sent),
        "pending": len(pending),
        "expired": len(report.expired),
        "failed_attempts": report.failed,
        "errors": report.errors,
    }
    if report.cancelled:
        out["cancelled"] = len(report.cancelled)
    if report.sinks:
        out["sinks"] = report.sinks
    return out


def _failure_text(model: str, summary: dict[str, Any]) -> str:
    errors = "; ".join(summary["errors"])
    return f"model {model}: {summary['pending']} alert notification(s) not delivered yet: {errors}"


def notify_monitor_failure(
    *,
    model: str,
    dag_id: str,
    task_id: str,
    run_id: str,
    error: str,
    config: LoadedConfig | None = None,
    log_url: str | None = None,
    run_url: str | None = None,
    try_number: int | None = None,
    store: MetricStore | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Post "monitoring failed" for a failed Watchkeeper task, through the outbox; never raises.

    The first failure of a DAG run is a top-level message routed as critical; later failures of the
    same run reply in its thread. When the metric store is down the message is sent directly (no
    outbox) and, if that fails too, kept in the JSONL file and the error log. ``config`` may be None
    (e.g. the config itself is broken): then the global defaults route the message.
    """
    settings = config.model.alerts if config is not None else AlertSettings()
    owner = config.model.owner if config is not None else ""
    notice = Notice(
        kind="monitor_failed",
        model=model,
        severity=str(Severity.CRITICAL),
        owner=owner,
        mentions=tuple(settings.mentions),
        failure=Failure(
            dag_id=dag_id, task=task_id, run_id=run_id, error=error.strip() or "unknown error (see the task log)"
        ),
        links={k: v for k, v in {"run": run_url, "log": log_url}.items() if v},
    )
    log.error("monitoring failed: model=%s dag=%s task=%s run=%s: %s", model, dag_id, task_id, run_id, error)
    return send_notice(
        notice,
        settings,
        key=idempotency_key("monitor_failed", model, dag_id, run_id, task_id, try_number),
        run_id=run_id,
        thread_by_run=True,
        store=store,
        now=now,
        keep={"dag_id": dag_id, "task_id": task_id, "error": error},
    )


def send_notice(
    notice: Notice,
    settings: AlertSettings,
    *,
    key: str,
    run_id: str | None = None,
    thread_by_run: bool = False,
    store: MetricStore | None = None,
    now: datetime | None = None,
    keep: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Queue one notice for the sinks of ``settings`` that take it and deliver it now; never raises.

    Through the outbox (exactly once per sink, caught up by the next delivery of the same model when a
    sink is down); when the metric store is down, straight to the sinks; what could not go out is kept in
    the JSONL file and the error log. ``thread_by_run``: a notice of the same model, kind and run queued
    earlier becomes its thread.
    """
    from dataclasses import replace

    from watchkeeper.alerting.messages import title_of
    from watchkeeper.store import NotificationRow

    now = now or datetime.now(UTC)
    notice = replace(notice, title=notice.title or title_of(notice))  # a one-line summary for lists and reports
    model = notice.model
    sinks = SinkSet(settings, model)
    targets = sinks.targets(notice)
    notification = NotificationRow(
        idempotency_key=key,
        model=model,
        kind=notice.kind,
        payload=notice.to_json(),
        created_at=now,
        expires_at=now + DEFAULT_TTL,
        next_attempt_at=now,
        channel=route(settings, notice.severity),
        run_id=run_id,
        window_start=notice.window.start if notice.window else None,
        window_end=notice.window.end if notice.window else None,
        status="pending" if targets else "skipped",
        sinks=targets,
    )
    kept = keep or {}
    summary: dict[str, Any] = {"model": model, "key": notification.idempotency_key, "sink": _sink_names(sinks)}
    try:
        if store is None:
            from watchkeeper.store import MetricStore

            store = MetricStore()
            store.migrate()
        stored = store.enqueue_notification(notification, thread_by_run=thread_by_run)
        report = deliver(store, model, sinks, now=now)
        sent = [s for s in report.sent if s.startswith(f"{stored.idempotency_key}@")]
        summary.update(
            sent=bool(sent) and len(sent) == len(stored.sinks),
            pending=len(store.notifications(model, status="pending")),
            errors=report.errors,
        )
        if not summary["sent"]:
            _keep(notification, kept, "not delivered yet; kept in the outbox")
    except StoreError as exc:
        summary.update(sent=_send_directly(sinks, notification), pending=0, errors=[str(exc)])
        if not summary["sent"]:
            _keep(notification, kept, f"metric store unavailable: {exc}")
    except Exception as exc:  # a callback must never raise
        log.exception("model=%s: could not send the %s notification", model, notice.kind)
        summary.update(sent=False, errors=[f"{type(exc).__name__}: {exc}"])
        _keep(notification, kept, "could not be queued")
    return summary


def _send_directly(sinks: SinkSet, notification: NotificationRow) -> bool:
    """Without the store: straight to every sink that takes it; True when all of them took it."""
    notice = Notice.from_json(notification.payload, model=notification.model, kind=notification.kind)
    ctx = SendContext(key=notification.idempotency_key, model=notification.model, channel=notification.channel)
    delivered = bool(notification.sinks)
    for key in notification.sinks:
        try:
            sink = sinks.get(key)
            sink.send(notice, ctx)
        except (AlertDeliveryError, SinkRemovedError, DeliveryFailure) as failure:
            log.error("model=%s: monitoring-failed message not delivered to %s: %s", notification.model, key, failure)
            delivered = False
            continue
        log.warning("model=%s: monitoring-failed message sent via %s without the outbox", notification.model, key)
    return delivered


def _keep(notification: NotificationRow, kept: dict[str, str], note: str) -> None:
    """The JSONL line that keeps a notice when it could not go out (nothing is lost)."""
    from watchkeeper.reporting import append_record

    record = {
        "record": notification.kind,
        "model": notification.model,
        **kept,
        "run_id": notification.run_id,
        "note": note,
        "key": notification.idempotency_key,
        "plain": _plain(notification),
        "at": notification.created_at.isoformat(),
    }
    try:
        append_record(record)
    except OSError:
        log.exception("model=%s: cannot write the alert file", notification.model)


def _plain(notification: NotificationRow) -> str:
    from watchkeeper.alerting.messages import render_plain

    return render_plain(Notice.from_json(notification.payload, model=notification.model, kind=notification.kind))


def list_notifications(
    model: str, window: Window | None = None, *, store: MetricStore | None = None
) -> list[NotificationRow]:
    """The outbox rows of a model (one window or all), oldest first -- e.g. to print them after a demo run."""
    if store is None:
        from watchkeeper.store import MetricStore

        store = MetricStore()
        store.migrate()
    return store.notifications(model, window=window)


def read_notifications(
    model: str | None = None, window: Window | None = None, path: Path | None = None
) -> list[dict[str, Any]]:
    """Notification records of the JSONL file (what the log sink wrote), optionally of one model/window."""
    from watchkeeper.reporting import alert_file

    path = path or alert_file()
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict) or record.get("record") != "notification":
            continue
        if model is not None and record.get("model") != model:
            continue
        if window is not None and record.get("window_start") != window.start.isoformat():
            continue
        records.append(record)
    return records


__all__ = [
    "dispatch",
    "list_notifications",
    "notify_monitor_failure",
    "read_notifications",
    "send_notice",
]
