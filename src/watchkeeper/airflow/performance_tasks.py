"""Task bodies of the performance DAG: score windows whose labels arrived, report, decide on retraining.

Imported while Airflow parses DAG files: heavy libraries are imported inside the functions.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchkeeper.config import LoadedConfig, load_config
from watchkeeper.results import Window

log = logging.getLogger(__name__)


def windows_for_run(config: LoadedConfig, context: Any) -> list[Window]:
    """Prediction windows to score in this run.

    An asset event from the label pipeline may name windows in its ``extra`` (``{"start": ISO, "end": ISO}``);
    otherwise the run's data interval shifted back by the expected label delay is scored.
    """
    windows: list[Window] = []
    events = context.get("triggering_asset_events") or {}
    for asset_events in events.values():
        for event in asset_events:
            extra = getattr(event, "extra", None) or {}
            if "start" in extra and "end" in extra:
                windows.append(Window.parse(str(extra["start"]), str(extra["end"])))
    if windows:
        return sorted(set(windows), key=lambda w: w.start)
    perf = config.model.performance
    assert perf is not None
    start, end = context["data_interval_start"], context["data_interval_end"]
    if start is None or end is None or end <= start:
        raise ValueError(f"the run has no usable data interval ({start}..{end}) and no asset event names a window")
    delay = perf.labels.delay
    return [Window(start - delay, end - delay)]


def _store() -> Any:
    from watchkeeper.store import MetricStore

    store = MetricStore()
    store.migrate()
    return store


def score(config_path: str, context: Any) -> dict[str, Any]:
    """Score every window of the run; skip (with the reason) when none has enough labels."""
    from airflow.sdk.exceptions import AirflowSkipException

    from watchkeeper.scoring import score_window

    config = load_config(Path(config_path))
    store = _store()
    scored: list[dict[str, Any]] = []
    waiting: list[dict[str, Any]] = []
    for window in windows_for_run(config, context):
        report = score_window(config, window, store)
        entry = {
            "window": window.as_dict(),
            "scored": report.scored,
            "reason": report.reason,
            "coverage": report.coverage,
            "results": [r.as_dict() for r in report.results],
        }
        (scored if report.scored else waiting).append(entry)
        log.info("model=%s window=%s: %s", config.model.name, window.as_dict(), report.reason)
    if not scored:
        reasons = "; ".join(f"{w['window']['start']}: {w['reason']}" for w in waiting)
        raise AirflowSkipException(f"no window could be scored yet -- {reasons}")
    return {"scored": scored, "waiting": [{k: v for k, v in w.items() if k != "results"} for w in waiting]}


def score_and_report(config_path: str, context: Any) -> dict[str, Any]:
    """Score the run's windows, then report their findings."""
    summary = score(config_path, context)
    summary["report"] = report(config_path, summary, context)
    return summary


def report(config_path: str, summary: dict[str, Any], context: Any) -> dict[str, Any]:
    """Report the performance findings of each scored window: the task log and the alerting layer
    (Slack, or the task log + JSONL sink). Undelivered alerts fail the task after everything is
    recorded; the outbox retries them on the task retry and later runs."""
    from watchkeeper.airflow.publishing import _from_dict, publish_window
    from watchkeeper.exceptions import AlertDeliveryError
    from watchkeeper.reporting import log_findings, render_text

    config = load_config(Path(config_path))
    store = _store()
    out, errors = [], []
    for entry in sorted(summary["scored"], key=lambda e: e["window"]["start"]):
        window = Window.parse(entry["window"]["start"], entry["window"]["end"])
        results = [_from_dict(r) for r in entry["results"]]
        log_findings(config.model.name, window, results)
        log.info("\n%s", render_text(config.model.name, window, results))
        _, alerts = publish_window(config, window, results, store, context)
        errors += alerts["errors"]
        findings = sum(1 for r in results if r.status.is_finding)
        out.append({"window": entry["window"], "findings": findings, "alerts": alerts})
    if errors:
        raise AlertDeliveryError(
            f"model {config.model.name}: alert notification(s) not delivered yet: " + "; ".join(errors),
            {"windows": out},
        )
    return {"windows": out}


def decide_retraining(config_path: str, summary: dict[str, Any], context: Any) -> dict[str, Any] | bool:
    """The conf for the retraining DAG when retraining is due; False (short-circuit) otherwise."""
    from watchkeeper.airflow.publishing import _dag_id, _from_dict, airflow_run_url
    from watchkeeper.retraining import decide

    config = load_config(Path(config_path))
    store = _store()
    latest = max(summary["scored"], key=lambda e: e["window"]["start"])
    window = Window.parse(latest["window"]["start"], latest["window"]["end"])
    results = [_from_dict(r) for r in latest["results"]]
    decision = decide(
        config,
        window,
        results,
        store,
        now=datetime.now(UTC),
        run_url=airflow_run_url(_dag_id(context), str(context["run_id"])),
    )
    log.info("model=%s retraining: %s", config.model.name, decision.reason)
    return decision.conf if decision.trigger else False
