"""A broken monitor alerts through real Airflow: ``airflow dags test`` of a model whose prediction log is
missing, with the Slack connection pointed at the local Slack server by ``AIRFLOW_CONN_SLACK_API_DEFAULT``.

The ``profile`` task (the one pass over the window) raises; the task-level failure callback posts
"monitoring failed" through the outbox, routed as critical, and the token appears nowhere on disk. (Later
failures of the same run reply in its thread: tests/unit/alerting/test_lifecycle.py.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from slack_sdk.models.blocks import Block
from slack_server import TOKEN, SlackServer

from support import make_rows

RUN_AFTER = "2026-10-02T00:00:00+00:00"
# The project's DAG file, with retries off: `dags test` would otherwise wait out the 1-minute retry delay.
DAG_FILE = """
from pathlib import Path

from watchkeeper.airflow.dag_builder import register

for _dag in register(globals(), Path(__file__).parent / "models").values():
    for _task in _dag.tasks:
        _task.retries = 0
"""


@dataclass
class Outcome:
    home: Path
    code: int
    log: str
    slack: SlackServer


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    from watchkeeper.demo import run as demo_run

    root = tmp_path_factory.mktemp("broken-monitor")
    home = root / "home"
    (root / "dags" / "models").mkdir(parents=True)
    (root / "dags" / "watchkeeper_dags.py").write_text(DAG_FILE)
    make_rows(400, "2026-09-01", seed=3).to_parquet(root / "reference.parquet")
    config = {
        "name": "broken_source",
        "owner": "risk-team",
        "task": "binary_classification",
        "predictions": {
            "source": {"kind": "parquet", "path": str(root / "missing" / "*.parquet")},
            "timestamp": "ts",
            "id": "pid",
            "features": {"amount": "numerical", "country": "categorical"},
            "prediction": "pred",
            "score": "score",
        },
        "reference": {"source": {"kind": "parquet", "path": str(root / "reference.parquet")}},
        "alerts": {"channel": "#ml-alerts", "severity_channels": {"critical": "#ml-oncall"}, "mentions": ["@here"]},
    }
    (root / "dags" / "models" / "broken_source.yaml").write_text(yaml.safe_dump(config))
    slack = SlackServer().start()
    old = os.environ.get("WATCHKEEPER_HOME")
    os.environ["WATCHKEEPER_HOME"] = str(home)
    try:
        env = demo_run.airflow_env(root / "dags")
        for name in ("WATCHKEEPER_SLACK_TOKEN", "WATCHKEEPER_SLACK_WEBHOOK_URL", "WATCHKEEPER_ALERT_SINK"):
            env.pop(name, None)
        connection = {"conn_type": "slack", "password": TOKEN, "extra": {"base_url": slack.url, "timeout": 5}}
        env["AIRFLOW_CONN_SLACK_API_DEFAULT"] = json.dumps(connection)
        env["AIRFLOW__API__BASE_URL"] = "http://airflow.example"
        logs = home / "logs"
        logs.mkdir(parents=True)
        assert demo_run.airflow(["db", "migrate"], env, logs / "migrate.log") == 0, (logs / "migrate.log").read_text()
        log_file = logs / "dags_test.log"
        code = demo_run.airflow(["dags", "test", "monitor__broken_source", RUN_AFTER], env, log_file)
        yield Outcome(home, code, log_file.read_text(), slack)
    finally:
        slack.stop()
        if old is None:
            os.environ.pop("WATCHKEEPER_HOME", None)
        else:
            os.environ["WATCHKEEPER_HOME"] = old


def test_the_failure_callback_posts_monitoring_failed_to_slack(broken_run: Outcome) -> None:
    assert broken_run.code != 0, "the DAG run must fail visibly"
    assert "SourceError: no parquet file matches" in broken_run.log
    slack = broken_run.slack
    assert {r.path for r in slack.requests} == {"/api/chat.postMessage"}
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in slack.requests)
    (first,) = slack.top_level()  # one message per DAG run; other failures of the run would reply in its thread
    assert slack.thread(first.ts) == []
    assert first.channel == "C0ONCALL"  # routed as critical
    assert first.text.startswith("Monitoring of broken_source FAILED in monitor__broken_source.profile")
    assert "SourceError: no parquet file matches" in first.text and first.text.endswith("cc <!here>")
    assert first.blocks is not None
    for block in first.blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()
    context = " ".join(e["text"] for e in first.blocks[-1]["elements"])
    assert "<http://airflow.example/dags/monitor__broken_source/runs/manual__" in context
    assert "/tasks/profile" in context and "|Task log>" in context


def test_failures_go_through_the_outbox_and_the_token_stays_secret(broken_run: Outcome) -> None:
    from watchkeeper.store import MetricStore

    store = MetricStore(f"sqlite:///{broken_run.home / 'watchkeeper.db'}")
    rows = store.notifications("broken_source")
    assert [(n.kind, n.status, n.sink, n.sinks) for n in rows] == [("monitor_failed", "sent", "slack", ["default"])]
    assert rows[0].payload["failure"]["task"] == "profile" and rows[0].payload["version"] == 2
    assert TOKEN not in broken_run.log
    for path in broken_run.home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
