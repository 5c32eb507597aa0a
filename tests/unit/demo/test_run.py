"""How the demo judges an ``airflow dags test``: a critical window's failed ``health`` task is expected,
any other failed task is a failure."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from watchkeeper.demo.run import HEALTH_TASK_ID, DagTest, run_states

MONITOR = ("baseline", "profile", "check[0]", "check[1]", "report")


def outcome(code: int, **states: str) -> DagTest:
    return DagTest("monitor__demo_fraud", code, Path("x.log"), {**dict.fromkeys(MONITOR, "success"), **states})


def test_health_task_id_is_the_dag_builders() -> None:
    from watchkeeper.airflow.health import HEALTH_TASK_ID as BUILDERS

    assert HEALTH_TASK_ID == BUILDERS


def test_a_healthy_run_succeeds() -> None:
    run = outcome(0, health="success")
    assert run.ok and not run.critical and run.describe() == "success"


def test_a_failed_health_task_alone_is_a_critical_window_and_expected() -> None:
    run = outcome(1, health="failed")
    assert run.critical and run.ok
    assert run.describe().startswith("CRITICAL window -- the run failed in its `health` task by design")


@pytest.mark.parametrize(
    ("code", "states", "described"),
    [
        (
            1,
            {"report": "failed", "health": "upstream_failed"},
            "FAILED (exit 1; health upstream_failed, report failed)",
        ),
        (1, {"check[1]": "failed", "health": "failed"}, "FAILED (exit 1; check[1] failed, health failed)"),
        (1, {"health": "up_for_retry"}, "FAILED (exit 1; health up_for_retry)"),
        (0, {"health": "failed"}, "FAILED (exit 0; health failed)"),  # a failed task whatever the exit code
    ],
)
def test_any_other_failure_fails_the_demo(code: int, states: dict[str, str], described: str) -> None:
    run = outcome(code, **states)
    assert not run.ok and not run.critical
    assert run.describe() == described


def test_no_task_states_decides_on_the_exit_code() -> None:
    assert not DagTest("d", 1, Path("x.log")).ok
    assert DagTest("d", 1, Path("x.log")).describe() == "FAILED (exit 1; no task state recorded)"
    assert DagTest("d", 0, Path("x.log")).ok


def test_a_short_circuited_retraining_trigger_is_not_a_failure() -> None:
    states = {"score": "success", "decide_retraining": "success", "trigger_retraining": "skipped"}
    assert DagTest("performance__demo_fraud", 1, Path("x.log"), {**states, "health": "failed"}).critical


def test_run_states_reads_the_newest_run_of_the_dag(tmp_path: Path) -> None:
    db = tmp_path / "airflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE dag_run (id INTEGER PRIMARY KEY, dag_id TEXT, run_id TEXT)")
        conn.execute("CREATE TABLE task_instance (dag_id TEXT, run_id TEXT, task_id TEXT, map_index INT, state TEXT)")
        conn.executemany(
            "INSERT INTO dag_run VALUES (?, ?, ?)", [(1, "monitor__m", "a"), (2, "other", "b"), (3, "monitor__m", "c")]
        )
        conn.executemany(
            "INSERT INTO task_instance VALUES (?, ?, ?, ?, ?)",
            [
                ("monitor__m", "a", "health", -1, "success"),
                ("other", "b", "health", -1, "failed"),
                ("monitor__m", "c", "check", 0, "success"),
                ("monitor__m", "c", "check", 3, "success"),
                ("monitor__m", "c", "health", -1, "failed"),
            ],
        )
    env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}"}
    assert run_states(env, "monitor__m") == {"check[0]": "success", "check[3]": "success", "health": "failed"}
