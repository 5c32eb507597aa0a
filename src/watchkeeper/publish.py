"""Publish one window's results: record, report, alert, decide pass or fail. One pipeline for every caller.

The monitor DAG's ``report`` task, the performance DAG and ``watchkeeper check`` all call
:func:`publish_window`, so a window is recorded, written to the JSONL alert file, rendered as HTML and
alerted on the same way whoever ran it. The order is the guarantee:

1. record the results in the metric store (replacing an earlier run of the window);
2. log the findings and write the window's line of the JSONL alert file -- even when the store is
   down, so nothing is lost;
3. write the self-contained HTML report (a report that cannot render is logged, never fatal);
4. dispatch the alerts through the outbox (Slack, webhook or the log sink);
5. decide: the run fails when the store was down, a check family errored, or alerts were not
   delivered (after everything above is done; :meth:`PublishOutcome.raise_for_failure`).

No Airflow here: links to the Airflow run and to the report page are passed in by the caller.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from watchkeeper.exceptions import AlertDeliveryError, WatchkeeperError
from watchkeeper.reporting import alert_record, log_findings, render_text, write_alert
from watchkeeper.results import CheckResult, Status, Window, worst

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig

log = logging.getLogger(__name__)


class MonitoringFailedError(WatchkeeperError, RuntimeError):
    """A check family of the run raised: its results are ``error`` rows, recorded and reported, and the run fails
    so that a broken monitor never looks like a healthy model. Fix the cause named in the message."""


@dataclass
class PublishOutcome:
    """What publishing a window did, and whether the run passes."""

    model: str
    window: Window
    summary: dict[str, Any]
    recorded: bool = False
    report_path: str | None = None
    alerts: dict[str, Any] | None = None
    alert_file: str | None = None
    store_error: BaseException | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def undelivered(self) -> list[str]:
        """Delivery errors of this run's alerts (the outbox retries them later)."""
        return list((self.alerts or {}).get("errors") or [])

    @property
    def ok(self) -> bool:
        """True when the run passes: recorded (or not asked to), no family errored, every alert delivered."""
        return self.store_error is None and not self.failures and not self.undelivered

    @property
    def reason(self) -> str | None:
        """One line saying why the run fails; None when it passes."""
        error = self.error()
        return None if error is None else str(error)

    def error(self) -> BaseException | None:
        """The exception a task raises for this outcome: the store first, then failed checks, then delivery."""
        if self.store_error is not None:
            return self.store_error
        if self.failures:
            pending = (self.alerts or {}).get("pending", 0)
            delivery = f" (and {pending} alert(s) not delivered yet)" if self.undelivered else ""
            return MonitoringFailedError("monitoring failed: " + "; ".join(self.failures) + delivery)
        if self.undelivered:
            pending = (self.alerts or {}).get("pending", 0)
            return AlertDeliveryError(
                f"model {self.model}: {pending} alert notification(s) not delivered yet: "
                + "; ".join(self.undelivered),
                self.alerts,
            )
        return None

    def raise_for_failure(self) -> None:
        """Raise :meth:`error` when the run fails (everything is recorded and written by then)."""
        error = self.error()
        if error is not None:
            raise error


def summarize(model: str, window: Window, n_rows: int, results: list[CheckResult]) -> dict[str, Any]:
    """The small JSON summary of a window's results (status, counts by status, findings)."""
    counts: dict[str, int] = {}
    for r in results:
        counts[str(r.status)] = counts.get(str(r.status), 0) + 1
    return {
        "model": model,
        "window": window.as_dict(),
        "n_rows": n_rows,
        "status": str(worst([r.status for r in results])),
        "counts": counts,
        "findings": sum(1 for r in results if r.status.is_finding),
    }


def publish_window(
    config: LoadedConfig,
    window: Window,
    results: list[CheckResult],
    store: Any,
    *,
    run_id: str,
    dag_id: str,
    source: str,
    n_rows: int,
    summary: dict[str, Any] | None = None,
    send_alerts: bool = True,
    record: bool = True,
    write_report: bool = True,
    now: datetime | None = None,
    run_url: str | None = None,
    report_url: str | None = None,
    sender: str | None = None,
) -> PublishOutcome:
    """Record, report and alert one window's results; never raises for the run's own failures.

    ``store`` may be None (or raise) when the metric store is unreachable: the findings still reach the
    task log and the JSONL alert file, and the outcome carries the error. ``record=False`` leaves the
    store alone (``watchkeeper check --dry-run``); ``send_alerts=False`` skips the dispatch. Call
    :meth:`PublishOutcome.raise_for_failure` (tasks) or read :attr:`PublishOutcome.reason` (CLI).
    """
    model = config.model
    summary = dict(summary) if summary is not None else summarize(model.name, window, n_rows, results)
    outcome = PublishOutcome(model.name, window, summary)
    outcome.failures = [r.message for r in results if r.status is Status.ERROR]
    if record:
        try:
            if store is None:
                raise WatchkeeperError("the metric store is not available")
            store.record_window(
                model.name, window, results, run_id=run_id, source=source, n_rows=n_rows, summary=dict(summary)
            )
            outcome.recorded = True
        except Exception as exc:  # report first, then fail: findings must not wait for the database
            log.error("model=%s: results not recorded: %s", model.name, exc)
            outcome.store_error = exc
    log_findings(model.name, window, results)
    record_ = alert_record(
        model.name, window, results, run_id=run_id, owner=model.owner, mentions=model.alerts.mentions
    )
    outcome.alert_file = str(write_alert(record_))
    log.info("\n%s", render_text(model.name, window, results, n_rows=n_rows))
    if outcome.store_error is not None or store is None:
        return outcome
    if write_report and outcome.recorded:
        outcome.report_path = write_run_report(config, window, store)
        summary["report"] = outcome.report_path
    if send_alerts:
        outcome.alerts = dispatch_alerts(
            config, window, results, store, run_id=run_id, dag_id=dag_id, now=now, run_url=run_url,
            report_url=report_url, sender=sender,
        )  # fmt: skip
        summary["alerts"] = outcome.alerts
    return outcome


def dispatch_alerts(
    config: LoadedConfig,
    window: Window,
    results: list[CheckResult],
    store: Any,
    *,
    run_id: str,
    dag_id: str,
    now: datetime | None = None,
    run_url: str | None = None,
    report_url: str | None = None,
    sender: str | None = None,
) -> dict[str, Any]:
    """Send the window's alerts through the outbox (lifecycle, routing, sinks); delivery errors are returned.

    ``sender``: the Airflow task instance dispatching (see :func:`watchkeeper.alerting.outbox.deliver`)."""
    from watchkeeper.alerting import dispatch

    return dispatch(
        config,
        window,
        results,
        run_id=run_id,
        dag_id=dag_id,
        store=store,
        now=now,
        run_url=run_url,
        report_url=report_url,
        raise_on_failure=False,
        sender=sender,
    )


def write_run_report(config: LoadedConfig, window: Window, store: Any) -> str | None:
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


def report_url(model: str, window: Window, base_url: str | None) -> str | None:
    """Link to the window's HTML report on the model-health pages (the UI plugin, under ``/watchkeeper``)."""
    if not base_url:
        return None
    query = urlencode({"start": window.start.isoformat(), "end": window.end.isoformat()})
    return f"{base_url.rstrip('/')}/watchkeeper/models/{model}/report?{query}"


def env_base_url() -> str | None:
    """The Airflow UI's base URL from ``AIRFLOW__API__BASE_URL`` (outside Airflow: no config file is read)."""
    value = os.environ.get("AIRFLOW__API__BASE_URL", "").strip()
    return value.rstrip("/") or None
