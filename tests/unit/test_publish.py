"""The core publish pipeline: record -> JSONL alert + HTML report -> alerts -> pass/fail, and the DAG's thin wrapper."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from support import TinyModel
from watchkeeper.exceptions import AlertDeliveryError, StoreError
from watchkeeper.publish import MonitoringFailedError, PublishOutcome, publish_window, report_url, summarize
from watchkeeper.reporting import read_alerts
from watchkeeper.results import CheckResult, Status, Window
from watchkeeper.store import MetricStore

DAY = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
CRIT = CheckResult("drift", "psi", "amount", 0.4, 0.1, Status.CRITICAL, "amount drifted")
OK = CheckResult("quality", "row_count", "", 1000.0, None, Status.OK, "1000 rows")
ERR = CheckResult(
    "service", "check_failed", "", None, None, Status.ERROR, "monitoring failed: the service checks raised"
)
PERF = CheckResult("performance", "recall", "", 0.3, 0.5, Status.WARNING, "recall fell", {"ci": [0.25, 0.35]})


@pytest.fixture
def store() -> MetricStore:
    s = MetricStore()
    s.migrate()
    return s


class DownStore:
    """A metric store whose database is unreachable (every write raises, as MetricStore does)."""

    def record_window(self, *args: object, **kwargs: object) -> int:
        raise StoreError("metric store sqlite:///nowhere.db is unreachable -- check the URL")


def test_records_writes_alert_and_report_and_passes(tiny: TinyModel, store: MetricStore) -> None:
    outcome = publish_window(
        tiny.config(), DAY, [CRIT, OK, PERF], store, run_id="r1", dag_id="d", source="test", n_rows=1000,
        send_alerts=False,
    )  # fmt: skip
    assert outcome.ok and outcome.reason is None and outcome.recorded
    run = store.run("tiny", DAY)
    assert (
        run is not None
        and run.summary["findings"] == 2
        and run.summary["counts"] == {"critical": 1, "ok": 1, "warning": 1}
    )
    assert {r.check for r in store.metrics("tiny", window=DAY)} == {"drift", "quality", "performance"}
    assert outcome.report_path is not None and Path(outcome.report_path).read_text().startswith("<!")
    (alert,) = read_alerts(Path(str(outcome.alert_file)))
    assert alert["run_id"] == "r1" and [f["metric"] for f in alert["findings"]] == ["psi", "recall"]


def test_store_down_still_writes_the_alert_and_fails_with_the_store_error(tiny: TinyModel) -> None:
    outcome = publish_window(tiny.config(), DAY, [CRIT], DownStore(), run_id="r", dag_id="d", source="t", n_rows=5)
    assert not outcome.ok and not outcome.recorded and outcome.report_path is None and outcome.alerts is None
    assert [a["status"] for a in read_alerts()] == ["critical"]  # nothing is lost
    with pytest.raises(StoreError, match="is unreachable -- check the URL"):
        outcome.raise_for_failure()


def test_failed_family_fails_after_everything_is_recorded(tiny: TinyModel, store: MetricStore) -> None:
    outcome = publish_window(
        tiny.config(), DAY, [ERR, OK], store, run_id="r", dag_id="d", source="t", n_rows=5, send_alerts=False
    )
    assert outcome.recorded and store.run("tiny", DAY) is not None
    assert outcome.reason == "monitoring failed: monitoring failed: the service checks raised"
    with pytest.raises(MonitoringFailedError):
        outcome.raise_for_failure()


def test_decision_order_store_then_failures_then_delivery() -> None:
    base = PublishOutcome("m", DAY, summarize("m", DAY, 3, [OK]))
    assert base.ok and base.error() is None
    base.alerts = {"errors": ["slack down"], "pending": 2}
    error = base.error()
    assert isinstance(error, AlertDeliveryError)
    assert str(error) == "model m: 2 alert notification(s) not delivered yet: slack down"
    base.failures = ["monitoring failed: x"]
    assert str(base.error()) == "monitoring failed: monitoring failed: x (and 2 alert(s) not delivered yet)"
    base.store_error = StoreError("down")
    assert base.error() is base.store_error


def test_report_url() -> None:
    assert report_url("m", DAY, None) is None
    assert report_url("m", DAY, "http://af:8080/") == (
        "http://af:8080/watchkeeper/models/m/report?start=2026-10-01T00%3A00%3A00%2B00%3A00"
        "&end=2026-10-02T00%3A00%3A00%2B00%3A00"
    )


def test_dag_report_task_is_a_thin_wrapper(tiny: TinyModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """``record_and_report`` (the monitor DAG's report task) publishes through the core and keeps its semantics."""
    from watchkeeper.airflow.publishing import record_and_report

    monkeypatch.setenv("WATCHKEEPER_ALERT_SINK", "log")
    context = {
        "data_interval_start": DAY.start,
        "data_interval_end": DAY.end,
        "run_id": "scheduled__2026-10-01",
        "ti": SimpleNamespace(dag_id="monitor__tiny"),
    }
    outputs = [{"family": "drift", "n_rows": 1000, "results": [CRIT.as_dict()]}, {"family": "q", "n_rows": 1000,
               "results": [OK.as_dict()]}]  # fmt: skip
    summary = record_and_report(str(tiny.path), outputs, context)
    assert summary["status"] == "critical" and summary["alerts"]["sink"] == "log" and summary["alerts"]["sent"] == 1
    assert summary["report"].endswith(".html")
    run = MetricStore().run("tiny", DAY)
    assert run is not None and run.run_id == "scheduled__2026-10-01" and run.source == "airflow"
    outputs[1]["results"] = [ERR.as_dict()]
    with pytest.raises(MonitoringFailedError, match="the service checks raised"):
        record_and_report(str(tiny.path), outputs, context)
    assert MetricStore().run("tiny", DAY).status == "error"  # type: ignore[union-attr]  # recorded first


def test_performance_dag_names_keep_working(
    tiny: TinyModel, store: MetricStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The performance DAG imports publish_window and _from_dict from the Airflow layer, the run's links from health."""
    from watchkeeper.airflow.health import context_dag_id, run_url
    from watchkeeper.airflow.publishing import _from_dict
    from watchkeeper.airflow.publishing import publish_window as publish_recorded

    monkeypatch.setenv("WATCHKEEPER_ALERT_SINK", "log")
    context = {"run_id": "manual__1", "ti": SimpleNamespace(dag_id="performance__tiny")}
    assert context_dag_id(context) == "performance__tiny"
    assert _from_dict(PERF.as_dict()) == PERF
    assert (run_url("performance__tiny", "manual__1") or "").endswith("/dags/performance__tiny/runs/manual__1")
    store.record_results("tiny", DAY, [PERF], checks={"performance"})
    path, alerts = publish_recorded(tiny.config(), DAY, [PERF], store, context)
    assert path is not None and path.endswith(".html")
    assert alerts["sink"] == "log" and alerts["sent"] == 1 and alerts["errors"] == []
