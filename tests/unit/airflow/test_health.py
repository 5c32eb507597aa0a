"""Health helpers: the payload, the DAG-run note, the critical gate, the model-page link, the Asset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.airflow import health
from watchkeeper.results import CheckResult, Status, Window

W = Window(datetime(2026, 10, 28, tzinfo=UTC), datetime(2026, 10, 29, tzinfo=UTC))
RESULTS = [
    CheckResult("quality", "row_count", "", 2000.0, 1000.0, Status.OK, "2000 rows"),
    CheckResult("service", "latency_p99_ms", "", 862.0, 400.0, Status.WARNING, "p99 latency 862 ms >= 400 ms"),
    CheckResult("drift", "psi", "amount", 0.313, 0.25, Status.CRITICAL, "amount drifted: psi 0.313 >= 0.25"),
    CheckResult("drift", "psi", "country", 0.01, 0.1, Status.SKIPPED, "not judged"),
]


@pytest.fixture(autouse=True)
def _base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/")


def payload(results: list[CheckResult] = RESULTS) -> dict[str, object]:
    return health.health_payload(
        "demo_fraud",
        "monitor",
        [W],
        results,
        dag_id="monitor__demo_fraud",
        run_id="scheduled__2026-10-29T00:00:00+00:00",
    )


def test_asset_names_the_model() -> None:
    asset = health.health_asset("demo_fraud")
    assert (asset.name, asset.uri) == ("watchkeeper_health__demo_fraud", "watchkeeper://health/demo_fraud")


def test_payload_status_findings_and_links() -> None:
    data = payload()
    assert data["status"] == "critical"
    assert data["findings"] == ["drift.psi[amount]", "service.latency_p99_ms"]
    assert [f["key"] for f in data["top_findings"]] == ["drift.psi[amount]", "service.latency_p99_ms"]  # worst first
    assert data["window"] == {"start": "2026-10-28T00:00:00+00:00", "end": "2026-10-29T00:00:00+00:00"}
    assert data["model_url"] == "https://airflow.example.com/watchkeeper/models/demo_fraud"
    assert data["report_url"] == (
        "https://airflow.example.com/watchkeeper/models/demo_fraud/report?"
        "start=2026-10-28T00%3A00%3A00%2B00%3A00&end=2026-10-29T00%3A00%3A00%2B00%3A00"
    )
    assert data["run_url"] == (
        "https://airflow.example.com/dags/monitor__demo_fraud/runs/scheduled__2026-10-29T00%3A00%3A00%2B00%3A00"
    )
    extra = health.asset_extra(data)
    assert extra["status"] == "critical" and extra["findings"] == data["findings"] and "top_findings" not in extra


def test_payload_accepts_result_dicts_and_is_skipped_without_results() -> None:
    assert payload([r.as_dict() for r in RESULTS])["findings"] == payload()["findings"]  # type: ignore[arg-type]
    empty = health.health_payload("m", "performance", [], [], dag_id="performance__m", run_id="r")
    assert (empty["status"], empty["window"], empty["report_url"]) == ("skipped", None, None)


def test_note_has_status_findings_and_links() -> None:
    note = health.note_markdown(payload())
    first, *rest = note.splitlines()
    assert first == (
        "**Watchkeeper** monitor `demo_fraud` 2026-10-28T00:00 → 2026-10-29T00:00 UTC: **CRITICAL** (2 findings)"
    )
    assert rest[0] == "- CRIT `drift.psi[amount]`: amount drifted: psi 0.313 >= 0.25"
    assert rest[1] == "- WARN `service.latency_p99_ms`: p99 latency 862 ms >= 400 ms"
    assert rest[-1] == (
        "[Model page](https://airflow.example.com/watchkeeper/models/demo_fraud) · [Run report]("
        "https://airflow.example.com/watchkeeper/models/demo_fraud/report?start=2026-10-28T00%3A00%3A00%2B00%3A00"
        "&end=2026-10-29T00%3A00%3A00%2B00%3A00)"
    )
    healthy = health.note_markdown(payload(RESULTS[:1]))
    assert "**OK** (no findings)" in healthy


def test_note_fits_airflow_s_limit_and_keeps_the_links() -> None:
    many = [CheckResult("drift", "psi", f"feature_{i}", 0.5, 0.25, Status.CRITICAL, "x" * 400) for i in range(40)]
    note = health.note_markdown(payload(many))
    assert len(note) <= health.NOTE_MAX_CHARS
    assert note.endswith(")") and "[Model page](" in note
    assert note.count("- CRIT") <= health.TOP_FINDINGS


def test_check_health_fails_only_critical_windows() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as info:
        health.check_health({"health": payload()})
    message = str(info.value)
    assert message.startswith("model demo_fraud: the window is CRITICAL -- this is the model's health, not a pipeline")
    assert "drift.psi[amount]: amount drifted" in message
    assert "https://airflow.example.com/watchkeeper/models/demo_fraud" in message
    assert health.check_health(payload(RESULTS[:2]))["status"] == "warning"
    assert health.check_health({"status": "error"})["status"] == "error"  # the failing task already failed the run
    assert health.check_health(None)["status"] == "skipped"


def test_model_page_link_and_its_serialization() -> None:
    from airflow.sdk import DAG, task
    from airflow.sdk.types import TaskInstanceKey
    from airflow.serialization.serialized_objects import DagSerialization

    key = TaskInstanceKey(dag_id="performance__demo_fraud", task_id="health", run_id="r", try_number=1)
    assert health.ModelPageLink().get_link(None, ti_key=key) == (
        "https://airflow.example.com/watchkeeper/models/demo_fraud"
    )
    defaults = {"on_failure_callback": lambda context: None, "retries": 3, "retry_delay": timedelta(minutes=1)}
    with DAG("monitor__demo_fraud", schedule=None, start_date=datetime(2026, 1, 1), default_args=defaults) as dag:

        @task(task_id="report")
        def report() -> dict[str, str]:
            return {"status": "ok"}

        health.add_health_task(report())
    op = dag.get_task("health")
    assert op.retries == 3 and not op.on_failure_callback  # a lost worker is retried; no "monitoring failed"
    data = DagSerialization.to_dict(dag)
    (serialized,) = [t for t in data["dag"]["tasks"] if t["__var"]["task_id"] == "health"]
    assert serialized["__var"]["_operator_extra_links"] == {"Model health": "_link_ModelPageLink"}
    restored = DagSerialization.from_dict(data)
    assert [link.name for link in restored.get_task("health").operator_extra_links] == ["Model health"]
