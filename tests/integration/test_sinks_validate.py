"""At validate time, a sink's Airflow connection that does not exist is named with the field and the fix --
when Airflow's connections can be looked up (a real, migrated metadata database); when they cannot, nothing is
claimed (the first send will say)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import minimal_config

CODE = """
import json, sys
from pathlib import Path
from watchkeeper.alerting.checks import sink_problems
from watchkeeper.config import load_config
print(json.dumps(sink_problems(load_config(Path(sys.argv[1])))))
"""


def config_file(folder: Path) -> Path:
    data = minimal_config(
        alerts={
            "sinks": [
                {"kind": "pagerduty", "conn_id": "pd_fraud", "min_severity": "critical"},
                {"kind": "email", "to": ["ml@example.com"], "conn_id": "smtp_fraud"},
                {"kind": "teams", "conn_id": "teams_in_db"},
                {"kind": "webhook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"},
            ]
        },
    )
    path = folder / "fraud.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def problems(path: Path, env: dict[str, str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(path)], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated Airflow metadata database with the connection ``teams_in_db`` stored in it."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    for args in (["db", "migrate"], ["connections", "add", "teams_in_db", "--conn-uri", "https://teams.example/hook"]):
        done = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
    return env


def test_missing_connections_are_named_at_validate_time(airflow_env: dict[str, str], tmp_path: Path) -> None:
    env = dict(airflow_env)
    env["AIRFLOW_CONN_PD_FRAUD"] = json.dumps({"conn_type": "pagerduty_events", "password": "key"})
    path = config_file(tmp_path)
    found = problems(path, env)
    assert found == [
        f"{path}: alerts.sinks[1].conn_id: Airflow connection 'smtp_fraud' of the email sink is not defined -- "
        "create it (airflow connections add smtp_fraud ..., or the environment variable AIRFLOW_CONN_SMTP_FRAUD) "
        "or fix the id"
    ]  # pd_fraud is in the environment, teams_in_db in Airflow's database


def test_nothing_is_claimed_when_connections_cannot_be_looked_up(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(tmp_path / "no-airflow"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'never-migrated.db'}",
        }
    )
    assert problems(config_file(tmp_path), env) == []
