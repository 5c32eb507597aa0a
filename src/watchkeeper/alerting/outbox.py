"""Delivering the outbox: every pending delivery of a model, sink by sink, oldest first, until sent or expired.

A notification is written to the ``outbox`` table (in the same transaction as the alert states that
caused it) with one ``outbox_delivery`` row per sink that takes it, before anything is sent.
:func:`deliver` then walks each sink's pending deliveries on their own -- a sink that is down never
holds back another -- in creation order:

* a delivery whose notification is past ``expires_at`` (3 days by default) is marked ``expired``, logged
  at error level and written to the JSONL file with the notification's text -- reported, never silently
  dropped;
* a delivery whose ``next_attempt_at`` is in the future waits (backoff: 30 s, 1 min, 2 min... capped at 1 h);
* a delivery is claimed atomically before it is sent (a 5-minute lease), so concurrent dispatches of one
  model never send it twice, and a sender that dies mid-send only delays it -- except for its own next
  try: a dispatch from an Airflow task names itself (``sender``: dag/run/task/map index), and a later try
  of the same task instance takes over the claim its predecessor died holding (Airflow starts that try
  only once the previous one is failed), so a worker killed mid-send loses no alert for that run;
* a reply whose parent is still pending for that sink waits for it, so threads keep their order; a reply
  whose parent expired there, or whose sink has no threads, is posted as a standalone message;
* a failure raised by the sink increments ``attempts`` and sets the backoff; an outage, a rejected key or
  a permanent refusal (``stop``) ends that sink's walk, since every later message would fail the same way;
* a delivery to a sink removed from the YAML is ``cancelled`` (logged and reported).

A task retry or a later run calls :func:`deliver` again, so an outage spanning several runs is caught up
in order, each message exactly once per sink (the idempotency key kept it from being queued twice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from watchkeeper.alerting.messages import render_plain
from watchkeeper.alerting.notice import Notice
from watchkeeper.alerting.sinks import Delivered, DeliveryFailure, SendContext, Sink
from watchkeeper.alerting.sinks.default import DEFAULT_KEY
from watchkeeper.alerting.sinkset import SinkRemovedError, SinkSet
from watchkeeper.exceptions import AlertDeliveryError

if TYPE_CHECKING:
    from watchkeeper.store import MetricStore, NotificationRow
    from watchkeeper.store.alerting_repo import DeliveryRow

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
#: How long a claimed delivery is reserved for its sender (longer than any send with its retries).
CLAIM_LEASE = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones."""
    factor: int = 2 ** min(max(attempts, 0), 16)
    return min(BACKOFF_BASE * factor, BACKOFF_CAP)


@dataclass
class DeliveryReport:
    """What one pass over the outbox did (``sent``/``expired``: ``<idempotency key>@<sink>``)."""

    sent: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    failed: int = 0
    waiting: int = 0
    #: Sinks whose walk stopped (down, rejected credentials): not tried again in this dispatch.
    stopped: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    #: Per sink: its kind and what happened (``sent``, ``failed``, ``errors``).
    sinks: dict[str, dict[str, object]] = field(default_factory=dict)

    def merge(self, other: DeliveryReport) -> DeliveryReport:
        """Both passes together."""
        sinks = {k: dict(v) for k, v in self.sinks.items()}
        for key, part in other.sinks.items():
            mine = sinks.setdefault(key, {"kind": part.get("kind"), "sent": 0, "failed": 0, "errors": []})
            mine["kind"] = mine.get("kind") or part.get("kind")
            mine["sent"] = int(str(mine.get("sent") or 0)) + int(str(part.get("sent") or 0))
            mine["failed"] = int(str(mine.get("failed") or 0)) + int(str(part.get("failed") or 0))
            errors = list(mine.get("errors") or []) + list(part.get("errors") or [])  # type: ignore[call-overload]
            mine["errors"] = list(dict.fromkeys(errors))
        return DeliveryReport(
            sent=self.sent + other.sent,
            expired=self.expired + other.expired,
            cancelled=self.cancelled + other.cancelled,
            failed=self.failed + other.failed,
            waiting=other.waiting,
            stopped=self.stopped | other.stopped,
            errors=list(dict.fromkeys(self.errors + other.errors)),
            sinks=sinks,
        )

    def _note(self, key: str, kind: str | None, *, sent: int = 0, failed: int = 0, error: str | None = None) -> None:
        entry = self.sinks.setdefault(key, {"kind": kind, "sent": 0, "failed": 0, "errors": []})
        entry["kind"] = entry.get("kind") or kind
        entry["sent"] = int(str(entry["sent"])) + sent
        entry["failed"] = int(str(entry["failed"])) + failed
        if error is not None:
            errors = entry["errors"]
            assert isinstance(errors, list)
            if error not in errors:
                errors.append(error)


def notice_of(n: NotificationRow) -> Notice:
    """The structured notification of an outbox row."""
    return Notice.from_json(n.payload, model=n.model, kind=n.kind)


def _label(sink_key: str, text: str) -> str:
    """Errors of the default sink read as before; an explicit sink is named."""
    return text if sink_key == DEFAULT_KEY else f"sink {sink_key}: {text}"


def deliver(
    store: MetricStore,
    model: str,
    sinks: SinkSet,
    *,
    now: datetime,
    skip: set[str] | None = None,
    alert_file: Path | None = None,
    sender: str | None = None,
) -> DeliveryReport:
    """Try every due pending delivery of ``model`` once, each sink on its own (see the module docstring).

    ``skip``: sinks not to try (they stopped earlier in this dispatch). ``sender``: who claims the
    deliveries (an Airflow task instance without its try number); it may retake its own claims.
    """
    report = DeliveryReport()
    by_sink: dict[str, list[tuple[NotificationRow, DeliveryRow]]] = {}
    for n, d in store.deliveries(model, status="pending"):
        by_sink.setdefault(d.sink, []).append((n, d))
    for key, queue in by_sink.items():
        if skip and key in skip:
            report.waiting += len(queue)
            continue
        _SinkWalk(store, model, key, sinks, now=now, report=report, alert_file=alert_file, sender=sender).run(queue)
    return report


class _SinkWalk:
    """One sink's pending deliveries, oldest first."""

    def __init__(
        self,
        store: MetricStore,
        model: str,
        key: str,
        sinks: SinkSet,
        *,
        now: datetime,
        report: DeliveryReport,
        alert_file: Path | None,
        sender: str | None = None,
    ) -> None:
        self.store, self.model, self.key, self.sinks, self.now = store, model, key, sinks, now
        self.report, self.alert_file, self.sender = report, alert_file, sender
        self.sink: Sink | None = None
        self.error: str | None = None
        self.removed = False
        self.delivered: dict[str, Delivered] = {}

    def _resolve(self) -> None:
        if self.sink is not None or self.error is not None or self.removed:
            return
        try:
            self.sink = self.sinks.get(self.key)
        except SinkRemovedError:
            self.removed = True
        except AlertDeliveryError as exc:
            self.error = str(exc)
            log.error("model=%s: alerts cannot be delivered to sink %s: %s", self.model, self.key, exc)

    def run(self, queue: list[tuple[NotificationRow, DeliveryRow]]) -> None:
        open_keys = {n.idempotency_key for n, _ in queue}
        for n, d in queue:
            if self.now >= n.expires_at:
                self._expire(n, d)
                open_keys.discard(n.idempotency_key)
                continue
            own_claim = self.sender is not None and d.claimed_by == self.sender
            if self.key in self.report.stopped or (d.next_attempt_at > self.now and not own_claim):
                self.report.waiting += 1
                continue
            self._resolve()
            if self.removed:
                self._cancel(n, d)
                open_keys.discard(n.idempotency_key)
                continue
            if self.sink is None:
                error = _label(self.key, self.error or "no alert sink could be configured")
                self.store.mark_delivery_failed(d.id, error=error, next_attempt_at=self.now + backoff(d.attempts))
                self._failed(error, stop=True)
                continue
            ctx = self._context(n, open_keys)
            if ctx is None:
                self.report.waiting += 1  # its thread does not exist yet
                continue
            claimed = self.store.claim_delivery(d.id, now=self.now, until=self.now + CLAIM_LEASE, sender=self.sender)
            if not claimed:
                self.report.waiting += 1  # a concurrent dispatch of the same model is sending it
                continue
            self._send(n, d, ctx, open_keys)

    def _context(self, n: NotificationRow, open_keys: set[str]) -> SendContext | None:
        assert self.sink is not None
        notice = notice_of(n)
        if n.parent_key is None:
            return SendContext(key=n.idempotency_key, model=self.model, channel=self.sinks.channel_for(notice))
        thread: str | None = None
        thread_channel: str | None = None
        if n.parent_key in self.delivered:
            landed = self.delivered[n.parent_key]
            thread, thread_channel = landed.ts, landed.channel
        elif n.parent_key in open_keys:
            return None
        else:
            parent = self.store.delivery(n.parent_key, self.key)
            if parent is not None and parent.status == "sent":
                thread, thread_channel = parent.ts, parent.delivered_channel
        if not self.sink.threads:
            thread = None
        channel = n.channel or self.sinks.channel_for(notice)
        return SendContext(
            key=n.idempotency_key,
            model=self.model,
            channel=channel,
            thread=thread,
            thread_channel=thread_channel or channel,
            parent=n.parent_key,
        )

    def _send(self, n: NotificationRow, d: DeliveryRow, ctx: SendContext, open_keys: set[str]) -> None:
        assert self.sink is not None
        sink = self.sink
        try:
            landed = sink.send(notice_of(n), ctx)
        except DeliveryFailure as failure:
            error = _label(self.key, sink.redact(str(failure)))
            self.store.mark_delivery_failed(d.id, error=error, next_attempt_at=self.now + backoff(d.attempts))
            log.warning(
                "model=%s: %s notification %s not delivered to %s (attempt %d): %s",
                self.model,
                n.kind,
                n.idempotency_key,
                self.key,
                d.attempts + 1,
                error,
            )
            self._failed(error, stop=failure.stop)
            return
        except Exception as exc:  # a rendering or client bug must not lose the notification or stop other sinks
            error = _label(self.key, sink.redact(f"{type(exc).__name__}: {exc}"))
            log.exception("model=%s: sink %s failed on notification %s", self.model, self.key, n.idempotency_key)
            self.store.mark_delivery_failed(d.id, error=error, next_attempt_at=self.now + backoff(d.attempts))
            self._failed(error, stop=True)
            return
        where = landed.channel or ctx.channel
        self.store.mark_delivery_sent(d.id, sink_name=sink.kind, ts=landed.ts, delivered_channel=where, at=self.now)
        self.delivered[n.idempotency_key] = Delivered(landed.ts, where)
        open_keys.discard(n.idempotency_key)
        self.report.sent.append(f"{n.idempotency_key}@{self.key}")
        self.report._note(self.key, sink.kind, sent=1)
        level = logging.INFO if n.kind in {"recovered", "reminder"} else logging.WARNING
        log.log(
            level,
            "model=%s: %s notification %s sent via %s to %s%s\n%s",
            self.model,
            n.kind,
            n.idempotency_key,
            self.key if self.key != DEFAULT_KEY else sink.kind,
            where or "(default channel)",
            " (thread reply)" if ctx.thread else "",
            render_plain(notice_of(n)),
        )

    def _failed(self, error: str, *, stop: bool) -> None:
        self.report.failed += 1
        self.report.errors.append(error)
        self.report._note(self.key, self.sink.kind if self.sink else None, failed=1, error=error)
        if stop:
            self.report.stopped.add(self.key)

    def _cancel(self, n: NotificationRow, d: DeliveryRow) -> None:
        note = f"sink {self.key} is no longer in the model's alerts.sinks"
        self.store.close_delivery(d.id, status="cancelled", error=note)
        log.warning("model=%s: %s notification %s not sent: %s", self.model, n.kind, n.idempotency_key, note)
        self.report.cancelled.append(f"{n.idempotency_key}@{self.key}")

    def _expire(self, n: NotificationRow, d: DeliveryRow) -> None:
        from watchkeeper.reporting import append_record

        self.store.close_delivery(d.id, status="expired")
        plain = render_plain(notice_of(n))
        log.error(
            "model=%s: %s notification %s EXPIRED undelivered to %s after %d attempt(s) (queued %s, last error: %s) -- "
            "its text follows and is kept in the alert file\n%s",
            n.model,
            n.kind,
            n.idempotency_key,
            self.key,
            d.attempts,
            n.created_at.isoformat(),
            d.last_error or "none",
            plain,
        )
        window = n.window
        record = {
            "record": "notification_expired",
            "kind": n.kind,
            "model": n.model,
            "key": n.idempotency_key,
            "sink": self.key,
            "channel": n.channel,
            "run_id": n.run_id,
            "window_start": window.start.isoformat() if window else None,
            "window_end": window.end.isoformat() if window else None,
            "created_at": n.created_at.isoformat(),
            "attempts": d.attempts,
            "last_error": d.last_error,
            "plain": plain,
            "notice": n.payload,
        }
        self.report.expired.append(f"{n.idempotency_key}@{self.key}")
        try:
            append_record(record, self.alert_file)
        except OSError:
            log.exception(
                "model=%s: cannot write the expired notification %s to the alert file", n.model, n.idempotency_key
            )
