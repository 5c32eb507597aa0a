"""GX severity and duplicate ids through a real ``airflow dags test`` of a generated monitor DAG.

A small model (YAML, a GX 1.x suite with severities where GX 1.x keeps them -- the top-level ``severity``
of each expectation, as in ``expectations/demo_fraud.json`` -- reference data and one day of log) is
written to a project folder; one ``airflow dags test monitor__findings`` checks that day. In the window:

- 250 of 1,000 rows break the critical expectation ``amount`` <= 1,000: a CRITICAL finding (not a warning);
- ``age`` exceeds 90 on about a tenth of the rows, breaking a warning expectation: a WARNING finding;
- every prediction id is logged twice, so 500 of 1,000 rows repeat an id: a duplicate-id quality finding.

The metric store (SQLite) must hold these statuses and counts, and Airflow's metadata DB must show every
task successful except the final ``health`` task, failed once (the window is critical).

The same model in the ``compact`` layout (``findings_compact``: one ``monitor`` task, then ``health``) runs
on the same data in the same project: it must store exactly the same results and fail in ``health`` only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from support import make_rows, project_config
from watchkeeper.results import Status, Window
from watchkeeper.store import MetricRow, MetricStore

ROOT = Path(__file__).resolve().parents[2]
MODEL = "findings"
COMPACT = "findings_compact"
DAY = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
ROWS, BROKEN_AMOUNTS = 1000, 250

pytestmark = pytest.mark.airflow

SUITE = {
    "name": MODEL,
    "expectations": [
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "amount", "min_value": 0, "max_value": 1000},
            "meta": {},
            "notes": "Card payments above 1,000 are not served by this model.",
            "severity": "critical",
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "age", "min_value": 0, "max_value": 90},
            "meta": {},
            "severity": "warning",
        },
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "pid"}, "severity": "critical"},
    ],
    "meta": {},
}

# The window's data, not the config, breaks the suite: see ``write_project``.
CONFIG = project_config(MODEL, schedule="@daily", start_date="2026-09-01")

DAG_FILE = """
from pathlib import Path

from watchkeeper.airflow.dag_builder import register

register(globals(), Path(__file__).resolve().parent / "models")
"""


@dataclass
class Outcome:
    """What the run left: its exit code and log, the task states, the stored results of the window."""

    code: int
    log: str
    states: dict[tuple[str, int], tuple[str, int]]
    rows: list[MetricRow]
    note: str

    def result(self, metric: str, subject: str) -> MetricRow:
        (row,) = [r for r in self.rows if r.check == "quality" and r.metric == metric and r.subject == subject]
        return row


def write_project(root: Path) -> None:
    """The model's YAML, DAG file, GX suite, reference and the window's log under ``root``."""
    (root / "dags" / "models").mkdir(parents=True)
    (root / "expectations").mkdir()
    (root / "log").mkdir()
    (root / "dags" / "models" / f"{MODEL}.yaml").write_text(yaml.safe_dump(CONFIG))
    compact = {**CONFIG, "name": COMPACT, "layout": "compact"}
    (root / "dags" / "models" / f"{COMPACT}.yaml").write_text(yaml.safe_dump(compact))
    (root / "dags" / "watchkeeper_dags.py").write_text(DAG_FILE)
    (root / "expectations" / f"{MODEL}.json").write_text(json.dumps(SUITE))
    reference = make_rows(4000, "2026-09-01", seed=1, hours=24 * 4)
    reference["age"] = reference["age"].clip(upper=90)  # the reference itself meets the suite
    reference.to_parquet(root / "reference.parquet")
    window = make_rows(ROWS, "2026-10-01", seed=2)
    window["pid"] = [f"p{i // 2}" for i in range(ROWS)]  # every id twice: 500 rows repeat an id
    broken = np.random.default_rng(3).choice(ROWS, BROKEN_AMOUNTS, replace=False)
    window.loc[broken, "amount"] = 5000.0
    window.to_parquet(root / "log" / "day.parquet")


Run = Callable[[str], Outcome]


@pytest.fixture(scope="module")
def run_model(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """``airflow dags test`` of one model's monitor DAG for :data:`DAY`, in the module's project."""
    tmp = tmp_path_factory.mktemp("findings")
    project, home, wk = tmp / "project", tmp / "airflow", tmp / "wk"
    write_project(project)
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WATCHKEEPER"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "WATCHKEEPER_HOME": str(wk),
            "WATCHKEEPER_CONFIG_DIR": str(project / "dags" / "models"),
            "WATCHKEEPER_STRICT": "1",
            "WATCHKEEPER_ALERT_SINK": "log",
            "GX_ANALYTICS_ENABLED": "false",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    airflow = str(Path(sys.executable).parent / "airflow")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=900, check=False)

    for step in (("db", "migrate"), ("dags", "reserialize")):
        done = run(*step)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    def run_model(model: str) -> Outcome:
        # Airflow 3 runs a DAG after its interval: the run at 10-02T00:00 checks [10-01, 10-02)
        done = run("dags", "test", f"monitor__{model}", DAY.end.isoformat())
        with sqlite3.connect(home / "airflow.db") as conn:
            states = {
                (task, index): (state, tries)
                for task, index, state, tries in conn.execute(
                    "SELECT task_id, map_index, state, try_number FROM task_instance WHERE dag_id = ?",
                    (f"monitor__{model}",),
                )
            }
            notes = conn.execute(
                "SELECT n.content FROM dag_run_note n JOIN dag_run r ON r.id = n.dag_run_id WHERE r.dag_id = ?",
                (f"monitor__{model}",),
            ).fetchall()
        store = MetricStore(f"sqlite:///{wk / 'watchkeeper.db'}")
        rows = store.metrics(model, window=DAY)
        store.close()
        return Outcome(done.returncode, done.stdout + done.stderr, states, rows, str(notes[0][0]) if notes else "")

    return run_model


@pytest.fixture(scope="module")
def outcome(run_model: Run) -> Outcome:
    return run_model(MODEL)


@pytest.fixture(scope="module")
def compact(run_model: Run) -> Outcome:
    return run_model(COMPACT)


def test_the_run_fails_in_its_health_task_only(outcome: Outcome) -> None:
    assert outcome.rows, outcome.log[-5000:]
    assert outcome.code != 0
    failed = {task: state for task, (state, _) in outcome.states.items() if state != "success"}
    assert failed == {("health", -1): "failed"}, outcome.log[-5000:]
    assert outcome.states[("health", -1)][1] == 1  # not retried
    assert {task for task, _ in outcome.states} == {"baseline", "profile", "check", "report", "health"}
    assert "model findings: the window is CRITICAL -- this is the model's health, not a pipeline failure" in outcome.log
    assert outcome.note.startswith("**Watchkeeper** monitor `findings` 2026-10-01T00:00 → 2026-10-02T00:00 UTC")


def test_a_critical_expectation_failing_on_many_rows_is_a_critical_finding(outcome: Outcome) -> None:
    amount = outcome.result("gx.expect_column_values_to_be_between", "amount")
    assert amount.status is Status.CRITICAL
    assert amount.value == pytest.approx(BROKEN_AMOUNTS / ROWS)
    assert amount.details["severity"] == "critical"
    assert amount.details["unexpected_count"] == BROKEN_AMOUNTS and amount.details["element_count"] == ROWS
    assert amount.message == "expect_column_values_to_be_between failed on amount (25.00% unexpected)"
    assert "- CRIT `quality.gx.expect_column_values_to_be_between[amount]`" in outcome.note
    age = outcome.result("gx.expect_column_values_to_be_between", "age")  # top-level "warning"
    assert age.status is Status.WARNING and age.details["severity"] == "warning"
    assert 0.05 < (age.value or 0) < 0.15
    ids = outcome.result("gx.expect_column_values_to_not_be_null", "pid")
    assert ids.status is Status.OK


def test_half_the_ids_duplicated_is_a_quality_finding(outcome: Outcome) -> None:
    duplicates = outcome.result("duplicate_id_share", "pid")
    assert duplicates.status is Status.CRITICAL  # default levels: warning above 0, critical above 5 %
    assert duplicates.value == pytest.approx(0.5)
    assert duplicates.details["duplicates"] == ROWS // 2 and duplicates.details["ids"] == ROWS
    assert duplicates.message.startswith("500 of 1000 rows repeat a prediction id already seen in the window")


def _comparable(rows: list[MetricRow]) -> list[tuple[object, ...]]:
    return sorted(
        (r.check, r.metric, r.subject or "", str(r.status), r.value, r.threshold, r.message, json.dumps(r.details))
        for r in rows
    )


def test_the_compact_layout_stores_the_same_results_in_two_tasks(outcome: Outcome, compact: Outcome) -> None:
    assert compact.rows, compact.log[-5000:]
    assert compact.code != 0
    assert compact.states == {("monitor", -1): ("success", 1), ("health", -1): ("failed", 1)}, compact.log[-5000:]
    assert f"model {COMPACT}: the window is CRITICAL" in compact.log
    assert compact.note.startswith(f"**Watchkeeper** monitor `{COMPACT}` 2026-10-01T00:00 → 2026-10-02T00:00 UTC")
    assert len(compact.rows) == len(outcome.rows) > 20
    assert _comparable(compact.rows) == _comparable(outcome.rows)
