"""The metric store on a distributed executor, through a real ``airflow dags test`` of a monitor DAG.

Airflow configured with the CeleryExecutor and no store: the first task that opens the store fails with a
message that says how to configure one, and no SQLite file appears. The same run with the store as the
Airflow connection ``watchkeeper_store`` (an ``AIRFLOW_CONN_`` variable, as every pod of a Helm deployment
gets it): the run records its window in PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from celery_fleet import Fleet, generate, mirror_dag_files

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.airflow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Fleet, dict[str, str]]]:
    root = tmp_path_factory.mktemp("celery_store")
    fleet = generate(root, 1, prefix="lonely")
    mirror_dag_files(ROOT / "dags", fleet.dags_folder)
    home = root / "airflow"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WATCHKEEPER_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(fleet.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "WATCHKEEPER_HOME": str(root / "wk"),
            "WATCHKEEPER_ALERT_SINK": "log",
            "GX_ANALYTICS_ENABLED": "false",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    done = _airflow(env, "db", "migrate")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    yield fleet, env


def _airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "airflow")
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=600, check=False)


def _run(fleet: Fleet, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _airflow(env, "dags", "test", "monitor__lonely_000", fleet.end.isoformat())


def test_no_store_on_a_distributed_executor_fails_with_the_fix(setup: tuple[Fleet, dict[str, str]]) -> None:
    fleet, env = setup
    done = _run(fleet, env)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "no metric store configured: Airflow's executor CeleryExecutor runs tasks on other machines" in output
    assert "create the Airflow connection 'watchkeeper_store' (e.g. AIRFLOW_CONN_WATCHKEEPER_STORE=" in output
    assert "or set WATCHKEEPER_DATABASE_URL" in output
    assert not list(Path(env["WATCHKEEPER_HOME"]).rglob("*.db")), "no silent local SQLite store"


def test_the_store_connection_serves_the_run(setup: tuple[Fleet, dict[str, str]], pg_url: str) -> None:
    fleet, env = setup
    server_url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    done = _run(fleet, {**env, "AIRFLOW_CONN_WATCHKEEPER_STORE": server_url})
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    with psycopg.connect(server_url, autocommit=True) as conn:
        runs = conn.execute("SELECT model, window_start FROM runs WHERE model = 'lonely_000'").fetchall()
    assert runs == [("lonely_000", fleet.start)]
    assert not list(Path(env["WATCHKEEPER_HOME"]).rglob("*.db"))
