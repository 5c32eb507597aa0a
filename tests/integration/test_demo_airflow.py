"""The demo model through real Airflow (`airflow dags test`): a clean day has no findings, a faulty day
has findings for exactly the injected faults, and re-running a window replaces its rows."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from watchkeeper.demo import run as demo_run
from watchkeeper.demo.generate import CLEAN_DAY, FAULTS, FAULTY_DAY, generate
from watchkeeper.results import Window

ROOT = Path(__file__).resolve().parents[2]

# What the monitor must report on the faulty day, and nothing else: (check, metric, subject).
EXPECTED_FAULTY = {
    ("drift", "psi", "amount"),  # amount logged x1.8
    ("drift", "psi", "merchant_category"),  # a new category shifts the mix...
    ("quality", "unseen_category_share", "merchant_category"),  # ...and is never seen in training
    ("quality", "missing_share", "account_age_days"),  # 30% nulls
    ("service", "latency_p95_ms", ""),  # latency x5
    ("service", "latency_p99_ms", ""),
}


#: The demo's two monitor runs (the fixture fills it).
RUNS: dict[str, demo_run.DagTest] = {}


def window(day: date) -> Window:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return Window(start, start + timedelta(days=1))


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A state folder with generated data and a migrated embedded Airflow; monitor runs for both days."""
    home = tmp_path_factory.mktemp("demo-home")
    old = os.environ.get("WATCHKEEPER_HOME")
    os.environ["WATCHKEEPER_HOME"] = str(home)
    try:
        generate(home / "demo_data" / "demo_fraud")
        env = demo_run.airflow_env(ROOT / "dags")
        env["WATCHKEEPER_STRICT"] = "1"
        logs = home / "logs"
        logs.mkdir()
        assert demo_run.airflow(["db", "migrate"], env, logs / "migrate.log") == 0, (logs / "migrate.log").read_text()
        assert demo_run.airflow(["dags", "reserialize"], env, logs / "reserialize.log") == 0
        clean = demo_run.run_monitor(CLEAN_DAY, env, logs)
        assert clean.exit_code == 0 and clean.describe() == "success", clean.log_file.read_text()[-5000:]
        faulty = demo_run.run_monitor(FAULTY_DAY, env, logs)
        assert faulty.critical, faulty.describe() + faulty.log_file.read_text()[-5000:]
        RUNS.update(clean=clean, faulty=faulty)
        yield home, env
    finally:
        if old is None:
            os.environ.pop("WATCHKEEPER_HOME", None)
        else:
            os.environ["WATCHKEEPER_HOME"] = old


def findings(home: Path, day: date) -> set[tuple[str, str, str]]:
    from watchkeeper.store import MetricStore

    store = MetricStore(f"sqlite:///{home / 'watchkeeper.db'}")
    rows = store.metrics("demo_fraud", window=window(day))
    assert rows, f"no metrics stored for {day}"
    return {(r.check, r.metric, r.subject) for r in rows if r.status.is_finding}


def test_a_critical_window_is_a_failed_run_in_its_health_task_only(demo_home: tuple[Path, dict[str, str]]) -> None:
    """The grid shows the faulty day red (its `health` task failed, no retry) and the clean day green."""
    clean, faulty = RUNS["clean"], RUNS["faulty"]
    tasks = {"baseline", "profile", *(f"check[{i}]" for i in range(4)), "report", "health"}
    assert clean.states == dict.fromkeys(tasks, "success")
    assert faulty.states == {**dict.fromkeys(tasks, "success"), "health": "failed"}
    assert faulty.exit_code != 0 and faulty.ok and not clean.critical
    log = faulty.log_file.read_text()
    assert "model demo_fraud: the window is CRITICAL -- this is the model's health, not a pipeline failure" in log
    _, env = demo_home
    db = Path(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        runs = conn.execute(
            "SELECT r.state, r.logical_date, n.content FROM dag_run r LEFT JOIN dag_run_note n ON n.dag_run_id = r.id "
            "WHERE r.dag_id = 'monitor__demo_fraud' ORDER BY r.id"
        ).fetchall()
        events = conn.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.name = 'watchkeeper_health__demo_fraud' ORDER BY e.id"
        ).fetchall()
    assert [state for state, _, _ in runs[:2]] == ["success", "failed"]
    assert "**OK** (no findings)" in str(runs[0][2])
    assert str(runs[1][2]).startswith("**Watchkeeper** monitor `demo_fraud` 2026-10-28T00:00 → 2026-10-29T00:00 UTC")
    assert "**CRITICAL** (6 findings)" in str(runs[1][2])
    extras = [json.loads(str(e)) for (e,) in events[:2]]
    assert [(x["kind"], x["status"]) for x in extras] == [("monitor", "ok"), ("monitor", "critical")]
    assert extras[1]["findings"] == sorted(f"{c}.{m}[{s}]" if s else f"{c}.{m}" for c, m, s in EXPECTED_FAULTY)


def test_clean_day_has_no_findings(demo_home: tuple[Path, dict[str, str]]) -> None:
    home, _ = demo_home
    assert findings(home, CLEAN_DAY) == set()


def test_faulty_day_finds_exactly_the_injected_faults(demo_home: tuple[Path, dict[str, str]]) -> None:
    home, _ = demo_home
    found = findings(home, FAULTY_DAY)
    assert found == EXPECTED_FAULTY
    fault_columns = {f.column for f in FAULTS}
    for check, _metric, subject in found:
        assert subject in fault_columns or check == "service"


def test_run_is_recorded_with_airflow_run_id_and_alert_file(demo_home: tuple[Path, dict[str, str]]) -> None:
    from watchkeeper.reporting import read_alerts
    from watchkeeper.store import MetricStore

    home, _ = demo_home
    store = MetricStore(f"sqlite:///{home / 'watchkeeper.db'}")
    runs = {r.window_start: r for r in store.runs("demo_fraud")}
    faulty = runs[window(FAULTY_DAY).start]
    assert faulty.source == "airflow" and faulty.run_id.startswith("manual__")
    assert faulty.n_rows == 2000 and faulty.status == "critical"
    alerts = [a for a in read_alerts(home / "alerts.jsonl") if "window" in a]
    assert [a["window"]["start"] for a in alerts] == [window(FAULTY_DAY).start.isoformat()]
    assert {(f["check"], f["metric"], f["subject"]) for f in alerts[0]["findings"]} == EXPECTED_FAULTY
    # the run's HTML report is written as an artifact, and the alert message links to it
    (report,) = (home / "reports" / "demo_fraud").glob("20261028T000000--*.html")
    assert "<svg" in report.read_text()
    from watchkeeper.alerting import list_notifications

    (note,) = list_notifications("demo_fraud", window(FAULTY_DAY), store=store)
    assert "/watchkeeper/models/demo_fraud/report?start=2026-10-28" in json.dumps(note.payload)


def test_rerunning_a_window_replaces_instead_of_duplicating(demo_home: tuple[Path, dict[str, str]]) -> None:
    from watchkeeper.reporting import read_alerts
    from watchkeeper.store import MetricStore

    home, env = demo_home
    store = MetricStore(f"sqlite:///{home / 'watchkeeper.db'}")
    before = len(store.metrics("demo_fraud"))
    rerun = demo_run.run_monitor(FAULTY_DAY, env, home / "logs")
    assert rerun.critical, rerun.describe() + rerun.log_file.read_text()[-3000:]
    assert len(store.metrics("demo_fraud")) == before
    assert len([r for r in store.runs("demo_fraud")]) == 2
    assert len([a for a in read_alerts(home / "alerts.jsonl") if "window" in a]) == 1


PERF_DAY = date(2026, 10, 27)


def test_performance_dag_detects_the_fall_and_retrains_once_per_cooldown(
    demo_home: tuple[Path, dict[str, str]],
) -> None:
    from watchkeeper.store import MetricStore

    home, env = demo_home
    os.environ["WATCHKEEPER_HOME"] = str(home)
    os.environ["WATCHKEEPER_CONFIG_DIR"] = str(ROOT / "dags" / "models")
    try:
        demo_run.backfill_performance([date(2026, 10, d) for d in range(1, PERF_DAY.day)])
    finally:
        os.environ.pop("WATCHKEEPER_CONFIG_DIR", None)
    store = MetricStore(f"sqlite:///{home / 'watchkeeper.db'}")
    assert store.retrain_triggers("demo_fraud") == []  # scoring history never triggers by itself

    run = demo_run.run_performance(PERF_DAY, env, home / "logs")
    # recall is critical: the run fails in `health` alone, after the retraining was triggered beside it
    assert run.critical, run.describe() + run.log_file.read_text()[-5000:]
    assert run.states == {
        "score": "success",
        "decide_retraining": "success",
        "trigger_retraining": "success",
        "health": "failed",
    }
    rows = {r.metric: r for r in store.metrics("demo_fraud", window=window(PERF_DAY), check="performance")}
    assert rows["recall"].status.name == "CRITICAL" and rows["recall"].details["baseline_kind"] == "reference"
    assert rows["recall_trend"].status.name == "WARNING"
    db = Path(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:  # the performance run publishes its health like a monitor run
        (note,) = conn.execute(
            "SELECT n.content FROM dag_run r JOIN dag_run_note n ON n.dag_run_id = r.id "
            "WHERE r.dag_id = 'performance__demo_fraud'"
        ).fetchone()
        (extra,) = conn.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.name = 'watchkeeper_health__demo_fraud' ORDER BY e.id DESC LIMIT 1"
        ).fetchone()
    assert str(note).startswith("**Watchkeeper** performance `demo_fraud` 2026-10-27T00:00 → 2026-10-28T00:00 UTC")
    assert "**CRITICAL**" in str(note) and "- CRIT `performance.recall`" in str(note)
    event = json.loads(str(extra))
    assert (event["kind"], event["status"], event["dag_id"]) == ("performance", "critical", "performance__demo_fraud")
    assert "performance.recall" in event["findings"] and "performance.recall_trend" in event["findings"]
    assert event["window"] == {"start": "2026-10-27T00:00:00+00:00", "end": "2026-10-28T00:00:00+00:00"}
    (trigger,) = store.retrain_triggers("demo_fraud")
    assert trigger.dag_id == "retrain__demo_fraud"
    assert trigger.conf["model"] == "demo_fraud" and trigger.conf["window"]["start"].startswith("2026-10-27")
    assert {m["metric"] for m in trigger.conf["failing_metrics"]} >= {"recall"}
    assert trigger.conf["run_url"] and "performance__demo_fraud" in trigger.conf["run_url"]
    listing = home / "logs" / "runs.json"
    demo_run.airflow(["dags", "list-runs", "retrain__demo_fraud", "-o", "json"], env, listing)
    assert listing.read_text().count('"dag_id": "retrain__demo_fraud"') == 1  # queued by TriggerDagRunOperator

    run = demo_run.run_performance(date(2026, 10, 28), env, home / "logs")  # still degraded
    assert run.critical, run.describe() + run.log_file.read_text()[-5000:]
    assert run.states["trigger_retraining"] == "skipped"  # short-circuited by the cooldown; `health` unaffected
    assert len(store.retrain_triggers("demo_fraud")) == 1  # within the 7-day cooldown: no second trigger
    assert "cooldown: retraining was triggered at" in run.log_file.read_text()
    demo_run.airflow(["dags", "list-runs", "retrain__demo_fraud", "-o", "json"], env, listing)
    assert listing.read_text().count('"dag_id": "retrain__demo_fraud"') == 1


def test_label_pipeline_signals_arrival_through_the_asset(demo_home: tuple[Path, dict[str, str]]) -> None:
    home, env = demo_home
    log_file = home / "logs" / "labels.log"
    assert demo_run.airflow(["dags", "test", "labels__demo_fraud"], env, log_file) == 0, log_file.read_text()[-3000:]
    db = Path(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///"))
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT asset.name, asset.uri, asset_event.extra "
            "FROM asset_event JOIN asset ON asset.id = asset_event.asset_id"
        ).fetchall()
    events = [(name, uri, json.loads(extra)) for name, uri, extra in rows if name == "watchkeeper_labels__demo_fraud"]
    assert events, rows
    name, uri, extra = events[-1]
    assert uri == "watchkeeper://labels/demo_fraud"
    assert extra["start"] == "2026-10-27T00:00:00+00:00" and extra["end"] == "2026-10-28T00:00:00+00:00"
