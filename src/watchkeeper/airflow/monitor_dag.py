"""The monitor DAG of one model, in the task layout its config names (``layout``):

- ``families`` (default): baseline, profile (the one read of the window), one mapped check task per family
  (from the stored profile), report (which publishes the window's health), health (fails the run when the
  window is critical);
- ``compact``: one ``monitor`` task does the same calls in order -- baseline, profile, every family, report
  -- then ``health``. Two task instances per run instead of eight, the same results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow.sdk import DAG, task

from watchkeeper.airflow import health, publishing, tasks
from watchkeeper.airflow.dag_common import FAMILIES, _doc_md, _timetable, dag_kwargs, monitor_dag_id
from watchkeeper.config import LoadedConfig, TaskLayout


def _publish(path: str, name: str, outputs: list[dict[str, Any]], context: Any) -> dict[str, Any]:
    """Record all results in the metric store (idempotently) and report findings; publish the window's health
    (the DAG-run note and the ``watchkeeper_health__<model>`` Asset event)."""
    summary = publishing.record_and_report(path, outputs, context)
    results = [r for out in outputs for r in out["results"]]
    window = tasks.window_from_context(context)
    summary["health"] = health.emit_health(context, name, "monitor", [window], results)
    return summary


def _families_layout(path: str, name: str) -> Any:
    """baseline >> profile >> check[family] x 4 >> report; returns the report's output."""

    @task(task_id="baseline", multiple_outputs=False)
    def baseline() -> dict[str, Any]:
        """Build or reuse the reference baseline."""
        return tasks.prepare_baseline(path)

    @task(task_id="profile", multiple_outputs=False)
    def profile(baseline_info: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Read the window once: build and store its profile, run the GX suite on the same batches."""
        return tasks.build_window_profile(path, baseline_info, context)

    # One mapped task, one instance per check family: cheap to parse, one visible instance per family.
    # Each loads the stored profile; none reads the window again.
    @task(task_id="check", multiple_outputs=False, map_index_template="{{ family }}")
    def check(family: str, **context: Any) -> dict[str, Any]:
        """Run one check family on the run's stored window profile."""
        return tasks.run_check_family(path, family, context)

    @task(task_id="report", multiple_outputs=False, outlets=[health.health_asset(name)])
    def report(outputs: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
        """Record the families' results and publish the window's health."""
        return _publish(path, name, list(outputs), context)

    checks = check.expand(family=list(FAMILIES))
    profile(baseline()) >> checks  # type: ignore[arg-type]  # an XComArg resolves to the dict at run time
    return report(checks)  # type: ignore[arg-type]  # XComArgs resolve at run time


def _compact_layout(path: str, name: str) -> Any:
    """One ``monitor`` task; returns its output."""

    @task(task_id="monitor", multiple_outputs=False, outlets=[health.health_asset(name)])
    def monitor(**context: Any) -> dict[str, Any]:
        """Baseline, the window's profile (read once), every check family, then record and publish."""
        return _publish(path, name, tasks.run_all_families(path, FAMILIES, context), context)

    return monitor()


#: Task layouts of the monitor DAG: each adds its tasks inside the DAG and returns the publishing task's output.
LAYOUTS: dict[TaskLayout, Callable[[str, str], Any]] = {
    TaskLayout.FAMILIES: _families_layout,
    TaskLayout.COMPACT: _compact_layout,
}


def build_monitor_dag(loaded: LoadedConfig) -> DAG:
    """The monitor DAG of one model."""
    model = loaded.model
    with DAG(
        dag_id=monitor_dag_id(model.name),
        schedule=_timetable(model.schedule),
        max_active_runs=4,
        **dag_kwargs(loaded),
        doc_md=_doc_md(loaded),
        description=(model.description or f"Monitor of {model.name}")[:200],
    ) as dag:
        summary = LAYOUTS[model.layout](str(loaded.path.resolve()), model.name)
        health.add_health_task(health.attach_model_link(summary))
    return dag
