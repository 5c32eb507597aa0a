"""Migration 0004 on a store with pre-0004 outbox rows (Slack messages rendered at queue time), on SQLite and
PostgreSQL: nothing undelivered is lost, a sent message keeps its thread, and the converted rows are delivered
by the new per-sink outbox with the real slack-sdk client against the local Slack server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from slack_server import TOKEN, SlackServer

from watchkeeper.alerting.outbox import deliver
from watchkeeper.alerting.sinks import slack as slack_module
from watchkeeper.alerting.sinkset import SinkSet
from watchkeeper.config import AlertSettings
from watchkeeper.store import MetricStore
from watchkeeper.store.schema import Notification

NOW = datetime(2026, 10, 2, 0, 5, tzinfo=UTC)
BLOCKS = [
    {"type": "header", "text": {"type": "plain_text", "text": "fraud: CRITICAL", "emoji": True}},
    {"type": "section", "text": {"type": "mrkdwn", "text": "*drift* · `amount` — *new*"}},
]


def v1(title: str, text: str, severity: str = "critical") -> dict[str, object]:
    """An outbox payload as written before 0004: a message rendered for Slack."""
    return {"title": title, "text": text, "blocks": BLOCKS, "plain": f"{title}\n  plain text", "severity": severity}


def row(key: str, kind: str, status: str, **kw: object) -> dict[str, object]:
    values: dict[str, object] = {
        "idempotency_key": key,
        "model": "fraud",
        "kind": kind,
        "run_id": "scheduled__1",
        "window_start": datetime(2026, 10, 1, tzinfo=UTC),
        "window_end": datetime(2026, 10, 2, tzinfo=UTC),
        "channel": "#ml-alerts",
        "alert_keys": ["drift[amount]"],
        "status": status,
        "attempts": 0,
        "created_at": NOW - timedelta(hours=2),
        "next_attempt_at": NOW - timedelta(hours=1),
        "expires_at": NOW + timedelta(days=2),
        "parent_key": None,
        "last_error": None,
        "sent_at": None,
        "sink": None,
        "ts": None,
        "delivered_channel": None,
    }
    values.update(kw)
    return values


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return str(request.getfixturevalue("pg_url_fresh"))  # its own database: the test migrates from 0003


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackServer]:
    server = SlackServer().start()
    for name in ("WATCHKEEPER_SLACK_WEBHOOK_URL", "WATCHKEEPER_ALERT_SINK", "WATCHKEEPER_SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WATCHKEEPER_SLACK_TOKEN", TOKEN)
    monkeypatch.setenv("WATCHKEEPER_SLACK_API_URL", server.url)
    monkeypatch.setattr(slack_module, "RETRY_BACKOFF_S", 0.01)
    yield server
    server.stop()


def test_pre_0004_rows_migrate_without_losing_an_undelivered_message(url: str, slack: SlackServer) -> None:
    from alembic import command

    store = MetricStore(url)
    config = store.alembic_config()
    command.upgrade(config, "0003")
    with sa.create_engine(url).begin() as connection:
        connection.execute(sa.delete(Notification.__table__))
        connection.execute(
            sa.insert(Notification.__table__),
            [
                row(
                    "alert:fraud:sent",
                    "alert",
                    "sent",
                    payload=v1("fraud: CRITICAL — 1 alert", "fraud CRITICAL: drift[amount] psi 0.4"),
                    sink="slack",
                    ts="1790000001.000100",
                    delivered_channel="C0ALERTS",
                    attempts=1,
                    sent_at=NOW - timedelta(hours=2),
                ),
                row(
                    "recovered:fraud:pending",
                    "recovered",
                    "pending",
                    payload=v1("fraud: recovered — drift[amount]", "fraud recovered: drift[amount]", "warning"),
                    parent_key="alert:fraud:sent",
                    attempts=2,
                    last_error="the Slack API answered HTTP 500",
                ),
                row(
                    "alert:fraud:pending",
                    "alert",
                    "pending",
                    payload=v1("fraud: WARNING — 1 alert", "fraud WARNING: quality[amount]", "warning"),
                    alert_keys=["quality[amount]"],
                ),
            ],
        )
    store.migrate()  # 0003 -> head, as every task does
    rows = {n.idempotency_key: n for n in store.notifications("fraud")}
    assert [n.status for n in rows.values()] == ["sent", "pending", "pending"]
    pending = rows["alert:fraud:pending"].payload
    assert pending["version"] == 2 and pending["kind"] == "alert" and pending["severity"] == "warning"
    assert [a["label"] for a in pending["alerts"]] == ["quality[amount]"]
    assert pending["window"] == {"start": "2026-10-01T00:00:00+00:00", "end": "2026-10-02T00:00:00+00:00"}
    assert pending["legacy"]["text"] == "fraud WARNING: quality[amount]" and pending["legacy"]["blocks"] == BLOCKS
    deliveries = {n.idempotency_key: d for n, d in store.deliveries("fraud")}
    assert {k: (d.sink, d.status, d.attempts) for k, d in deliveries.items()} == {
        "alert:fraud:sent": ("default", "sent", 1),
        "recovered:fraud:pending": ("default", "pending", 2),
        "alert:fraud:pending": ("default", "pending", 0),
    }
    assert deliveries["alert:fraud:sent"].ts == "1790000001.000100"
    assert deliveries["recovered:fraud:pending"].last_error == "the Slack API answered HTTP 500"
    # the new outbox delivers both, once: the reply in the thread of the message sent before the upgrade
    report = deliver(store, "fraud", SinkSet(AlertSettings(channel="#ml-alerts"), "fraud"), now=NOW)
    assert (len(report.sent), report.errors) == (2, [])
    reply, alert = slack.messages
    assert (reply.thread_ts, reply.channel, reply.text) == (
        "1790000001.000100",
        "C0ALERTS",
        "fraud recovered: drift[amount]",
    )
    assert (alert.thread_ts, alert.text, alert.blocks) == (None, "fraud WARNING: quality[amount]", BLOCKS)
    assert [n.status for n in store.notifications("fraud")] == ["sent", "sent", "sent"]
    assert deliver(store, "fraud", SinkSet(AlertSettings(channel="#ml-alerts"), "fraud"), now=NOW).sent == []
    # and back: the downgrade renders the notices into Slack messages again
    command.downgrade(config, "0003")
    with sa.create_engine(url).connect() as connection:
        payloads = [p for (p,) in connection.execute(sa.text("SELECT payload FROM outbox ORDER BY id"))]
        tables = sa.inspect(connection).get_table_names()
    payloads = [p if isinstance(p, dict) else __import__("json").loads(p) for p in payloads]
    assert "outbox_delivery" not in tables
    assert [p["text"] for p in payloads] == [
        "fraud CRITICAL: drift[amount] psi 0.4",
        "fraud recovered: drift[amount]",
        "fraud WARNING: quality[amount]",
    ]
    store.close()
