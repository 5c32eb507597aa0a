"""health_gate__demo_fraud: an example deployment gate scheduled on a model's health.

Every monitor and performance run of ``demo_fraud`` updates the Airflow Asset
``watchkeeper_health__demo_fraud`` (uri ``watchkeeper://health/demo_fraud``); the event's extra carries
the window's ``status`` (``ok``, ``warning``, ``critical``, ``error``), the keys of its ``findings``
(``check.metric[subject]``), the ``window``, the run and links to the model page and the run report.
This DAG runs on every such event and decides: a healthy or merely warning window lets the
(here: pretend) promotion of the model's next version go ahead; a critical one stops it, naming the
findings. Point ``MODEL`` at your model, and replace ``promote`` with your own deployment step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

from watchkeeper.airflow.health import health_asset

MODEL = "demo_fraud"
HEALTH = health_asset(MODEL)
BLOCKING = ("critical", "error")

with DAG(
    dag_id=f"health_gate__{MODEL}",
    schedule=[HEALTH],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["watchkeeper", f"model:{MODEL}", "health-gate"],
    doc_md=__doc__,
):

    @task(task_id="gate")
    def gate(**context: Any) -> dict[str, Any]:
        """Read the newest health event; stop on a critical (or failed) window."""
        from airflow.sdk.exceptions import AirflowFailException

        events = list(context["triggering_asset_events"][HEALTH])
        if not events:
            raise AirflowFailException(f"no {HEALTH.name} event triggered this run -- nothing to decide on")
        extra = dict(events[-1].extra or {})
        status = str(extra.get("status", "unknown"))
        if status in BLOCKING:
            findings = ", ".join(extra.get("findings") or [])
            raise AirflowFailException(
                f"{MODEL} is {status.upper()} for window {extra.get('window')}: {findings}"
                f" -- not promoting; see {extra.get('model_url') or 'the model page'}"
            )
        return {
            "model": MODEL,
            "status": status,
            "findings": extra.get("findings") or [],
            "window": extra.get("window"),
        }

    @task(task_id="promote")
    def promote(decision: dict[str, Any]) -> str:
        """Your deployment step goes here; this example only says what it would do."""
        return f"promoting the next version of {decision['model']} (last window {decision['status']})"

    promote(gate())
