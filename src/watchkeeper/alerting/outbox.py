"""Delivering the outbox: every pending notification of a model, oldest first, until sent or expired.

A notification is written to the ``outbox`` table (in the same transaction as the alert states that
caused it) before anything is sent. :func:`deliver` then walks the model's pending rows in creation
order:

* a row past ``expires_at`` (3 days by default) is marked ``expired``, logged at error level and
  written to the JSONL file with its full text -- reported, never silently dropped;
* a row whose ``next_attempt_at`` is in the future waits (backoff: 30 s, 1 min, 2 min... capped at 1 h);
* a row is claimed atomically before it is sent (a 5-minute lease), so concurrent dispatches of one
  model never send it twice, and a sender that dies mid-send only delays it;
* a reply whose parent is still pending waits for it, so threads keep their order; a reply whose parent
  expired, or went to a sink without threads, is posted as a standalone message;
* a failure raised by the sink increments ``attempts`` and sets the backoff; an outage or a rejected
  token (``stop``) ends the walk, since every later message would fail the same way.

A task retry or a later run calls :func:`deliver` again, so an outage spanning several runs is caught
up in order, each message exactly once (the idempotency key kept it from being queued twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from watchkeeper.alerting.sinks import Delivered, DeliveryFailure, Sink

if TYPE_CHECKING:
    from watchkeeper.store import MetricStore, NotificationRow

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
#: How long a claimed notification is reserved for its sender (longer than any send with its retries).
CLAIM_LEASE = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones."""
    factor: int = 2 ** min(max(attempts, 0), 16)
    return min(BACKOFF_BASE * factor, BACKOFF_CAP)


@dataclass
class DeliveryReport:
    """What one pass over the outbox did."""

    sent: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    failed: int = 0
    waiting: int = 0
    stopped: bool = False
    errors: list[str] = field(default_factory=list)

    def merge(self, other: DeliveryReport) -> DeliveryReport:
        """Both passes together."""
        return DeliveryReport(
            sent=self.sent + other.sent,
            expired=self.expired + other.expired,
            failed=self.failed + other.failed,
            waiting=other.waiting,
            stopped=self.stopped or other.stopped,
            errors=list(dict.fromkeys(self.errors + other.errors)),
        )


def deliver(
    store: MetricStore,
    model: str,
    sink: Sink | None,
    *,
    now: datetime,
    channel_for: Callable[[NotificationRow], str | None],
    sink_error: str | None = None,
    alert_file: Path | None = None,
) -> DeliveryReport:
    """Try every due pending notification of ``model`` once, oldest first (see the module docstring).

    ``sink`` None means the sink could not be configured: ``sink_error`` says why, and it is recorded
    on the first due notification (which keeps it pending). ``channel_for`` gives the channel of a
    top-level message (routing may have been fixed since it was queued).
    """
    report = DeliveryReport()
    pending = store.notifications(model, status="pending")
    open_keys = {n.idempotency_key for n in pending}
    delivered: dict[str, tuple[str, Delivered]] = {}
    for n in pending:
        assert n.id is not None
        if now >= n.expires_at:
            _expire(store, n, alert_file)
            open_keys.discard(n.idempotency_key)
            report.expired.append(n.idempotency_key)
            continue
        if report.stopped or n.next_attempt_at > now:
            report.waiting += 1
            continue
        if sink is None:
            error = sink_error or "no alert sink could be configured"
            store.mark_notification_failed(n.id, error=error, next_attempt_at=now + backoff(n.attempts))
            report.failed += 1
            report.errors.append(error)
            report.stopped = True
            continue
        channel, thread_ts = (n.channel if n.parent_key else channel_for(n)), None
        if n.parent_key is not None:
            parent_sink: str | None
            parent_ts: str | None
            parent_channel: str | None
            if n.parent_key in delivered:
                parent_sink, landed = delivered[n.parent_key]
                parent_ts, parent_channel = landed.ts, landed.channel
            elif n.parent_key in open_keys:
                report.waiting += 1  # its thread does not exist yet
                continue
            else:
                parent = store.notification(n.parent_key)
                parent_sink = parent.sink if parent is not None and parent.status == "sent" else None
                parent_ts = parent.ts if parent is not None else None
                parent_channel = parent.delivered_channel or parent.channel if parent is not None else None
            if sink.threads and parent_sink == sink.name and parent_ts:
                thread_ts, channel = parent_ts, parent_channel or channel
            channel = channel or channel_for(n)
        if not store.claim_notification(n.id, now=now, until=now + CLAIM_LEASE):
            report.waiting += 1  # a concurrent dispatch of the same model is sending it
            continue
        try:
            landed = sink.send(n, channel=channel, thread_ts=thread_ts)
        except DeliveryFailure as failure:
            error = sink.redact(str(failure))
            store.mark_notification_failed(n.id, error=error, next_attempt_at=now + backoff(n.attempts))
            log.warning(
                "model=%s: %s notification %s not delivered (attempt %d): %s",
                model,
                n.kind,
                n.idempotency_key,
                n.attempts + 1,
                error,
            )
            report.failed += 1
            report.errors.append(error)
            report.stopped = report.stopped or failure.stop
            continue
        where = landed.channel or channel
        store.mark_notification_sent(n.id, sink=sink.name, ts=landed.ts, delivered_channel=where, at=now)
        delivered[n.idempotency_key] = (sink.name, Delivered(landed.ts, where))
        open_keys.discard(n.idempotency_key)
        report.sent.append(n.idempotency_key)
        level = logging.INFO if n.kind in {"recovered", "reminder"} else logging.WARNING
        log.log(
            level,
            "model=%s: %s notification %s sent via %s to %s%s\n%s",
            model,
            n.kind,
            n.idempotency_key,
            sink.name,
            where or "(default channel)",
            " (thread reply)" if thread_ts else "",
            n.payload.get("plain") or n.payload.get("text"),
        )
    return report


def _expire(store: MetricStore, n: NotificationRow, alert_file: Path | None) -> None:
    from watchkeeper.reporting import append_record

    assert n.id is not None
    store.mark_notification_expired(n.id)
    log.error(
        "model=%s: %s notification %s EXPIRED undelivered after %d attempt(s) (queued %s, last error: %s) -- "
        "its text follows and is kept in the alert file\n%s",
        n.model,
        n.kind,
        n.idempotency_key,
        n.attempts,
        n.created_at.isoformat(),
        n.last_error or "none",
        n.payload.get("plain") or n.payload.get("text"),
    )
    window = n.window
    record = {
        "record": "notification_expired",
        "kind": n.kind,
        "model": n.model,
        "key": n.idempotency_key,
        "channel": n.channel,
        "run_id": n.run_id,
        "window_start": window.start.isoformat() if window else None,
        "window_end": window.end.isoformat() if window else None,
        "created_at": n.created_at.isoformat(),
        "attempts": n.attempts,
        "last_error": n.last_error,
        "title": n.payload.get("title"),
        "text": n.payload.get("text"),
        "plain": n.payload.get("plain"),
    }
    try:
        append_record(record, alert_file)
    except OSError:
        log.exception(
            "model=%s: cannot write the expired notification %s to the alert file", n.model, n.idempotency_key
        )
