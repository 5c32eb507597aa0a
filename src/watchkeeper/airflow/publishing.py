"""Task bodies that publish a window: record results, write the HTML report, send alerts, and the failure callback.

Nothing here is imported with heavy libraries at module level: the DAG file imports this module.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from watchkeeper.airflow.health import context_dag_id, report_url, run_url
from watchkeeper.airflow.tasks import _store, window_from_context
from watchkeeper.config import load_config
from watchkeeper.results import CheckResult, Status, Window

log = logging.getLogger(__name__)


def _from_dict(data: dict[str, Any]) -> CheckResult:
    return CheckResult(
        data["check"],
        data["metric"],
        data["subject"],
        data["value"],
        data["threshold"],
        Status(data["status"]),
        data.get("message", ""),
        data.get("details") or {},
    )


def sender_of(context: Any) -> str | None:
    """The task instance a dispatch comes from, without its try number (``dag/run/task/map_index``): a
    retry of the same task instance may take over the outbox claims its failed try held."""
    ti = context.get("ti") or context.get("task_instance")
    if ti is None:
        return None
    map_index = getattr(ti, "map_index", -1)
    return f"{context_dag_id(context)}/{context['run_id']}/{getattr(ti, 'task_id', '?')}/{map_index}"


def record_and_report(config_path: str, family_outputs: list[dict[str, Any]], context: Any) -> dict[str, Any]:
    """Publish the run's window through the core pipeline (:func:`watchkeeper.publish.publish_window`):
    record every result (replacing an earlier run of the window), log the findings, write the JSONL alert
    and the HTML report, send the alerts (Slack, or the log sink).

    The JSONL alert is written even when the store is down (nothing is lost); the task then fails so the
    outage is visible. A failed check, or alerts that could not be delivered, fail the task too (after
    everything is recorded; the outbox retries delivery on the task retry and later runs).
    """
    from watchkeeper import publish

    config = load_config(Path(config_path))
    window = window_from_context(context)
    run_id = str(context["run_id"])
    dag_id = context_dag_id(context)
    results = [_from_dict(r) for out in family_outputs for r in out["results"]]
    n_rows = max((out["n_rows"] for out in family_outputs), default=0)
    store: Any = None
    store_error: Exception | None = None
    try:
        store = _store()
    except Exception as exc:  # published without the store: the JSONL alert is still written, then the task fails
        store_error = exc
    outcome = publish.publish_window(
        config,
        window,
        results,
        store,
        run_id=run_id,
        dag_id=dag_id,
        source="airflow",
        n_rows=n_rows,
        run_url=run_url(dag_id, run_id),
        report_url=report_url(config.model.name, window),
        sender=sender_of(context),
    )
    if store_error is not None:
        raise store_error
    outcome.raise_for_failure()
    return outcome.summary


def publish_window(
    config: Any, window: Window, results: list[CheckResult], store: Any, context: Any
) -> tuple[str | None, dict[str, Any]]:
    """Write the window's HTML report, then send its alerts (linking the run and the report) -- for results
    already recorded (the performance DAG). Returns the report path and the dispatch summary; delivery
    errors are in the summary, not raised."""
    from watchkeeper import publish

    run_id = str(context["run_id"])
    dag_id = context_dag_id(context)
    path = publish.write_run_report(config, window, store)
    alerts = publish.dispatch_alerts(
        config,
        window,
        results,
        store,
        run_id=run_id,
        dag_id=dag_id,
        run_url=run_url(dag_id, run_id),
        report_url=report_url(config.model.name, window),
        sender=sender_of(context),
    )
    return path, alerts


def _config_for(model: str, context: Any) -> Any:
    """The model's config, found next to the DAG file (``<dags>/models``) or in the config folder; None if broken."""
    from watchkeeper.config import find_config
    from watchkeeper.exceptions import ConfigError
    from watchkeeper.settings import config_dir

    folders = []
    fileloc = getattr(context.get("dag"), "fileloc", None)
    if fileloc:
        folders.append(Path(fileloc).parent / "models")
    folders.append(config_dir())
    for folder in folders:
        try:
            return find_config(model, folder)
        except ConfigError:
            continue
    return None


def on_task_failure(context: Any) -> None:
    """Task-level failure callback: a broken monitor is reported ("monitoring failed", through the alert
    outbox and sinks), never mistaken for a healthy model. Never raises."""
    try:
        from watchkeeper.alerting import notify_monitor_failure

        ti = context.get("ti") or context.get("task_instance")
        dag_id = context_dag_id(context)
        task_id = str(getattr(ti, "task_id", "?"))
        map_index = getattr(ti, "map_index", -1)
        if isinstance(map_index, int) and map_index >= 0:
            task_id += f"[{getattr(ti, 'rendered_map_index', None) or map_index}]"
        run_id = str(context.get("run_id") or getattr(ti, "run_id", "?"))
        error = context.get("exception")
        text = f"{type(error).__name__}: {error}" if error is not None else "the task failed (see its log)"
        model = dag_id.split("__", 1)[-1]
        try:
            log_url = getattr(ti, "log_url", None)
        except Exception:  # the log link is a nicety
            log_url = None
        config = _config_for(model, context)
        try:
            notify_monitor_failure(
                model=model,
                dag_id=dag_id,
                task_id=task_id,
                run_id=run_id,
                error=text,
                config=config,
                log_url=log_url,
                run_url=run_url(dag_id, run_id),
                try_number=getattr(ti, "try_number", None),
            )
        finally:  # the model's own Airflow notifiers run even when Watchkeeper's sinks could not be reached
            from watchkeeper.airflow.notifiers import run_failure_notifiers

            for problem in run_failure_notifiers(config, context):
                log.error("model=%s: failure notifier: %s", model, problem)
    except Exception:  # a failure callback must never raise
        log.exception("could not report the task failure")
