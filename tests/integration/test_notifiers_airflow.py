"""Airflow notifiers, both ways, through real ``airflow dags test`` runs:

* the Slack provider's own ``SlackNotifier``, named in a model's YAML (``alerts.on_failure_notifiers``), is
  called with the failed task's context (templates rendered) and posts to the local Slack server;
* Watchkeeper's sinks as an Airflow notifier in another DAG (``WatchkeeperNotifier``): a failing ETL task
  notifies Slack (escaped) and the signed webhook (verified by the receiver), through the outbox.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sink_servers import WEBHOOK_SECRET, WebhookServer
from slack_server import TOKEN, SlackServer

from support import make_rows

DAG_FILE = """
from pathlib import Path

from airflow.sdk import DAG, task

from watchkeeper.airflow.notifiers import WatchkeeperNotifier, run_failure_notifiers
from watchkeeper.config import load_config

SINKS = [
    {"kind": "slack", "channel": "#ml-alerts"},
    {"kind": "webhook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"},
]


def yaml_notifiers(context):
    run_failure_notifiers(load_config(Path(__file__).parent / "models" / "fraud.yaml"), context)


with DAG("etl_nightly", schedule=None):

    @task(retries=0, on_failure_callback=WatchkeeperNotifier(sinks=SINKS, text="{{ ti.task_id }} of {{ dag.dag_id }}"))
    def load_orders():
        raise RuntimeError("orders table is locked <!channel>")

    load_orders()

with DAG("yaml_notifiers", schedule=None):

    @task(retries=0, on_failure_callback=yaml_notifiers)
    def check():
        raise RuntimeError("boom")

    check()
"""


@dataclass
class Runs:
    slack: SlackServer
    hook: WebhookServer
    codes: dict[str, int]
    logs: dict[str, str]
    home: Path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    from watchkeeper.demo import run as demo_run

    root = tmp_path_factory.mktemp("notifiers")
    home = root / "home"
    (root / "dags" / "models").mkdir(parents=True)
    (root / "dags" / "notifier_dags.py").write_text(DAG_FILE)
    make_rows(50, "2026-09-01", seed=1).to_csv(root / "reference.csv", index=False)
    slack = SlackServer().start()
    hook = WebhookServer().start()
    config = {
        "name": "fraud",
        "owner": "risk",
        "task": "regression",
        "predictions": {
            "source": {"kind": "csv", "path": str(root / "log.csv")},
            "timestamp": "ts",
            "id": "pid",
            "features": {"amount": "numerical"},
            "prediction": "pred",
        },
        "reference": {"source": {"kind": "csv", "path": str(root / "reference.csv")}},
        "alerts": {
            "on_failure_notifiers": [
                {
                    "class": "airflow.providers.slack.notifications.slack.SlackNotifier",
                    "kwargs": {
                        "slack_conn_id": "slack_test",
                        "channel": "#ml-oncall",
                        "text": "Monitoring of {{ dag.dag_id }} failed in {{ ti.task_id }}",
                        "base_url": slack.url,
                    },
                }
            ]
        },
    }
    (root / "dags" / "models" / "fraud.yaml").write_text(yaml.safe_dump(config))
    old = os.environ.get("WATCHKEEPER_HOME")
    os.environ["WATCHKEEPER_HOME"] = str(home)
    try:
        env = demo_run.airflow_env(root / "dags")
        for name in ("WATCHKEEPER_SLACK_WEBHOOK_URL", "WATCHKEEPER_ALERT_SINK", "WATCHKEEPER_SLACK_CHANNEL"):
            env.pop(name, None)
        env.update(
            {
                "AIRFLOW_CONN_SLACK_TEST": json.dumps({"conn_type": "slack", "password": TOKEN}),
                "WATCHKEEPER_SLACK_TOKEN": TOKEN,
                "WATCHKEEPER_SLACK_API_URL": slack.url,
                "HOOK_URL": hook.url,
                "HOOK_SECRET": WEBHOOK_SECRET,
            }
        )
        logs = home / "logs"
        logs.mkdir(parents=True)
        assert demo_run.airflow(["db", "migrate"], env, logs / "migrate.log") == 0, (logs / "migrate.log").read_text()
        codes, texts = {}, {}
        for dag_id in ("etl_nightly", "yaml_notifiers"):
            log_file = logs / f"{dag_id}.log"
            codes[dag_id] = demo_run.airflow(["dags", "test", dag_id], env, log_file)
            texts[dag_id] = log_file.read_text()
        yield Runs(slack, hook, codes, texts, home)
    finally:
        slack.stop()
        hook.stop()
        if old is None:
            os.environ.pop("WATCHKEEPER_HOME", None)
        else:
            os.environ["WATCHKEEPER_HOME"] = old


def test_an_airflow_notifier_named_in_the_yaml_is_called_on_failure(runs: Runs) -> None:
    assert runs.codes["yaml_notifiers"] != 0, "the run must fail"
    posted = [m for m in runs.slack.messages if m.channel == "C0ONCALL"]
    assert [m.text for m in posted] == ["Monitoring of yaml_notifiers failed in check"], runs.logs["yaml_notifiers"][
        -3000:
    ]
    assert "notifier airflow.providers.slack.notifications.slack.SlackNotifier called" in runs.logs["yaml_notifiers"]


def test_watchkeeper_sinks_as_an_airflow_notifier_in_another_dag(runs: Runs) -> None:
    assert runs.codes["etl_nightly"] != 0, "the run must fail"
    (message,) = [m for m in runs.slack.messages if m.channel == "C0ALERTS"]
    assert message.text.startswith("etl_nightly.load_orders failed: load_orders of etl_nightly")
    sent = json.dumps(message.blocks)
    assert "orders table is locked &lt;!channel&gt;" in sent and "<!channel>" not in sent
    (hook,) = runs.hook.accepted()  # the receiver verified the signature
    notice = hook.body["notice"]
    assert (notice["kind"], notice["model"], notice["title"]) == (
        "event",
        "etl_nightly",
        "etl_nightly.load_orders failed",
    )
    assert notice["failure"]["error"] == "RuntimeError: orders table is locked <!channel>"
    assert notice["failure"]["task"] == "load_orders"
    from watchkeeper.store import MetricStore

    rows = MetricStore(f"sqlite:///{runs.home / 'watchkeeper.db'}").notifications("etl_nightly")
    assert [(n.kind, n.status, len(n.sinks)) for n in rows] == [("event", "sent", 2)]  # through the outbox
    assert TOKEN not in runs.logs["etl_nightly"] and WEBHOOK_SECRET not in runs.logs["etl_nightly"]
