"""labels__demo_fraud: an example label pipeline that tells Watchkeeper when ground truth arrived.

Its task loads (here: checks) one day of labels and updates the Asset
``watchkeeper_labels__demo_fraud`` (uri ``watchkeeper://labels/demo_fraud``) with the window in the
event's extra. That event starts ``performance__demo_fraud`` for exactly that window. The same signal
can come from outside Airflow through the REST API (see README, "Labels and performance").
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, task

LABELS = Asset(name="watchkeeper_labels__demo_fraud", uri="watchkeeper://labels/demo_fraud")

with DAG(
    dag_id="labels__demo_fraud",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"day": "2026-10-27"},
    tags=["watchkeeper", "model:demo_fraud", "labels"],
    doc_md=__doc__,
):

    @task(task_id="load_labels", outlets=[LABELS])
    def load_labels(**context: Any) -> dict[str, Any]:
        """Check that the day's label file exists, then emit the asset event naming its window."""
        import os
        from pathlib import Path

        day = datetime.fromisoformat(str(context["params"]["day"]))
        home = Path(os.environ.get("WATCHKEEPER_HOME", ".watchkeeper"))
        path = home / "demo_data" / "demo_fraud" / "labels" / f"date={day:%Y-%m-%d}.parquet"
        if not path.exists():
            raise FileNotFoundError(f"no labels for {day:%Y-%m-%d} at {path} -- run `make demo` first")
        window = {
            "start": f"{day:%Y-%m-%d}T00:00:00+00:00",
            "end": f"{day + timedelta(days=1):%Y-%m-%d}T00:00:00+00:00",
        }
        context["outlet_events"][LABELS].extra = window
        return window

    load_labels()
