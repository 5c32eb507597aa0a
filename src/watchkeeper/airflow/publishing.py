"""Task bodies that publish a window: record results, write the HTML report, send alerts, and the failure callback.

Nothing here is imported with heavy libraries at module level: the DAG file imports this module.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

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


def record_and_report(config_path: str, family_outputs: list[dict[str, Any]], context: Any) -> dict[str, Any]:
    """Record every result of the window in the metric store (replacing an earlier run of the window), then
    report findings: the task log, the JSONL alert file and the alerting layer (Slack, or the log sink).

    The JSONL alert is written even when the store is down (nothing is lost); the task then fails so the
    outage is visible. A failed check, or alerts that could not be delivered, fail the task too (after
    everything is recorded; the outbox retries delivery on the task retry and later runs).
    """
    from watchkeeper.checks import WindowReport
    from watchkeeper.exceptions import AlertDeliveryError
    from watchkeeper.reporting import alert_record, log_findings, render_text, write_alert

    config = load_config(Path(config_path))
    window = window_from_context(context)
    run_id = str(context["run_id"])
    results = [_from_dict(r) for out in family_outputs for r in out["results"]]
    n_rows = max((out["n_rows"] for out in family_outputs), default=0)
    report = WindowReport(config.model.name, window, n_rows, results)
    summary = report.summary()
    store_error: Exception | None = None
    store: Any = None
    try:
        store = _store()
        store.record_window(
            config.model.name, window, results, run_id=run_id, source="airflow", n_rows=n_rows, summary=summary
        )
    except Exception as exc:  # report first, then fail: findings must not wait for the database
        store_error = exc
    log_findings(config.model.name, window, results)
    record_ = alert_record(
        config.model.name,
        window,
        results,
        run_id=run_id,
        owner=config.model.owner,
        mentions=config.model.alerts.mentions,
    )
    write_alert(record_)
    log.info("\n%s", render_text(config.model.name, window, results, n_rows=n_rows))
    if store_error is not None:
        raise store_error
    summary["report"], alerts = publish_window(config, window, results, store, context)
    summary["alerts"] = alerts
    failures = [r.message for r in results if r.status is Status.ERROR]
    if failures:
        delivery = f" (and {alerts['pending']} alert(s) not delivered yet)" if alerts["errors"] else ""
        raise RuntimeError("monitoring failed: " + "; ".join(failures) + delivery)
    if alerts["errors"]:
        raise AlertDeliveryError(
            f"model {config.model.name}: {alerts['pending']} alert notification(s) not delivered yet: "
            + "; ".join(alerts["errors"]),
            alerts,
        )
    return summary


def _dag_id(context: Any) -> str:
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    return str(getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None) or "?")


def publish_window(
    config: Any, window: Window, results: list[CheckResult], store: Any, context: Any
) -> tuple[str | None, dict[str, Any]]:
    """Write the window's HTML report, then send its alerts (linking the run and the report).

    Returns the report path and the dispatch summary; delivery errors are in the summary, not raised.
    """
    from watchkeeper.alerting import dispatch

    run_id = str(context["run_id"])
    dag_id = _dag_id(context)
    path = write_run_report(config, window, store)
    alerts = dispatch(
        config,
        window,
        results,
        run_id=run_id,
        dag_id=dag_id,
        store=store,
        run_url=airflow_run_url(dag_id, run_id),
        report_url=report_url(config.model.name, window),
        raise_on_failure=False,
    )
    return path, alerts


def report_url(model: str, window: Window) -> str | None:
    """Link to the window's HTML report on the model-health pages (the UI plugin, under ``/watchkeeper``)."""
    from urllib.parse import urlencode

    base = _airflow_base_url()
    if base is None:
        return None
    query = urlencode({"start": window.start.isoformat(), "end": window.end.isoformat()})
    return f"{base}/watchkeeper/models/{model}/report?{query}"


def write_run_report(config: Any, window: Window, store: Any) -> str | None:
    """Write the window's self-contained HTML report as a run artifact in the state folder.

    Returns its path; a report that cannot be rendered is logged, never fails the run.
    """
    from watchkeeper.report import write_report
    from watchkeeper.settings import state_dir

    name = f"{window.start:%Y%m%dT%H%M%S}--{window.end:%Y%m%dT%H%M%S}.html"
    try:
        path = write_report(
            config, config.model.name, window, store, state_dir() / "reports" / config.model.name / name
        )
    except Exception:  # the report is a convenience: the results are already recorded
        log.exception("model=%s: could not write the HTML report", config.model.name)
        return None
    log.info("model=%s: HTML report %s", config.model.name, path)
    return str(path)


def _airflow_base_url() -> str | None:
    try:
        from airflow.configuration import conf

        base = str(conf.get("api", "base_url", fallback="http://localhost:8080") or "http://localhost:8080")
    except Exception:  # a missing link must never fail the task
        return None
    return base.rstrip("/")


def airflow_run_url(dag_id: str, run_id: str) -> str | None:
    """Link to a DAG run in the Airflow UI, from ``[api] base_url`` (read at task run time)."""
    from urllib.parse import quote

    base = _airflow_base_url()
    return None if base is None else f"{base}/dags/{dag_id}/runs/{quote(run_id)}"


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
        dag_id = _dag_id(context)
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
        notify_monitor_failure(
            model=model,
            dag_id=dag_id,
            task_id=task_id,
            run_id=run_id,
            error=text,
            config=_config_for(model, context),
            log_url=log_url,
            run_url=airflow_run_url(dag_id, run_id),
            try_number=getattr(ti, "try_number", None),
        )
    except Exception:  # a failure callback must never raise
        log.exception("could not report the task failure")
