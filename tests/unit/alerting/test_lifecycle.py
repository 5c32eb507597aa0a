"""The alert lifecycle through :func:`dispatch` with the log sink: consolidation, cooldown, escalation,
resolution, quiet hours, severe-only, idempotent retries, other check families, monitor failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from watchkeeper.alerting import (
    dispatch,
    list_notifications,
    notify_monitor_failure,
    read_notifications,
    render_notification_text,
)
from watchkeeper.alerting.messages import Message, render_slack
from watchkeeper.alerting.outbox import notice_of
from watchkeeper.config import LoadedConfig
from watchkeeper.reporting import alert_file
from watchkeeper.results import CheckResult, Status, Window
from watchkeeper.store import MetricStore, NotificationRow

from .helpers import W1, at, result, window

ConfigFactory = Callable[..., LoadedConfig]

DRIFT = result("drift", "psi", "amount", 0.4, details={"critical": 0.25})
P95 = result("service", "latency_p95_ms", "", 700.0, threshold=200, details={"critical": 500})
P99 = result("service", "latency_p99_ms", "", 900.0, Status.WARNING, threshold=400)
MISSING_WARN = result("quality", "missing_share", "amount", 0.1, Status.WARNING, threshold=0.05)
MISSING_CRIT = result("quality", "missing_share", "amount", 0.3, threshold=0.05, details={"critical": 0.2})


def ok(check: str, metric: str, subject: str = "") -> CheckResult:
    return result(check, metric, subject, 0.01, Status.OK, message=f"{metric} fine")


HEALTHY = [
    ok("drift", "psi", "amount"),
    ok("service", "latency_p95_ms"),
    ok("service", "latency_p99_ms"),
    ok("quality", "missing_share", "amount"),
]


def run(config: LoadedConfig, store: MetricStore, day: int, results: list[CheckResult], **kw: Any) -> dict[str, Any]:
    kw.setdefault("now", at(day))
    return dispatch(
        config,
        window(day),
        results,
        run_id=f"scheduled__{day}",
        dag_id=f"monitor__{config.model.name}",
        store=store,
        run_url=f"http://airflow/runs/{day}",
        **kw,
    )


def rendered(note: NotificationRow) -> Message:
    """The Slack rendering of a stored notification (what a sink renders at send time)."""
    return render_slack(notice_of(note))


def sent(store: MetricStore, day: int | None = None) -> list[NotificationRow]:
    rows = store.notifications("fraud", window=window(day) if day is not None else None)
    assert all(n.status == "sent" and n.sink == "log" for n in rows)
    return rows


def test_a_healthy_run_says_nothing(config_factory: ConfigFactory, store: MetricStore) -> None:
    summary = run(config_factory(channel="#ml"), store, 0, HEALTHY)
    assert (summary["notifications"], summary["sent"], summary["opened"], summary["sink"]) == (0, 0, 0, "log")
    assert store.notifications("fraud") == [] and store.alert_states("fraud") == []
    assert not alert_file().exists()


def test_new_findings_make_one_consolidated_message(config_factory: ConfigFactory, store: MetricStore) -> None:
    config = config_factory(channel="#ml", mentions=["@here"])
    summary = run(config, store, 0, [DRIFT, P95, P99, MISSING_WARN, ok("quality", "row_count")])
    assert summary | {"window": None} == {
        "model": "fraud",
        "window": None,
        "sink": "log",
        "opened": 3,
        "ongoing": 0,
        "escalated": 0,
        "reminded": 0,
        "resolved": 0,
        "held": 0,
        "stale": 0,
        "notifications": 1,
        "sent": 1,
        "pending": 0,
        "expired": 0,
        "failed_attempts": 0,
        "errors": [],
        "sinks": {"default": {"kind": "log", "sent": 1, "failed": 0, "errors": []}},
    }
    (note,) = sent(store)
    # the outbox holds what happened, not a message: model, window, severity, keys with events and findings
    assert note.payload["version"] == 2 and "blocks" not in note.payload
    assert (note.payload["kind"], note.payload["severity"], note.payload["status"]) == ("alert", "critical", "critical")
    assert [(a["label"], a["event"], a["severity"]) for a in note.payload["alerts"]] == [
        ("drift[amount]", "new", "critical"),
        ("service", "new", "critical"),
        ("quality[amount]", "new", "warning"),
    ]
    drift = note.payload["alerts"][0]["findings"][0]
    assert (drift["metric"], drift["value"], drift["threshold"]) == ("psi", 0.4, 0.25)
    assert note.payload["links"] == {"run": "http://airflow/runs/0"} and note.sinks == ["default"]
    assert (note.kind, note.channel, note.parent_key, note.run_id) == ("alert", "#ml", None, "scheduled__0")
    assert note.alert_keys == ["drift[amount]", "quality[amount]", "service"]  # p95 and p99: one alert
    assert rendered(note).text.startswith("fraud CRITICAL: drift[amount] psi 0.4; service latency_p95_ms 700")
    states = {s.key: s for s in store.alert_states("fraud")}
    assert {k: (s.state, s.severity, s.thread_key) for k, s in states.items()} == {
        ("drift", "amount"): ("open", "critical", note.idempotency_key),
        ("quality", "amount"): ("open", "warning", note.idempotency_key),
        ("service", ""): ("open", "critical", note.idempotency_key),
    }
    assert [f["metric"] for f in states[("service", "")].findings] == ["latency_p95_ms", "latency_p99_ms"]
    # the window's alerts are kept per metric for history
    assert {(a.metric, a.status) for a in store.alerts("fraud")} == {
        ("psi", "open"),
        ("latency_p95_ms", "open"),
        ("latency_p99_ms", "open"),
        ("missing_share", "open"),
    }
    # without Slack: one JSONL record with the same message, readable as text
    (record,) = read_notifications("fraud", window(0))
    assert record["key"] == note.idempotency_key and record["blocks"] == rendered(note).blocks
    assert render_notification_text(record).splitlines()[0] == "[alert → #ml]"
    assert render_notification_text(list_notifications("fraud", window(0), store=store)[0]).startswith(
        "[alert → #ml · sent]\nfraud: CRITICAL"
    )


def test_ongoing_alerts_reply_at_most_once_per_cooldown(config_factory: ConfigFactory, store: MetricStore) -> None:
    config = config_factory(channel="#ml", cooldown="36h")
    run(config, store, 0, [DRIFT])
    (parent,) = sent(store, 0)
    assert run(config, store, 1, [DRIFT])["notifications"] == 0  # 24 h < 36 h: quiet
    summary = run(config, store, 2, [DRIFT])  # 48 h: a reminder in the thread
    assert (summary["ongoing"], summary["reminded"], summary["notifications"]) == (1, 1, 1)
    (reminder,) = sent(store, 2)
    assert (reminder.kind, reminder.parent_key, reminder.channel) == ("reminder", parent.idempotency_key, "#ml")
    assert "still failing" in rendered(reminder).plain and "ongoing since 2026-10-01" in rendered(reminder).plain
    assert run(config, store, 3, [DRIFT])["notifications"] == 0  # 24 h after the reminder: quiet again
    (state,) = store.alert_states("fraud")
    assert (state.state, state.notified_at, state.thread_key) == ("ongoing", at(2), parent.idempotency_key)


def test_escalation_posts_at_once_and_recovery_replies_in_its_thread(
    config_factory: ConfigFactory, store: MetricStore
) -> None:
    config = config_factory(channel="#ml", severity_channels={"critical": "#oncall"})
    run(config, store, 0, [MISSING_WARN])
    (first,) = sent(store, 0)
    assert first.channel == "#ml"  # a warning goes to the model's channel
    summary = run(config, store, 1, [MISSING_CRIT])  # within the cooldown, but worse
    assert (summary["escalated"], summary["notifications"]) == (1, 1)
    (escalated,) = sent(store, 1)
    assert (escalated.kind, escalated.channel, escalated.parent_key) == ("alert", "#oncall", None)
    assert "ESCALATED from warning" in rendered(escalated).plain
    summary = run(config, store, 2, [ok("quality", "missing_share", "amount")])
    assert (summary["resolved"], summary["notifications"]) == (1, 1)
    (recovered,) = sent(store, 2)
    assert (recovered.kind, recovered.parent_key, recovered.channel) == (
        "recovered",
        escalated.idempotency_key,
        "#oncall",
    )
    assert "RECOVERED" in rendered(recovered).plain and "missing_share 1% (threshold 50%)" in rendered(recovered).plain
    (state,) = store.alert_states("fraud")
    assert (state.state, state.resolved_at) == ("resolved", at(2))
    assert {a.status for a in store.alerts("fraud", window=window(2))} == {"resolved"}
    # fine again: nothing more; back again later: a new incident with a new message
    assert run(config, store, 3, [ok("quality", "missing_share", "amount")])["notifications"] == 0
    summary = run(config, store, 4, [MISSING_WARN])
    assert (summary["opened"], summary["notifications"]) == (1, 1)
    (reopened,) = sent(store, 4)
    assert reopened.kind == "alert" and "NEW" in rendered(reopened).plain


def test_a_new_alert_repeats_the_ongoing_ones_in_one_message(config_factory: ConfigFactory, store: MetricStore) -> None:
    config = config_factory(channel="#ml", cooldown="2d")
    run(config, store, 0, [DRIFT])
    (first,) = sent(store, 0)
    run(config, store, 1, [DRIFT, P95])
    (second,) = sent(store, 1)
    assert second.alert_keys == ["drift[amount]", "service"]
    assert "ongoing since 2026-10-01" in rendered(second).plain and "NEW" in rendered(second).plain
    # both keys now live in the thread of the newest message
    assert {s.thread_key for s in store.alert_states("fraud")} == {second.idempotency_key}
    run(config, store, 2, [ok("drift", "psi", "amount"), P95])
    (recovered,) = sent(store, 2)
    assert recovered.parent_key == second.idempotency_key != first.idempotency_key


def test_quiet_hours_hold_warnings_but_not_criticals(config_factory: ConfigFactory, store: MetricStore) -> None:
    config = config_factory(channel="#ml", quiet_hours={"start": "22:00", "end": "07:00", "timezone": "UTC"})
    night = window(0).end + timedelta(hours=2)
    summary = run(config, store, 0, [MISSING_WARN], now=night)
    assert (summary["held"], summary["notifications"]) == (0 + 1, 0)
    (state,) = store.alert_states("fraud")
    assert (state.state, state.notified_at) == ("open", None)
    summary = run(config, store, 1, [MISSING_WARN], now=window(1).end + timedelta(hours=9))  # 09:00: announce
    assert summary["notifications"] == 1
    (note,) = sent(store, 1)
    assert note.kind == "alert" and "NEW" in rendered(note).plain
    # a critical at night goes out, and lists the held warning with it
    summary = run(config, store, 2, [MISSING_WARN, DRIFT], now=window(2).end + timedelta(hours=3))
    assert summary["notifications"] == 1
    assert sent(store, 2)[0].alert_keys == ["drift[amount]", "quality[amount]"]


def test_a_warning_held_at_night_and_gone_by_morning_is_never_sent(
    config_factory: ConfigFactory, store: MetricStore
) -> None:
    config = config_factory(channel="#ml", quiet_hours={"start": "22:00", "end": "07:00"})
    run(config, store, 0, [MISSING_WARN], now=window(0).end + timedelta(hours=1))
    summary = run(config, store, 1, [ok("quality", "missing_share", "amount")], now=window(1).end + timedelta(hours=9))
    assert (summary["resolved"], summary["notifications"]) == (1, 0)
    assert store.notifications("fraud") == []


def test_severe_only_ignores_warnings(config_factory: ConfigFactory, store: MetricStore) -> None:
    config = config_factory(channel="#ml", severe_only=True)
    assert run(config, store, 0, [MISSING_WARN, P99])["notifications"] == 0
    assert store.alert_states("fraud") == []
    run(config, store, 1, [MISSING_CRIT, P99])
    (note,) = sent(store, 1)
    assert note.alert_keys == ["quality[amount]"]
    summary = run(config, store, 2, [MISSING_WARN])  # below the alert level now: that is a recovery
    assert (summary["resolved"], summary["notifications"]) == (1, 1)
    assert sent(store, 2)[0].kind == "recovered"


def test_a_retried_dispatch_of_the_same_window_sends_nothing_twice(
    config_factory: ConfigFactory, store: MetricStore
) -> None:
    config = config_factory(channel="#ml", cooldown="1d")
    for attempt in range(3):  # the report task retried twice (e.g. a check error failed it)
        summary = run(config, store, 0, [DRIFT, P95], now=at(0) + timedelta(minutes=attempt))
        assert (summary["notifications"], summary["opened"]) == (1 if attempt == 0 else 0, 2)
    assert len(sent(store)) == 1
    for attempt in range(2):  # day 1: a reminder and a recovery, each once
        run(config, store, 1, [DRIFT, ok("service", "latency_p95_ms")], now=at(1) + timedelta(minutes=attempt))
    assert [n.kind for n in sent(store, 1)] == ["reminder", "recovered"]
    assert len(read_notifications("fraud")) == 3
    # a re-run of the window that finds more is a different message
    run(config, store, 1, [DRIFT, P95, MISSING_WARN], now=at(1) + timedelta(hours=1))
    assert [n.kind for n in sent(store, 1)] == ["reminder", "recovered", "alert"]


def test_a_backfill_of_an_older_window_does_not_touch_newer_state(
    config_factory: ConfigFactory, store: MetricStore
) -> None:
    config = config_factory(channel="#ml")
    run(config, store, 5, [DRIFT])
    summary = run(config, store, 2, [ok("drift", "psi", "amount")], now=at(6))
    assert (summary["stale"], summary["resolved"], summary["notifications"]) == (1, 0, 0)
    assert store.alert_states("fraud")[0].state == "open"


def test_other_check_families_leave_monitor_alerts_alone(config_factory: ConfigFactory, store: MetricStore) -> None:
    config = config_factory(channel="#ml")
    run(config, store, 0, [DRIFT])
    auc = result("performance", "auc", "", 0.71, threshold=0.8, details={"baseline": 0.9, "change": -0.21})
    summary = run(config, store, 0, [auc], now=at(3))  # labels arrived three days later
    assert (summary["opened"], summary["resolved"], summary["notifications"]) == (1, 0, 1)
    note = sent(store, 0)[-1]
    assert note.alert_keys == ["performance"]
    assert "auc 0.71 · baseline 0.9 · threshold 0.8 · change -21% (-0.19)" in rendered(note).plain
    assert {s.key: s.state for s in store.alert_states("fraud")} == {
        ("drift", "amount"): "open",
        ("performance", ""): "open",
    }
    assert {a.check for a in store.alerts("fraud", window=window(0))} == {"drift", "performance"}


def test_skipped_checks_neither_continue_nor_resolve(config_factory: ConfigFactory, store: MetricStore) -> None:
    config = config_factory(channel="#ml")
    run(config, store, 0, [DRIFT])
    skipped = result("drift", "psi", "amount", None, Status.SKIPPED, message="amount: no data in window")
    summary = run(config, store, 1, [skipped])
    assert (summary["resolved"], summary["ongoing"], summary["notifications"]) == (0, 0, 0)
    (state,) = store.alert_states("fraud")
    assert (state.state, state.window) == ("open", window(0))


def test_a_crashed_check_result_alerts_as_critical(config_factory: ConfigFactory, store: MetricStore) -> None:
    config = config_factory(channel="#ml", severity_channels={"critical": "#oncall"}, severe_only=True)
    crashed = result("drift", "psi", "amount", None, Status.ERROR, message="drift failed: ValueError: boom")
    run(config, store, 0, [crashed])
    (note,) = sent(store, 0)
    assert note.channel == "#oncall" and "ERR" in rendered(note).plain and "boom" in rendered(note).plain


def test_monitor_failures_thread_by_run_and_are_not_repeated(config_factory: ConfigFactory, store: MetricStore) -> None:
    config = config_factory(channel="#ml", severity_channels={"critical": "#oncall"}, mentions=["@here"])
    args: dict[str, Any] = {
        "model": "fraud",
        "dag_id": "monitor__fraud",
        "run_id": "scheduled__0",
        "config": config,
        "store": store,
        "log_url": "http://airflow/log",
        "try_number": 1,
    }
    first = notify_monitor_failure(task_id="check[drift]", error="SourceError: no file", **args)
    second = notify_monitor_failure(task_id="check[quality]", error="SourceError: no file", **args)
    again = notify_monitor_failure(task_id="check[quality]", error="SourceError: no file", **args)
    assert first["sent"] and second["sent"] and not again["sent"]
    rows = store.notifications("fraud", kind="monitor_failed")
    assert [(n.channel, n.parent_key) for n in rows] == [("#oncall", None), ("#oncall", rows[0].idempotency_key)]
    assert "MONITORING FAILED" in rendered(rows[0]).plain and "Task log: http://airflow/log" in rendered(rows[0]).plain
    assert rows[0].payload["failure"] == {
        "dag_id": "monitor__fraud",
        "task": "check[drift]",
        "run_id": "scheduled__0",
        "error": "SourceError: no file",
    }
    assert len(read_notifications("fraud")) == 2


def test_monitor_failure_with_the_store_down_is_still_reported(
    config_factory: ConfigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    down = MetricStore("postgresql+psycopg://u:pw@127.0.0.1:1/x")
    summary = notify_monitor_failure(
        model="fraud",
        dag_id="monitor__fraud",
        task_id="report",
        run_id="scheduled__0",
        error="StoreError: cannot reach the metric store",
        config=config_factory(channel="#ml"),
        store=down,
    )
    assert summary["sent"] is True  # straight to the sink, without the outbox
    assert "metric store postgresql+psycopg://u:***@127.0.0.1:1/x" in summary["errors"][0]
    (record,) = read_notifications("fraud")
    assert record["kind"] == "monitor_failed" and "cannot reach the metric store" in record["plain"]
    assert "monitoring failed: model=fraud dag=monitor__fraud task=report" in caplog.text


def test_alert_file_keeps_window_lines_and_notification_records(
    config_factory: ConfigFactory, store: MetricStore
) -> None:
    from watchkeeper.reporting import alert_record, read_alerts, write_alert

    config = config_factory(channel="#ml")
    run(config, store, 0, [DRIFT])
    write_alert(alert_record("fraud", window(0), [DRIFT], run_id="r1"))
    write_alert(alert_record("fraud", window(0), [DRIFT], run_id="r2"))  # replaces its own line only
    records = read_alerts()
    assert [r.get("record", "window-line") for r in records] == ["notification", "window-line"]
    assert all(json.loads(line) for line in Path(alert_file()).read_text().splitlines())
    assert records[1]["run_id"] == "r2"


def test_window_helper_sanity() -> None:
    assert window(1).start == W1.end and isinstance(window(0), Window)
