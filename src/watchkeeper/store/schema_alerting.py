"""Alerting tables of the metric store: window alerts, alert lifecycle states and the notification outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from watchkeeper.store.schema import Base, JSONType, UTCDateTime  # noqa: F401


class Alert(Base):
    """The alert state of one finding (check, metric, subject) in one model window."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint(
            "model", "window_start", "window_end", "check", "metric", "subject", name="uq_alerts_model_window_key"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    check: Mapped[str] = mapped_column(String)
    metric: Mapped[str] = mapped_column(String)
    subject: Mapped[str] = mapped_column(String, server_default="")
    severity: Mapped[str] = mapped_column(String(16))
    #: ``open``, ``ongoing`` or ``resolved``.
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AlertState(Base):
    """The lifecycle of one alert key (model, check, subject) across windows: open, ongoing, resolved.

    One row per key, updated by every dispatch that evaluates the key. ``previous`` keeps the row as it
    was before its latest window was applied, so re-dispatching that same window (a task retry, a
    re-run) starts from the same state and takes the same decisions.
    """

    __tablename__ = "alert_state"
    __table_args__ = (UniqueConstraint("model", "check", "subject", name="uq_alert_state_model_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String)
    check: Mapped[str] = mapped_column(String)
    subject: Mapped[str] = mapped_column(String, server_default="")
    #: ``open``, ``ongoing`` or ``resolved``.
    state: Mapped[str] = mapped_column(String(16))
    #: Worst status of the key's findings in its latest window (``warning``, ``critical``, ``error``).
    severity: Mapped[str] = mapped_column(String(16))
    #: The key's findings in its latest window (metric, value, threshold, baseline, status, message).
    findings: Mapped[list[Any]]
    #: Start of the first window of the current incident.
    opened_at: Mapped[datetime]
    #: The latest window applied to the key.
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    #: When people last heard about the key (new alert, escalation or reminder); NULL: not yet.
    notified_at: Mapped[datetime | None]
    notified_severity: Mapped[str | None] = mapped_column(String(16))
    #: Idempotency key of the outbox notification whose thread holds the key's replies.
    thread_key: Mapped[str | None] = mapped_column(String(96))
    #: Channel of that thread.
    channel: Mapped[str | None] = mapped_column(String)
    resolved_at: Mapped[datetime | None]
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    updated_at: Mapped[datetime]


class Notification(Base):
    """The outbox: one message to deliver, written before it is sent, retried until sent or expired."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        Index("ix_outbox_model_status", "model", "status", "id"),
        # Ids give the delivery order: never reuse one on SQLite either.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: Derived from model, window, kind and alert keys: the same message is never queued twice.
    idempotency_key: Mapped[str] = mapped_column(String(96))
    model: Mapped[str] = mapped_column(String)
    #: ``alert``, ``reminder``, ``recovered`` or ``monitor_failed``.
    kind: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[str | None] = mapped_column(String)
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    #: Channel it is routed to (NULL: the sink's default).
    channel: Mapped[str | None] = mapped_column(String)
    #: Idempotency key of the message this one replies to (its thread).
    parent_key: Mapped[str | None] = mapped_column(String(96))
    #: Alert keys ``check[subject]`` the message is about.
    alert_keys: Mapped[list[Any]]
    #: The structured notification (``watchkeeper.alerting.notice.Notice.to_json``, version 2): what happened,
    #: never one service's format. Each sink renders it when it sends.
    payload: Mapped[dict[str, Any]]
    #: ``pending`` (a delivery is pending), ``sent`` (every delivery done), ``expired`` (one expired) or
    #: ``skipped`` (no sink takes it, e.g. below every sink's floor).
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    #: Sinks that delivered it, comma-separated (``slack``, ``pagerduty,email``...); per sink: ``outbox_delivery``.
    sink: Mapped[str | None] = mapped_column(String)
    #: What the first sink answered (Slack ts...) and the channel id it answered with.
    ts: Mapped[str | None] = mapped_column(String(255))
    delivered_channel: Mapped[str | None] = mapped_column(String)


class Delivery(Base):
    """One notification to one sink: delivered exactly once per sink, retried until sent or expired.

    Written with its notification (same transaction) for the sinks that take it; each sink's deliveries
    are walked on their own, so a sink that is down never holds back another.
    """

    __tablename__ = "outbox_delivery"
    __table_args__ = (
        UniqueConstraint("notification_id", "sink", name="uq_outbox_delivery_notification_sink"),
        Index("ix_outbox_delivery_model_status", "model", "status", "notification_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(Integer, ForeignKey("outbox.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String)
    #: The sink's key (``SinkConfig.key``, e.g. ``pagerduty:pd_fraud``; ``default`` without ``alerts.sinks``).
    sink: Mapped[str] = mapped_column(String(200))
    #: ``pending``, ``sent``, ``expired`` or ``cancelled`` (the sink was removed from the YAML).
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    #: What the sink answered that replies thread under (Slack ts, e-mail Message-ID, PagerDuty dedup key).
    ts: Mapped[str | None] = mapped_column(String(255))
    delivered_channel: Mapped[str | None] = mapped_column(String)
    #: Who holds the claim on a pending delivery: an Airflow task instance (``dag/run/task/map_index``),
    #: whose next try may take it over; None outside Airflow or when unclaimed.
    claimed_by: Mapped[str | None] = mapped_column(String(500))
