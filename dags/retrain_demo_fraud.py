"""retrain__demo_fraud: the demo's stand-in retraining pipeline.

Watchkeeper's performance DAG triggers it (TriggerDagRunOperator) when degradation persists. A real
pipeline would retrain and register a model; this one logs the conf it receives, which carries the
model, the reason, the window, the failing metrics and a link to the triggering run.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, task

log = logging.getLogger(__name__)

with DAG(
    dag_id="retrain__demo_fraud",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["watchkeeper", "model:demo_fraud", "retraining"],
    doc_md=__doc__,
):

    @task(task_id="retrain")
    def retrain(**context: Any) -> dict[str, Any]:
        """Log the trigger's conf (what a real pipeline would retrain on)."""
        conf = dict(context["dag_run"].conf or {})
        log.info("retraining requested for %s: %s", conf.get("model"), conf.get("reason"))
        log.info("conf received: %s", json.dumps(conf, sort_keys=True))
        return conf

    retrain()
