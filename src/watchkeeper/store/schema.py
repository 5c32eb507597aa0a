"""Tables of the metric store (SQLAlchemy 2 typed declarative models).

The Alembic migrations in ``migrations/versions`` create exactly these tables; a test compares both.
Every datetime column holds aware UTC values, also on SQLite (see :class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: Alembic version table of the store. Not the default ``alembic_version``, so the store may share a
#: database with Airflow's metadata (which has its own ``alembic_version``) without clobbering it.
VERSION_TABLE = "watchkeeper_alembic_version"

#: Constraint names are deterministic so later migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` that always binds and returns aware UTC datetimes.

    SQLite has no time zone support: values are stored there as naive UTC text (fixed width, so text
    order is time order) and the UTC zone is put back on load. Naive input is taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: JSON everywhere, JSONB on PostgreSQL (smaller, and baseline payloads can weigh several MB).
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of the store tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


class Run(Base):
    """One monitoring run of one model window: the worst status and a summary of its results."""

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("model", "window_start", "window_end", name="uq_runs_model_window"),
        # Never reuse the id of a replaced run on SQLite (PostgreSQL sequences never do).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    #: Airflow run id, or ``cli`` for runs started from the command line.
    run_id: Mapped[str] = mapped_column(String)
    #: ``airflow`` or ``cli``.
    source: Mapped[str] = mapped_column(String(16))
    #: Worst status of the run's results.
    status: Mapped[str] = mapped_column(String(16))
    n_rows: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    summary: Mapped[dict[str, Any]]


class Metric(Base):
    """One check result of one model window (a :class:`~watchkeeper.results.CheckResult`)."""

    __tablename__ = "metrics"
    __table_args__ = (
        UniqueConstraint(
            "model", "window_start", "window_end", "check", "metric", "subject", name="uq_metrics_model_window_key"
        ),
        Index("ix_metrics_model_metric_window_start", "model", "metric", "window_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    check: Mapped[str] = mapped_column(String)
    metric: Mapped[str] = mapped_column(String)
    #: Feature, column or segment; empty string for model-wide metrics.
    subject: Mapped[str] = mapped_column(String, server_default="")
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    #: The run that wrote the row; NULL for rows added to a window by ``record_results``.
    run_fk: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)


class Baseline(Base):
    """A reference profile of a model, identified by the hash of its content. One per model is current."""

    __tablename__ = "baselines"
    __table_args__ = (
        UniqueConstraint("model", "content_hash", name="uq_baselines_model_content_hash"),
        # At most one current baseline per model, enforced by the database.
        Index(
            "uq_baselines_model_current",
            "model",
            unique=True,
            postgresql_where=text("is_current"),
            sqlite_where=text("is_current"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String)
    content_hash: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime]
    #: Last time this baseline was saved (re-saving an existing hash touches it).
    updated_at: Mapped[datetime]
    is_current: Mapped[bool] = mapped_column(Boolean)
    payload: Mapped[dict[str, Any]]


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
    #: ``title``, ``text`` (plain-text fallback), ``blocks`` (Block Kit) and ``plain`` (terminal rendering).
    payload: Mapped[dict[str, Any]]
    #: ``pending``, ``sent`` or ``expired``.
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    #: Name of the sink that delivered it (``slack``, ``webhook``, ``log``).
    sink: Mapped[str | None] = mapped_column(String(32))
    #: Slack message ts (the thread id of replies) and the channel id Slack answered with.
    ts: Mapped[str | None] = mapped_column(String(64))
    delivered_channel: Mapped[str | None] = mapped_column(String)


class RetrainTrigger(Base):
    """An audit row for every retraining DAG run Watchkeeper triggered."""

    __tablename__ = "retrain_triggers"
    __table_args__ = (Index("ix_retrain_triggers_model_triggered_at", "model", "triggered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String)
    dag_id: Mapped[str] = mapped_column(String)
    triggered_at: Mapped[datetime]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    failing_metrics: Mapped[list[Any]]
    conf: Mapped[dict[str, Any]]
    run_url: Mapped[str | None] = mapped_column(String)
