"""monitor__health_probe: a monitor-shaped DAG that publishes a chosen health exactly as the DAG builders do.

Its ``report`` task (outlets: the model's health Asset) calls ``health.emit_health`` with results of the
status given in the run's conf (``{"status": "warning"}``; default critical), and the final ``health`` task
(``HEALTH_TASK_ARGS``, the "Model health" link) calls ``health.check_health``. Copied into a DAG folder by
the tests; not a DAG of the project.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, task

from watchkeeper.airflow import health

MODEL = "health_probe"

with DAG(
    dag_id=f"monitor__{MODEL}",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["watchkeeper", f"model:{MODEL}"],
):

    @task(task_id="report", outlets=[health.health_asset(MODEL)])
    def report(**context: Any) -> dict[str, Any]:
        from watchkeeper.results import CheckResult, Status, Window

        status = Status((context["dag_run"].conf or {}).get("status", "critical"))
        window = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
        results = [
            CheckResult("quality", "row_count", "", 2000.0, 1000.0, Status.OK, "2000 rows"),
            CheckResult("drift", "psi", "amount", 0.31, 0.25, status, f"amount drifted: psi 0.31 ({status})"),
            CheckResult("service", "latency_p95_ms", "", 250.0, 200.0, Status.WARNING, "p95 latency 250 ms"),
        ]
        return {"health": health.emit_health(context, MODEL, "monitor", [window], results)}

    @task(**health.HEALTH_TASK_ARGS)
    def check(summary: dict[str, Any]) -> dict[str, Any]:
        return health.check_health(summary)

    health.attach_model_link(check(report()))  # type: ignore[arg-type]
