"""Task bodies of the performance DAG: score windows whose labels arrived, report, decide on retraining.

Imported while Airflow parses DAG files: heavy libraries are imported inside the functions.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from watchkeeper.config import LoadedConfig, load_config
from watchkeeper.results import Window

log = logging.getLogger(__name__)


#: A run never scores more windows than this (a guard against a data interval of years on an hourly schedule).
MAX_WINDOWS_PER_RUN = 1000


def _core_timetable(schedule: str) -> Any:
    """The scheduler-side timetable of the monitor DAG's schedule (the same one, converted from the SDK's)."""
    from airflow.serialization.encoders import coerce_to_core_timetable

    from watchkeeper.airflow.dag_common import _timetable

    definition = _timetable(schedule)
    if isinstance(definition, str):
        raise ValueError(
            f"schedule {schedule!r} has no data intervals, so no monitor windows to score -- name the window in "
            'the labels asset event (extra {"start": ISO, "end": ISO}) or use a preset or cron schedule'
        )
    return coerce_to_core_timetable(definition)


def _window_ending_by(timetable: Any, moment: datetime) -> Window:
    """The latest monitor window whose end is at or before ``moment``."""
    import pendulum

    interval = timetable.infer_manual_data_interval(run_after=pendulum.instance(moment.astimezone(UTC)))
    return Window(*(datetime.fromtimestamp(t.timestamp(), UTC) for t in (interval.start, interval.end)))


def due_windows(schedule: str, delay: timedelta, start: datetime, end: datetime) -> list[Window]:
    """The monitor windows whose labels fell due in ``(start, end]`` (window end + ``delay``), oldest first.

    Windows come from the monitor DAG's own timetable, so a performance run scores exactly the spans the
    monitor checked: the delay decides *when* a window is scored, never *which* span. For a regular
    schedule each run interval holds exactly one due window (the latest whose end + delay <= ``end``);
    an irregular cron (``0 9 * * 1-5``) may have none or several, and every window is still scored once.
    """
    timetable = _core_timetable(schedule)
    out: list[Window] = []
    window = _window_ending_by(timetable, end - delay)
    while window.end + delay > start:
        out.append(window)
        if len(out) >= MAX_WINDOWS_PER_RUN:
            log.warning("more than %d windows fell due in %s..%s; scoring the latest ones", len(out), start, end)
            break
        window = _window_ending_by(timetable, window.start)
    return out[::-1]


def latest_due_window(schedule: str, delay: timedelta, moment: datetime) -> Window:
    """The latest monitor window whose labels were due at ``moment`` (end + ``delay`` <= ``moment``)."""
    return _window_ending_by(_core_timetable(schedule), moment - delay)


def windows_for_run(config: LoadedConfig, context: Any) -> list[Window]:
    """Prediction windows to score in this run, always monitor windows.

    An asset event from the label pipeline may name windows in its ``extra`` (``{"start": ISO, "end": ISO}``);
    they are scored as named. An asset event that names none scores the latest window due when the labels
    arrived. A scheduled (or manual) run with data interval ``[s, e)`` scores the monitor windows whose
    end + label delay falls in ``(s, e]`` (:func:`due_windows`).
    """
    windows: list[Window] = []
    stamps: list[datetime] = []
    events = context.get("triggering_asset_events") or {}
    for asset_events in events.values():
        for event in asset_events:
            extra = getattr(event, "extra", None) or {}
            if "start" in extra and "end" in extra:
                windows.append(Window.parse(str(extra["start"]), str(extra["end"])))
            stamp = getattr(event, "timestamp", None)
            if isinstance(stamp, datetime):
                stamps.append(stamp)
    if windows:
        return sorted(set(windows), key=lambda w: w.start)
    perf = config.model.performance
    assert perf is not None
    delay = perf.labels.delay
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if stamps:  # labels arrived without naming a window: the latest one due by then
        return [latest_due_window(config.model.schedule, delay, max(stamps))]
    if start is None or end is None or end <= start:
        raise ValueError(f"the run has no usable data interval ({start}..{end}) and no asset event names a window")
    return due_windows(config.model.schedule, delay, start, end)


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
    windows = windows_for_run(config, context)
    if not windows:
        raise AirflowSkipException(
            f"no monitor window's labels fell due in this run's interval ({context.get('data_interval_start')}.."
            f"{context.get('data_interval_end')}, label delay {config.model.performance.labels.delay})"  # type: ignore[union-attr]
        )
    for window in windows:
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
    """Score the run's windows, report their findings, then publish the run's health (the DAG-run note and
    the ``watchkeeper_health__<model>`` Asset event, whose extra the task's outlet carries)."""
    summary = score(config_path, context)
    summary["report"] = report(config_path, summary, context)
    summary["health"] = publish_health(config_path, summary, context)
    return summary


def publish_health(config_path: str, summary: dict[str, Any], context: Any) -> dict[str, Any]:
    """The health of the run's scored windows (the worst of their results), published by :func:`emit_health`."""
    from watchkeeper.airflow.health import emit_health

    scored = sorted(summary["scored"], key=lambda e: e["window"]["start"])
    windows = [Window.parse(e["window"]["start"], e["window"]["end"]) for e in scored]
    results = [r for e in scored for r in e["results"]]
    model = load_config(Path(config_path)).model.name
    return emit_health(context, model, "performance", windows, results)


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
    from watchkeeper.airflow.health import context_dag_id, run_url
    from watchkeeper.airflow.publishing import _from_dict
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
        run_url=run_url(context_dag_id(context), str(context["run_id"])),
    )
    log.info("model=%s retraining: %s", config.model.name, decision.reason)
    return decision.conf if decision.trigger else False
