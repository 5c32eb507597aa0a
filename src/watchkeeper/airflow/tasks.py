"""Task bodies of the monitor DAG. Each imports what it needs inside, calls the core, returns a small dict.

Nothing here is imported with heavy libraries at module level: the DAG file imports this module.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from watchkeeper.config import load_config
from watchkeeper.results import CheckResult, Status, Window

log = logging.getLogger(__name__)


def window_from_context(context: Any) -> Window:
    """The DAG run's data interval as a window."""
    start, end = context["data_interval_start"], context["data_interval_end"]
    if start is None or end is None or end <= start:
        raise ValueError(
            f"the run has no usable data interval ({start}..{end}) -- monitor DAGs need an interval schedule"
        )
    return Window(start, end)


def _store() -> Any:
    from watchkeeper.store import MetricStore

    store = MetricStore()
    store.migrate()
    return store


def prepare_baseline(config_path: str) -> dict[str, Any]:
    """Make sure the model's baseline exists and matches the reference data; return its hash."""
    from watchkeeper.baseline import ensure_baseline

    config = load_config(Path(config_path))
    content_hash, payload = ensure_baseline(config, _store())
    return {"hash": content_hash, "reference_rows": payload.get("n_rows")}


def run_check_family(config_path: str, family: str, context: Any) -> dict[str, Any]:
    """Run one check family on the run's window; results travel as small dicts."""
    from watchkeeper.checks import load_context, run_family

    config = load_config(Path(config_path))
    window = window_from_context(context)
    ctx = load_context(config, window, _store())
    results = run_family(family, ctx)
    for r in results:
        if r.status.is_finding:
            log.warning(
                "model=%s %s %s.%s[%s]: %s",
                config.model.name,
                r.status.upper(),
                r.check,
                r.metric,
                r.subject,
                r.message,
            )
    return {"family": family, "n_rows": len(ctx.df), "results": [r.as_dict() for r in results]}


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
    report findings to the task log and the JSONL alert file. The alert is written even when the store is
    down (nothing is lost); the task then fails so the outage is visible. A failed check fails the run too.
    """
    from watchkeeper.checks import WindowReport
    from watchkeeper.reporting import alert_record, log_findings, render_text, write_alert

    config = load_config(Path(config_path))
    window = window_from_context(context)
    results = [_from_dict(r) for out in family_outputs for r in out["results"]]
    n_rows = max((out["n_rows"] for out in family_outputs), default=0)
    report = WindowReport(config.model.name, window, n_rows, results)
    summary = report.summary()
    store_error: Exception | None = None
    try:
        _store().record_window(
            config.model.name,
            window,
            results,
            run_id=str(context["run_id"]),
            source="airflow",
            n_rows=n_rows,
            summary=summary,
        )
    except Exception as exc:  # report first, then fail: findings must not wait for the database
        store_error = exc
    log_findings(config.model.name, window, results)
    record_ = alert_record(
        config.model.name,
        window,
        results,
        run_id=str(context["run_id"]),
        owner=config.model.owner,
        mentions=config.model.alerts.mentions,
    )
    write_alert(record_)
    log.info("\n%s", render_text(config.model.name, window, results, n_rows=n_rows))
    if store_error is not None:
        raise store_error
    errors = [r for r in results if r.status is Status.ERROR]
    if errors:
        raise RuntimeError("monitoring failed: " + "; ".join(r.message for r in errors))
    return summary


def on_task_failure(context: Any) -> None:
    """Task-level failure callback: a broken monitor is reported, never mistaken for a healthy model."""
    from datetime import UTC, datetime

    from watchkeeper.reporting import alert_file

    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    error = context.get("exception")
    model = dag_id.split("__", 1)[-1]
    line = (
        f'{{"model": "{model}", "kind": "monitoring_failed", "dag_id": "{dag_id}", "task_id": "{task_id}", '
        f'"at": "{datetime.now(UTC).isoformat()}", "error": {_json_str(str(error))}}}'
    )
    log.error("monitoring failed: model=%s task=%s error=%s", model, task_id, error)
    try:
        with open(alert_file(), "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError:
        log.exception("cannot write the alert file")


def _json_str(text: str) -> str:
    import json

    return json.dumps(text)
