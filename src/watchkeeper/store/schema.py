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
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Alembic version table of the store. Not the default ``alembic_version``, so the store may share a
#: database with Airflow's metadata (which has its own ``alembic_version``) without clobbering it.
VERSION_TABLE = "watchkeeper_alembic_version"
#: The newest migration's revision (``migrations/versions/``); a unit test keeps it equal to Alembic's head.
#: A store already there is recognised with one query, without importing Alembic.
HEAD_REVISION = "0007"

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
JSONType: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


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


class WindowProfileRecord(Base):
    """The profile of one model window (mergeable counts every check and view derives from), one per window."""

    __tablename__ = "window_profiles"
    __table_args__ = (UniqueConstraint("model", "window_start", "window_end", name="uq_window_profiles_model_window"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(String)
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    #: Content hash of the baseline the window was counted against.
    baseline_hash: Mapped[str] = mapped_column(String)
    n_rows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]


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


class ModelHealth(Base):
    """What the overview shows of one model, maintained in the transaction that writes its results or alerts.

    One row per model with runs, results or alerts, so every page that lists models reads a table that
    grows with the number of models, not of windows. ``MetricStore.rebuild_health`` recomputes it from the
    history (migration 0006 runs it once).
    """

    __tablename__ = "model_health"

    model: Mapped[str] = mapped_column(String, primary_key=True)
    #: The latest window (latest end) with a run -- or, for a model without runs, with results.
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    #: Worst status of that window (the run's status when it has one).
    status: Mapped[str | None] = mapped_column(String(16))
    #: Airflow run id of the latest run; NULL for a window with results but no run.
    run_id: Mapped[str | None] = mapped_column(String)
    n_rows: Mapped[int | None] = mapped_column(Integer)
    #: The latest window with performance results (labels often arrive later than the latest run's window).
    perf_window_start: Mapped[datetime | None]
    perf_window_end: Mapped[datetime | None]
    #: Alert keys in state ``open`` or ``ongoing``.
    open_alerts: Mapped[int] = mapped_column(Integer, server_default="0")
    #: The key metric: a performance metric (recall, accuracy, mae...) or ``drift`` (the worst drift statistic).
    key_check: Mapped[str | None] = mapped_column(String)
    key_metric: Mapped[str | None] = mapped_column(String)
    key_label: Mapped[str | None] = mapped_column(String)
    key_value: Mapped[float | None] = mapped_column(Float)
    key_status: Mapped[str | None] = mapped_column(String(16))
    #: Baseline of the key metric (for drift: its threshold).
    key_baseline: Mapped[float | None] = mapped_column(Float)
    #: The key metric's last windows (at most ``SPARK_WINDOWS``), oldest first: ``[[window start ISO, value], ...]``.
    spark: Mapped[list[Any]]
    updated_at: Mapped[datetime]


# The alerting tables live in their own module; importing them here registers them on Base.metadata.
from watchkeeper.store.schema_alerting import Alert, AlertState, Notification  # noqa: E402

__all__ = [
    "HEAD_REVISION",
    "VERSION_TABLE",
    "Alert",
    "AlertState",
    "Base",
    "Baseline",
    "Metric",
    "ModelHealth",
    "Notification",
    "RetrainTrigger",
    "Run",
    "UTCDateTime",
    "WindowProfileRecord",
]
