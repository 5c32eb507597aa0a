"""Health in Airflow through ``airflow dags test``: the DAG-run note, the task link, the critical gate, the Asset.

A monitor-shaped DAG (``health_probe_dag.py``) publishes a warning and then a critical window with the
helpers the DAG builders call; Watchkeeper's listener is registered by ``deploy/celery/plugins``. The
metadata DB (SQLite) must then hold: a note on each run with the status, the top findings and the links;
the "Model health" link of the ``health`` task; a failed ``health`` task (one try, no retry) only for the
critical window; and a health Asset event per run with the status in its extra, queued for the example
gate DAG. (The scheduler turning that queue into gate runs is tested on the Celery deployment.)
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BASE_URL = "http://airflow.example:8080"

pytestmark = pytest.mark.airflow


@dataclass
class Runs:
    db: Path
    codes: dict[str, int]
    logs: dict[str, str]

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db) as conn:
            return conn.execute(sql, params).fetchall()


def dag_folder(tmp: Path) -> Path:
    dags = tmp / "dags"
    dags.mkdir()
    shutil.copy(HERE / "health_probe_dag.py", dags / "health_probe_dag.py")
    gate = (ROOT / "dags" / "example_health_gate.py").read_text()
    assert 'MODEL = "demo_fraud"' in gate
    (dags / "example_health_gate.py").write_text(gate.replace('MODEL = "demo_fraud"', 'MODEL = "health_probe"'))
    return dags


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    tmp = tmp_path_factory.mktemp("health")
    home = tmp / "airflow"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dag_folder(tmp)),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "deploy" / "celery" / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",  # the gate DAG listens from the start
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__BASE_URL": BASE_URL,
            "WATCHKEEPER_HOME": str(tmp / "wk"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    airflow = str(Path(sys.executable).parent / "airflow")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=600, check=False)

    for step in (("db", "migrate"), ("dags", "reserialize")):
        done = run(*step)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    codes, logs = {}, {}
    for status in ("warning", "critical"):
        done = run("dags", "test", "monitor__health_probe", "-c", json.dumps({"status": status}))
        codes[status], logs[status] = done.returncode, done.stdout + done.stderr
    yield Runs(home / "airflow.db", codes, logs)


def _run_of(runs: Runs, status: str) -> str:
    (run_id,) = [
        r
        for (r, conf) in runs.rows("SELECT run_id, conf FROM dag_run WHERE dag_id = 'monitor__health_probe'")
        if status in str(conf)
    ]
    return str(run_id)


def test_a_critical_window_fails_the_run_in_the_health_task_only(runs: Runs) -> None:
    assert runs.codes["warning"] == 0, runs.logs["warning"][-3000:]
    assert runs.codes["critical"] != 0
    for status, run_state, health_state in (("warning", "success", "success"), ("critical", "failed", "failed")):
        run_id = _run_of(runs, status)
        assert runs.rows("SELECT state FROM dag_run WHERE run_id = ?", (run_id,)) == [(run_state,)]
        states = dict(runs.rows("SELECT task_id, state FROM task_instance WHERE run_id = ?", (run_id,)))
        assert states == {"report": "success", "health": health_state}
    tries = runs.rows(
        "SELECT try_number FROM task_instance WHERE run_id = ? AND task_id = 'health'", (_run_of(runs, "critical"),)
    )
    assert tries == [(1,)]  # no retry: a critical window stays critical
    assert "the window is CRITICAL -- this is the model's health, not a pipeline failure" in runs.logs["critical"]


def test_each_run_has_a_note_with_status_findings_and_links(runs: Runs) -> None:
    notes = dict(
        runs.rows(
            "SELECT r.conf, n.content FROM dag_run r JOIN dag_run_note n ON n.dag_run_id = r.id "
            "WHERE r.dag_id = 'monitor__health_probe'"
        )
    )
    assert len(notes) == 2
    critical = next(v for k, v in notes.items() if "critical" in str(k))
    warning = next(v for k, v in notes.items() if "warning" in str(k))
    assert str(critical).startswith(
        "**Watchkeeper** monitor `health_probe` 2026-10-01T00:00 → 2026-10-02T00:00 UTC: **CRITICAL** (2 findings)"
    )
    assert "- CRIT `drift.psi[amount]`: amount drifted: psi 0.31 (critical)" in str(critical)
    assert f"[Model page]({BASE_URL}/watchkeeper/models/health_probe)" in str(critical)
    assert f"[Run report]({BASE_URL}/watchkeeper/models/health_probe/report?start=2026-10-01T00" in str(critical)
    assert "**WARNING** (2 findings)" in str(warning)


def test_the_health_task_links_to_the_model_page(runs: Runs) -> None:
    links = runs.rows("SELECT value FROM xcom WHERE task_id = 'health' AND key = '_link_ModelPageLink'")
    assert len(links) == 2
    assert {json.loads(str(v)) for (v,) in links} == {f"{BASE_URL}/watchkeeper/models/health_probe"}


def test_each_run_emits_a_health_asset_event_queued_for_the_gate(runs: Runs) -> None:
    events = runs.rows(
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.name = 'watchkeeper_health__health_probe' AND a.uri = 'watchkeeper://health/health_probe' "
        "ORDER BY e.id"
    )
    extras = [json.loads(str(e)) for (e,) in events]
    assert [x["status"] for x in extras] == ["warning", "critical"]
    assert extras[1]["findings"] == ["drift.psi[amount]", "service.latency_p95_ms"]
    assert extras[1]["window"] == {"start": "2026-10-01T00:00:00+00:00", "end": "2026-10-02T00:00:00+00:00"}
    assert extras[1]["model_url"] == f"{BASE_URL}/watchkeeper/models/health_probe"
    queued = runs.rows("SELECT target_dag_id FROM asset_dag_run_queue")
    assert queued == [("health_gate__health_probe",)]
