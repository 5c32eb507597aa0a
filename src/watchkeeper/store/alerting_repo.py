"""The alerting part of the metric store: window alerts, alert lifecycle states and the notification outbox."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from watchkeeper.results import Window
from watchkeeper.store.common import StoreBase, _copy_row, _in_window, _now, _serialize, _time_filter, to_jsonable
from watchkeeper.store.health_repo import refresh_health
from watchkeeper.store.schema import Alert, AlertState, Notification
from watchkeeper.store.schema_alerting import Delivery

#: Key of the default sink (a model without ``alerts.sinks``).
DEFAULT_SINK = "default"
#: Delivery statuses that end a delivery.
_DONE = frozenset({"sent", "expired", "cancelled"})

_ALERT_REQUIRED = frozenset({"check", "metric", "severity", "status"})
_ALERT_OPTIONAL = frozenset({"subject", "message"})


@dataclass(frozen=True)
class AlertRow:
    """One stored alert. Datetimes are aware UTC."""

    id: int
    model: str
    window_start: datetime
    window_end: datetime
    check: str
    metric: str
    subject: str
    severity: str
    status: str
    message: str
    created_at: datetime
    updated_at: datetime

    @property
    def window(self) -> Window:
        """The alert's window."""
        return Window(self.window_start, self.window_end)

    @property
    def key(self) -> tuple[str, str, str]:
        """(check, metric, subject) of the finding."""
        return (self.check, self.metric, self.subject)


@dataclass(frozen=True)
class AlertStateRow:
    """The lifecycle state of one alert key (model, check, subject). Datetimes are aware UTC."""

    model: str
    check: str
    subject: str
    #: ``open``, ``ongoing`` or ``resolved``.
    state: str
    #: Worst status of the key's findings in its latest window.
    severity: str
    findings: list[dict[str, Any]]
    opened_at: datetime
    window_start: datetime
    window_end: datetime
    notified_at: datetime | None = None
    notified_severity: str | None = None
    thread_key: str | None = None
    channel: str | None = None
    resolved_at: datetime | None = None
    #: The row as it was before its latest window was applied (see :meth:`snapshot`).
    previous: dict[str, Any] | None = None
    updated_at: datetime | None = None
    id: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(check, subject): the alert key within the model."""
        return (self.check, self.subject)

    @property
    def window(self) -> Window:
        """The latest window applied to the key."""
        return Window(self.window_start, self.window_end)

    def snapshot(self) -> dict[str, Any]:
        """JSON form of the lifecycle fields (no id, timestamps of the row or nested previous)."""
        skip = {"previous", "updated_at", "id"}
        return {f.name: to_jsonable(getattr(self, f.name)) for f in fields(self) if f.name not in skip}

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> AlertStateRow:
        """Inverse of :meth:`snapshot`."""
        values = dict(data)
        for name in ("opened_at", "window_start", "window_end", "notified_at", "resolved_at"):
            if values.get(name) is not None:
                values[name] = datetime.fromisoformat(values[name])
        return cls(**values)


@dataclass(frozen=True)
class NotificationRow:
    """One message of the outbox. Datetimes are aware UTC; ``id`` is None until stored."""

    idempotency_key: str
    model: str
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    next_attempt_at: datetime
    channel: str | None = None
    parent_key: str | None = None
    alert_keys: list[str] = field(default_factory=list)
    run_id: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    status: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    sink: str | None = None
    ts: str | None = None
    delivered_channel: str | None = None
    id: int | None = None
    #: Keys of the sinks it goes to (one ``outbox_delivery`` row each). Empty when queued: the default sink.
    sinks: list[str] = field(default_factory=list)

    @property
    def window(self) -> Window | None:
        """The window the message is about, if any."""
        if self.window_start is None or self.window_end is None:
            return None
        return Window(self.window_start, self.window_end)


@dataclass(frozen=True)
class DeliveryRow:
    """One notification to one sink. Datetimes are aware UTC."""

    id: int
    notification_id: int
    model: str
    sink: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    ts: str | None
    delivered_channel: str | None
    claimed_by: str | None = None


@dataclass(frozen=True)
class AlertingPlan:
    """What one alerting decision writes, atomically: new key states, outbox messages, window alerts.

    ``window_alerts`` (mappings as for :meth:`MetricStore.upsert_alerts`) replace the alerts of
    ``window`` within the check families ``checks``; nothing is replaced when ``window`` is None.
    """

    states: list[AlertStateRow] = field(default_factory=list)
    notifications: list[NotificationRow] = field(default_factory=list)
    window: Window | None = None
    window_alerts: Sequence[Mapping[str, Any]] = field(default_factory=list)
    checks: frozenset[str] = frozenset()


class AlertingRepository(StoreBase):
    """Alerts, alert states and the outbox (a mixin of :class:`~watchkeeper.store.store.MetricStore`)."""

    # -- alerts --------------------------------------------------------------------------------

    def upsert_alerts(
        self,
        model: str,
        window: Window,
        alerts: Sequence[Mapping[str, Any]],
        *,
        checks: Collection[str] | None = None,
    ) -> int:
        """Make ``alerts`` the window's alerts; idempotent. Returns the number of alerts stored.

        Each alert is a mapping with ``check``, ``metric``, ``severity``, ``status`` and optionally
        ``subject`` (default ``""``) and ``message``. Existing keys (check, metric, subject) are updated
        in place (``created_at`` kept, ``updated_at`` set), new keys inserted, and the window's other
        alerts deleted -- only within the check families ``checks`` when given. Duplicate keys: the
        later alert wins.
        """
        families = None if checks is None else ({checks} if isinstance(checks, str) else set(checks))
        wanted = _normalize_alerts(model, alerts)
        if families is not None:
            stray = sorted({key[0] for key in wanted} - families)
            if stray:
                raise ValueError(
                    f"upsert_alerts for model {model!r}: alerts of checks {stray} are outside "
                    f"checks={sorted(families)} -- add them to `checks`"
                )

        def work(session: Session) -> int:
            _serialize(session, "alerts", model, window)
            count = _write_window_alerts(session, model, window, wanted, families)
            refresh_health(session, model)
            return count

        return self._transact(f"store alerts of model {model!r}", work)

    def alerts(
        self,
        model: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        window: Window | None = None,
        check: str | None = None,
        status: str | None = None,
    ) -> list[AlertRow]:
        """Stored alerts of ``model``, ordered by window start then (check, metric, subject).

        ``start``/``end`` keep windows starting in ``[start, end)``; ``window`` keeps exactly one window.
        """
        stmt = select(Alert).where(Alert.model == model, *_time_filter(Alert, start, end, window))
        if check is not None:
            stmt = stmt.where(Alert.check == check)
        if status is not None:
            stmt = stmt.where(Alert.status == str(status))
        stmt = stmt.order_by(Alert.window_start, Alert.window_end, Alert.check, Alert.metric, Alert.subject)
        return self._transact(
            f"read alerts of model {model!r}",
            lambda session: [_alert_row(a) for a in session.scalars(stmt)],
            write=False,
        )

    # -- alerting: lifecycle state and outbox --------------------------------------------------

    def alert_states(self, model: str) -> list[AlertStateRow]:
        """The lifecycle state of every alert key of ``model``, ordered by (check, subject)."""
        stmt = select(AlertState).where(AlertState.model == model).order_by(AlertState.check, AlertState.subject)
        return self._transact(
            f"read alert states of model {model!r}",
            lambda session: [_alert_state_row(a) for a in session.scalars(stmt)],
            write=False,
        )

    def apply_alerting(
        self, model: str, decide: Callable[[dict[tuple[str, str], AlertStateRow]], AlertingPlan]
    ) -> list[NotificationRow]:
        """Read the model's alert states, let ``decide`` plan the changes, and write them in one transaction.

        Concurrent callers for the same model are serialized, so two runs never decide from the same
        state. ``decide`` must be pure (it may run twice when a concurrent writer forces a retry).
        Notifications whose idempotency key exists already are not inserted again. Returns the
        notifications this call queued (new idempotency keys), in plan order.
        """

        def work(session: Session) -> list[NotificationRow]:
            _serialize(session, "alerting", model)
            now = _now()
            current = {
                (a.check, a.subject): a for a in session.scalars(select(AlertState).where(AlertState.model == model))
            }
            plan = decide({key: _alert_state_row(a) for key, a in current.items()})
            for state in plan.states:
                if state.model != model:
                    raise ValueError(f"apply_alerting for model {model!r}: the plan has a state of {state.model!r}")
                values = {f.name: getattr(state, f.name) for f in fields(state) if f.name not in {"id", "updated_at"}}
                values["findings"] = to_jsonable(values["findings"])
                values["previous"] = to_jsonable(values["previous"])
                row = current.get(state.key)
                if row is None:
                    session.add(AlertState(updated_at=now, **values))
                else:
                    for name, value in values.items():
                        setattr(row, name, value)
                    row.updated_at = now
            queued = [row for row, new in (_insert_notification(session, n) for n in plan.notifications) if new]
            if plan.window is not None:
                wanted = _normalize_alerts(model, plan.window_alerts)
                _write_window_alerts(session, model, plan.window, wanted, set(plan.checks))
            refresh_health(session, model)
            return queued

        return self._transact(f"store the alert decisions of model {model!r}", work)

    def enqueue_notification(self, notification: NotificationRow, *, thread_by_run: bool = False) -> NotificationRow:
        """Write ``notification`` to the outbox unless its idempotency key is there already; return the stored row.

        With ``thread_by_run``, a message of the same model, kind and run id queued earlier becomes its
        parent (later failures of one DAG run reply in the thread of the first one).
        """

        def work(session: Session) -> NotificationRow:
            _serialize(session, "alerting", notification.model)
            new = notification
            if thread_by_run and new.run_id is not None and new.parent_key is None:
                first = session.scalar(
                    select(Notification.idempotency_key)
                    .where(
                        Notification.model == new.model,
                        Notification.kind == new.kind,
                        Notification.run_id == new.run_id,
                        Notification.idempotency_key != new.idempotency_key,
                    )
                    .order_by(Notification.id)
                    .limit(1)
                )
                if first is not None:
                    new = replace(new, parent_key=first)
            return _insert_notification(session, new)[0]

        return self._transact(f"queue a {notification.kind} notification of model {notification.model!r}", work)

    def notification(self, idempotency_key: str) -> NotificationRow | None:
        """The outbox row with this idempotency key, or None."""
        stmt = select(Notification).where(Notification.idempotency_key == idempotency_key)

        def work(session: Session) -> NotificationRow | None:
            row = session.scalar(stmt)
            return None if row is None else _notification_rows(session, [row])[0]

        return self._transact("read a notification", work, write=False)

    def notifications(
        self,
        model: str,
        *,
        window: Window | None = None,
        kind: str | None = None,
        status: str | None = None,
        run_id: str | None = None,
    ) -> list[NotificationRow]:
        """Outbox rows of ``model``, oldest first; ``status="pending"`` gives the delivery queue."""
        stmt = select(Notification).where(Notification.model == model)
        if window is not None:
            stmt = stmt.where(Notification.window_start == window.start, Notification.window_end == window.end)
        if kind is not None:
            stmt = stmt.where(Notification.kind == kind)
        if status is not None:
            stmt = stmt.where(Notification.status == status)
        if run_id is not None:
            stmt = stmt.where(Notification.run_id == run_id)
        stmt = stmt.order_by(Notification.id)
        return self._transact(
            f"read notifications of model {model!r}",
            lambda session: _notification_rows(session, list(session.scalars(stmt))),
            write=False,
        )

    def claim_notification(self, notification_id: int, *, now: datetime, until: datetime) -> bool:
        """Take a due pending notification for sending; False when another process has it or it is not due.

        Atomic: of concurrent dispatchers, exactly one gets True. The claim is a lease -- the row is not
        due again before ``until`` -- so a sender that dies mid-send delays its message, never loses it.
        """

        def work(session: Session) -> bool:
            claimed = session.execute(
                update(Notification)
                .where(
                    Notification.id == notification_id,
                    Notification.status == "pending",
                    Notification.next_attempt_at <= now,
                )
                .values(next_attempt_at=until),
                execution_options={"synchronize_session": False},
            )
            return bool(getattr(claimed, "rowcount", 0) == 1)

        return self._transact("claim a notification", work)

    def mark_notification_sent(
        self, notification_id: int, *, sink: str, ts: str | None, delivered_channel: str | None, at: datetime
    ) -> None:
        """Record a successful delivery (Slack's ts and channel id make later replies thread under it)."""
        values = {
            "status": "sent",
            "sink": sink,
            "ts": ts,
            "delivered_channel": delivered_channel,
            "sent_at": at,
            "attempts": Notification.attempts + 1,
            "last_error": None,
        }
        self._update_notification(notification_id, values, "mark a notification sent")

    def mark_notification_failed(self, notification_id: int, *, error: str, next_attempt_at: datetime) -> None:
        """Record a failed delivery attempt; the row stays pending until ``next_attempt_at`` at the earliest."""
        values = {
            "attempts": Notification.attempts + 1,
            "last_error": error[:2000],
            "next_attempt_at": next_attempt_at,
        }
        self._update_notification(notification_id, values, "record a failed delivery")

    def mark_notification_expired(self, notification_id: int) -> None:
        """Give up on a notification that could not be delivered before it expired (the caller reports it)."""
        self._update_notification(notification_id, {"status": "expired"}, "expire a notification")

    # -- deliveries: one per (notification, sink) ----------------------------------------------------

    def deliveries(
        self, model: str, *, status: str | None = None, notification_key: str | None = None
    ) -> list[tuple[NotificationRow, DeliveryRow]]:
        """Deliveries of ``model`` with their notification, oldest notification first (then by sink).

        ``status="pending"`` gives the delivery queue of every sink of the model.
        """
        stmt = select(Notification, Delivery).join(Delivery, Delivery.notification_id == Notification.id)
        stmt = stmt.where(Delivery.model == model)
        if status is not None:
            stmt = stmt.where(Delivery.status == status)
        if notification_key is not None:
            stmt = stmt.where(Notification.idempotency_key == notification_key)
        stmt = stmt.order_by(Notification.id, Delivery.id)

        def work(session: Session) -> list[tuple[NotificationRow, DeliveryRow]]:
            pairs = list(session.execute(stmt).tuples())
            rows = {
                n.id: r
                for n, r in zip([n for n, _ in pairs], _notification_rows(session, [n for n, _ in pairs]), strict=True)
            }
            return [(rows[n.id], _delivery_row(d)) for n, d in pairs]

        return self._transact(f"read the deliveries of model {model!r}", work, write=False)

    def delivery(self, notification_key: str, sink: str) -> DeliveryRow | None:
        """The delivery of the notification with this idempotency key to ``sink``, or None."""
        stmt = (
            select(Delivery)
            .join(Notification, Delivery.notification_id == Notification.id)
            .where(Notification.idempotency_key == notification_key, Delivery.sink == sink)
        )

        def work(session: Session) -> DeliveryRow | None:
            row = session.scalar(stmt)
            return None if row is None else _delivery_row(row)

        return self._transact("read a delivery", work, write=False)

    def claim_delivery(self, delivery_id: int, *, now: datetime, until: datetime, sender: str | None = None) -> bool:
        """Take a due pending delivery for sending; False when another process has it or it is not due.

        Atomic: of concurrent dispatchers, exactly one gets True. A lease: the delivery is not due again
        before ``until``, so a sender that dies mid-send delays it, never loses it. ``sender`` names the
        claimant (an Airflow task instance, without its try number): a later try of the same task instance
        takes over the claim its dead predecessor held, instead of waiting for the lease to run out.
        """
        due = Delivery.next_attempt_at <= now
        if sender is not None:
            due = or_(due, Delivery.claimed_by == sender)

        def work(session: Session) -> bool:
            claimed = session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status == "pending", due)
                .values(next_attempt_at=until, claimed_by=sender),
                execution_options={"synchronize_session": False},
            )
            return bool(getattr(claimed, "rowcount", 0) == 1)

        return self._transact("claim a delivery", work)

    def mark_delivery_sent(
        self, delivery_id: int, *, sink_name: str, ts: str | None, delivered_channel: str | None, at: datetime
    ) -> None:
        """Record a successful delivery (what the sink answered lets replies thread under it)."""

        def work(session: Session) -> None:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None:
                return
            delivery.status, delivery.sent_at, delivery.last_error = "sent", at, None
            delivery.attempts = (delivery.attempts or 0) + 1
            delivery.ts, delivery.delivered_channel = ts, delivered_channel
            delivery.claimed_by = None
            _refresh_outbox(session, delivery.notification_id, attempted=True, error=None, sent=(sink_name, delivery))

        self._transact("mark a delivery sent", work)

    def mark_delivery_failed(self, delivery_id: int, *, error: str, next_attempt_at: datetime) -> None:
        """Record a failed attempt; the delivery stays pending until ``next_attempt_at`` at the earliest."""

        def work(session: Session) -> None:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None:
                return
            delivery.attempts = (delivery.attempts or 0) + 1
            delivery.last_error, delivery.next_attempt_at = error[:2000], next_attempt_at
            delivery.claimed_by = None  # the backoff holds for every sender
            _refresh_outbox(session, delivery.notification_id, attempted=True, error=error[:2000], sent=None)

        self._transact("record a failed delivery", work)

    def close_delivery(self, delivery_id: int, *, status: str, error: str | None = None) -> None:
        """End a delivery without sending it: ``expired`` (too old) or ``cancelled`` (sink removed)."""
        if status not in {"expired", "cancelled"}:
            raise ValueError(f"close_delivery: status must be 'expired' or 'cancelled', not {status!r}")

        def work(session: Session) -> None:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None:
                return
            delivery.status = status
            if error:
                delivery.last_error = error[:2000]
            _refresh_outbox(session, delivery.notification_id, attempted=False, error=None, sent=None)

        self._transact(f"mark a delivery {status}", work)

    def _update_notification(self, notification_id: int, values: Mapping[str, Any], action: str) -> None:
        def work(session: Session) -> None:
            session.execute(
                update(Notification).where(Notification.id == notification_id).values(**values),
                execution_options={"synchronize_session": False},
            )

        self._transact(action, work)


def _normalize_alerts(model: str, alerts: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str], dict[str, str]]:
    wanted: dict[tuple[str, str, str], dict[str, str]] = {}
    for index, alert in enumerate(alerts):
        missing = sorted(_ALERT_REQUIRED - alert.keys())
        unknown = sorted(alert.keys() - _ALERT_REQUIRED - _ALERT_OPTIONAL)
        if missing or unknown:
            raise ValueError(
                f"upsert_alerts for model {model!r}: alert #{index} has missing keys {missing} and unknown keys "
                f"{unknown} -- give {sorted(_ALERT_REQUIRED)} and optionally {sorted(_ALERT_OPTIONAL)}"
            )
        values = {
            "check": str(alert["check"]),
            "metric": str(alert["metric"]),
            "subject": str(alert.get("subject") or ""),
            "severity": str(alert["severity"]),
            "status": str(alert["status"]),
            "message": str(alert.get("message") or ""),
        }
        wanted[(values["check"], values["metric"], values["subject"])] = values
    return wanted


def _alert_row(a: Alert) -> AlertRow:
    return _copy_row(AlertRow, a)


def _write_window_alerts(
    session: Session,
    model: str,
    window: Window,
    wanted: dict[tuple[str, str, str], dict[str, str]],
    families: set[str] | None,
) -> int:
    now = _now()
    stmt = select(Alert).where(*_in_window(Alert, model, window))
    if families is not None:
        stmt = stmt.where(Alert.check.in_(families))
    existing = {(a.check, a.metric, a.subject): a for a in session.scalars(stmt)}
    for key, values in wanted.items():
        alert = existing.pop(key, None)
        if alert is None:
            session.add(
                Alert(
                    model=model,
                    window_start=window.start,
                    window_end=window.end,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
            )
        else:
            for name, value in values.items():
                setattr(alert, name, value)
            alert.updated_at = now
    for stale in existing.values():
        session.delete(stale)
    return len(wanted)


def _insert_notification(session: Session, notification: NotificationRow) -> tuple[NotificationRow, bool]:
    """The stored row for the notification's idempotency key, and whether it was inserted just now."""
    existing = session.scalar(select(Notification).where(Notification.idempotency_key == notification.idempotency_key))
    if existing is not None:
        return _notification_rows(session, [existing])[0], False
    values = {f.name: getattr(notification, f.name) for f in fields(notification) if f.name not in {"id", "sinks"}}
    values["payload"] = to_jsonable(values["payload"])
    values["alert_keys"] = to_jsonable(values["alert_keys"])
    row = Notification(**values)
    session.add(row)
    session.flush()
    sinks = list(dict.fromkeys(notification.sinks)) or ([DEFAULT_SINK] if notification.status == "pending" else [])
    for sink in sinks:
        session.add(
            Delivery(
                notification_id=row.id,
                model=row.model,
                sink=sink,
                status="pending" if row.status == "pending" else row.status,
                attempts=0,
                created_at=row.created_at,
                next_attempt_at=row.next_attempt_at,
            )
        )
    session.flush()
    return _copy_row(NotificationRow, row, sinks=sinks), True


def _alert_state_row(a: AlertState) -> AlertStateRow:
    return _copy_row(AlertStateRow, a)


def _notification_rows(session: Session, rows: Sequence[Notification]) -> list[NotificationRow]:
    ids = [n.id for n in rows]
    sinks: dict[int, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(Delivery.notification_id, Delivery.sink).where(Delivery.notification_id.in_(chunk))
        for notification_id, sink in session.execute(stmt.order_by(Delivery.id)):
            sinks[notification_id].append(sink)
    return [_copy_row(NotificationRow, n, sinks=sinks[n.id]) for n in rows]


def _delivery_row(d: Delivery) -> DeliveryRow:
    return _copy_row(DeliveryRow, d)


def _refresh_outbox(
    session: Session,
    notification_id: int,
    *,
    attempted: bool,
    error: str | None,
    sent: tuple[str, Delivery] | None,
) -> None:
    """Keep the outbox row's summary in step with its deliveries (status, attempts, sinks, first ts)."""
    row = session.get(Notification, notification_id)
    if row is None:
        return
    session.flush()
    states = list(
        session.execute(
            select(Delivery.status, Delivery.next_attempt_at).where(Delivery.notification_id == notification_id)
        )
    )
    statuses = [status for status, _ in states]
    due = [when for status, when in states if status == "pending"]
    if due:
        row.next_attempt_at = min(due)
    if attempted:
        row.attempts = (row.attempts or 0) + 1
    if error is not None:
        row.last_error = error
    if sent is not None:
        name, delivery = sent
        names = [n for n in (row.sink or "").split(",") if n]
        if name not in names:
            row.sink = ",".join([*names, name])
        if row.ts is None and delivery.ts and len(delivery.ts) <= 255:
            row.ts = delivery.ts
        row.delivered_channel = row.delivered_channel or delivery.delivered_channel
        row.sent_at = delivery.sent_at
    if "pending" in statuses:
        row.status = "pending"
    elif "expired" in statuses:
        row.status = "expired"
    elif statuses:
        row.status = "sent"
        if not any(s == "pending" for s in statuses) and error is None:
            row.last_error = None
