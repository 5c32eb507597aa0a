"""The monitor DAG's task bodies: the profile task reads the window once and stores its profile; each
check task loads the stored profile and gives exactly the results of one in-process run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pendulum

from support import TinyModel
from watchkeeper.airflow import tasks
from watchkeeper.checks import run_checks
from watchkeeper.config import LoadedConfig, TaskLayout
from watchkeeper.results import Window
from watchkeeper.store import MetricStore

DAY = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))


def test_profile_then_checks_from_the_stored_profile(tiny: TinyModel) -> None:
    context = {  # Airflow hands pendulum datetimes
        "data_interval_start": pendulum.datetime(2026, 10, 1, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 10, 2, tz="UTC"),
    }
    path = str(tiny.path)
    baseline = tasks.prepare_baseline(path)
    summary = tasks.build_window_profile(path, baseline, context)
    assert summary["n_rows"] == 1000 and summary["baseline_hash"] == baseline["hash"]
    assert len(str(summary)) < 400  # a small XCom
    store = MetricStore()
    stored = store.window_profile("tiny", DAY)
    assert stored is not None and stored.n_rows == 1000

    for path_ in (tiny.root / "log").glob("*.parquet"):
        moved = path_.with_suffix(".bak")
        path_.rename(moved)  # the check tasks never read the window
    outputs = {f: tasks.run_check_family(path, f, context) for f in ("quality", "drift", "prediction", "service")}
    for moved in (tiny.root / "log").glob("*.bak"):
        moved.rename(moved.with_suffix(".parquet"))
    expected = run_checks(tiny.config(), DAY, store).results
    got = [r for out in outputs.values() for r in out["results"]]
    drop = {"freshness_lag_hours"}  # depends on now
    assert [r for r in got if r["metric"] not in drop] == [r.as_dict() for r in expected if r.metric not in drop]


def test_rerunning_a_window_replaces_its_profile(tiny: TinyModel) -> None:
    store = MetricStore()
    store.migrate()
    report = run_checks(tiny.config(), DAY, store)
    first = store.save_window_profile("tiny", DAY, report.profile)
    second = store.save_window_profile("tiny", DAY, report.profile)
    assert first and second and len(store.window_profiles("tiny")) == 1


def test_monitor_dag_shape_reads_the_window_once(tiny: TinyModel) -> None:
    from watchkeeper.airflow.monitor_dag import build_monitor_dag

    dag = build_monitor_dag(tiny.config())
    assert set(dag.task_ids) == {"baseline", "profile", "check", "report", "health"}
    assert dag.get_task("profile").upstream_task_ids == {"baseline"}
    assert dag.get_task("check").upstream_task_ids == {"profile"}
    assert dag.get_task("report").upstream_task_ids == {"check"}


def test_monitor_dag_ends_in_the_health_task_and_report_publishes_the_health_asset(tiny: TinyModel) -> None:
    from watchkeeper.airflow.monitor_dag import build_monitor_dag

    dag = build_monitor_dag(tiny.config())
    report, gate = dag.get_task("report"), dag.get_task("health")
    assert [(a.name, a.uri) for a in report.outlets] == [("watchkeeper_health__tiny", "watchkeeper://health/tiny")]
    assert gate.upstream_task_ids == {"report"} and gate.downstream_task_ids == set()
    assert gate.retries == 1 and not gate.on_failure_callback  # a lost worker is retried, a critical window never
    assert report.retries == 1 and report.on_failure_callback
    assert [link.name for link in gate.operator_extra_links] == ["Model health"]


def _compact(tiny: TinyModel) -> LoadedConfig:
    loaded: LoadedConfig = tiny.config()
    model = loaded.model.model_copy(update={"layout": TaskLayout.COMPACT})
    return loaded.model_copy(update={"model": model})


def test_compact_layout_is_one_monitor_task_then_health(tiny: TinyModel) -> None:
    from watchkeeper.airflow.monitor_dag import build_monitor_dag

    dag = build_monitor_dag(_compact(tiny))
    assert set(dag.task_ids) == {"monitor", "health"}
    monitor, gate = dag.get_task("monitor"), dag.get_task("health")
    assert [a.name for a in monitor.outlets] == ["watchkeeper_health__tiny"]
    assert gate.upstream_task_ids == {"monitor"} and gate.downstream_task_ids == set()
    assert monitor.retries == 1 and monitor.on_failure_callback
    assert [link.name for link in monitor.operator_extra_links] == ["Model health"]


def test_compact_layout_runs_the_same_calls_as_the_family_tasks(tiny: TinyModel) -> None:
    from watchkeeper.airflow.dag_common import FAMILIES

    context = {
        "data_interval_start": pendulum.datetime(2026, 10, 1, tz="UTC"),
        "data_interval_end": pendulum.datetime(2026, 10, 2, tz="UTC"),
    }
    path = str(tiny.path)
    compact = tasks.run_all_families(path, FAMILIES, context)
    store = MetricStore()
    assert store.window_profile("tiny", DAY) is not None  # the profile is stored, as the profile task does
    families = [tasks.run_check_family(path, f, context) for f in FAMILIES]
    drop = {"freshness_lag_hours"}  # depends on now

    def comparable(outputs: list[dict[str, Any]]) -> list[Any]:
        return [
            (out["family"], out["n_rows"], [r for r in out["results"] if r["metric"] not in drop]) for out in outputs
        ]

    assert [out["family"] for out in compact] == list(FAMILIES)
    assert comparable(compact) == comparable(families)
    assert sum(len(out["results"]) for out in compact) > 20
