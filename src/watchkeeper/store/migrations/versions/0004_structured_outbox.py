"""Structured notifications in the outbox (issue 11): sink-agnostic payloads rendered at send time, one
delivery per sink.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

* new table ``outbox_delivery``: one row per (notification, sink) with its own status, attempts, backoff
  and what the sink answered (Slack ts, e-mail Message-ID...), so each sink is delivered exactly once and
  a sink that is down never holds back another;
* ``outbox.sink`` and ``outbox.ts`` widened (several sinks, longer ids);
* existing rows are converted without losing an undelivered message: a payload rendered for Slack
  (title, text, blocks, plain) becomes a version-2 notice with what the row knows (kind, model, window,
  severity, alert keys) and the rendered message kept as ``legacy`` (Slack sends it as it was, other sinks
  its plain text); each row gets a delivery to the ``default`` sink carrying its status, attempts, last
  error, backoff, and -- for sent rows -- Slack's ts and channel, so later replies still thread under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types (migrations must not change when the models do).
_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
NOTICE_VERSION = 2
DEFAULT_SINK = "default"

_outbox = sa.table(
    "outbox",
    sa.column("id", sa.Integer()),
    sa.column("model", sa.String()),
    sa.column("kind", sa.String()),
    sa.column("window_start", _TS),
    sa.column("window_end", _TS),
    sa.column("alert_keys", _JSON),
    sa.column("payload", _JSON),
    sa.column("status", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("last_error", sa.Text()),
    sa.column("created_at", _TS),
    sa.column("next_attempt_at", _TS),
    sa.column("sent_at", _TS),
    sa.column("ts", sa.String()),
    sa.column("delivered_channel", sa.String()),
)
_delivery = sa.table(
    "outbox_delivery",
    sa.column("notification_id", sa.Integer()),
    sa.column("model", sa.String()),
    sa.column("sink", sa.String()),
    sa.column("status", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("last_error", sa.Text()),
    sa.column("created_at", _TS),
    sa.column("next_attempt_at", _TS),
    sa.column("sent_at", _TS),
    sa.column("ts", sa.String()),
    sa.column("delivered_channel", sa.String()),
)


def _iso(value: Any) -> str | None:
    """ISO 8601 with offset; SQLite gives naive datetimes, which the store writes in UTC."""
    if value is None:
        return None
    return str((value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat())


def structured(row: Any) -> dict[str, Any]:
    """A version-2 notice from a pre-0004 row: what the row knows, and its rendered message as ``legacy``."""
    payload = dict(row.payload or {})
    if payload.get("version") == NOTICE_VERSION:
        return payload
    severity = str(payload.get("severity") or "critical")
    window = None
    if row.window_start is not None and row.window_end is not None:
        window = {"start": _iso(row.window_start), "end": _iso(row.window_end)}
    alerts = []
    for label in row.alert_keys or []:
        check, _, rest = str(label).partition("[")
        alerts.append(
            {
                "check": check,
                "subject": rest[:-1] if rest.endswith("]") else rest,
                "label": label,
                "severity": severity,
                "event": "resolved" if row.kind == "recovered" else "ongoing",
                "previous_severity": None,
                "since": None,
                "findings": [],
            }
        )
    return {
        "version": NOTICE_VERSION,
        "kind": row.kind,
        "model": row.model,
        "severity": severity,
        "status": severity,
        "owner": "",
        "mentions": [],
        "window": window,
        "alerts": alerts,
        "links": {},
        "legacy": {k: payload.get(k) for k in ("title", "text", "blocks", "plain")},
    }


def upgrade() -> None:
    """Widen outbox.sink/ts, create outbox_delivery, convert existing rows."""
    # SQLite: the table is copied (before anything references it), keeping AUTOINCREMENT (ids give the order)
    with op.batch_alter_table("outbox", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column("sink", type_=sa.String(), existing_type=sa.String(length=32), existing_nullable=True)
        batch.alter_column(
            "ts", type_=sa.String(length=255), existing_type=sa.String(length=64), existing_nullable=True
        )
    op.create_table(
        "outbox_delivery",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("sink", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("ts", sa.String(length=255), nullable=True),
        sa.Column("delivered_channel", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["outbox.id"],
            name=op.f("fk_outbox_delivery_notification_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_delivery")),
        sa.UniqueConstraint("notification_id", "sink", name="uq_outbox_delivery_notification_sink"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outbox_delivery_model_status", "outbox_delivery", ["model", "status", "notification_id"])
    bind = op.get_bind()
    rows = bind.execute(sa.select(_outbox).order_by(_outbox.c.id)).fetchall()
    for row in rows:
        bind.execute(_outbox.update().where(_outbox.c.id == row.id).values(payload=structured(row)))
        status = row.status if row.status in {"pending", "sent", "expired"} else "expired"
        bind.execute(
            _delivery.insert().values(
                notification_id=row.id,
                model=row.model,
                sink=DEFAULT_SINK,
                status=status,
                attempts=row.attempts or 0,
                last_error=row.last_error,
                created_at=row.created_at,
                next_attempt_at=row.next_attempt_at,
                sent_at=row.sent_at,
                ts=row.ts,
                delivered_channel=row.delivered_channel,
            )
        )


def _rendered(payload: dict[str, Any]) -> dict[str, Any]:
    """A version-1 payload (a rendered Slack message) from a notice."""
    if payload.get("version") != NOTICE_VERSION:
        return payload
    legacy = payload.get("legacy")
    if legacy:
        return {**legacy, "severity": payload.get("severity")}
    from watchkeeper.alerting.messages import render_slack
    from watchkeeper.alerting.notice import Notice

    return {**render_slack(Notice.from_json(payload)).payload(), "severity": payload.get("severity")}


def downgrade() -> None:
    """Render the notices back into Slack messages, drop outbox_delivery (per-sink state is lost)."""
    bind = op.get_bind()
    for row in bind.execute(sa.select(_outbox.c.id, _outbox.c.payload)).fetchall():
        bind.execute(_outbox.update().where(_outbox.c.id == row.id).values(payload=_rendered(dict(row.payload or {}))))
    op.drop_index("ix_outbox_delivery_model_status", table_name="outbox_delivery")
    op.drop_table("outbox_delivery")
    with op.batch_alter_table("outbox", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.alter_column(
            "ts", type_=sa.String(length=64), existing_type=sa.String(length=255), existing_nullable=True
        )
        batch.alter_column("sink", type_=sa.String(length=32), existing_type=sa.String(), existing_nullable=True)
