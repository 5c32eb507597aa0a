"""Seed data of the report and UI tests: a SQLite metric store with a few models, and their configs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from watchkeeper.results import CheckResult, Status, Window
from watchkeeper.store import AlertingPlan, AlertStateRow, MetricStore

EVIL = "<script>alert('x')</script>"
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)


def day(i: int) -> Window:
    return Window(DAY0 + timedelta(days=i), DAY0 + timedelta(days=i + 1))


def config_yaml(name: str, owner: str) -> str:
    config = {
        "name": name,
        "owner": owner,
        "description": "A test model.",
        "task": "binary_classification",
        "predictions": {
            "source": {"kind": "parquet", "path": "log/*.parquet"},
            "timestamp": "ts",
            "id": "pid",
            "features": {"amount": "numerical", "country": "categorical"},
            "prediction": "pred",
            "score": "score",
        },
        "reference": {"source": {"kind": "parquet", "path": "reference.parquet"}},
    }
    return yaml.safe_dump(config)


BASELINE = {
    "n_rows": 1000,
    "features": {
        "amount": {"kind": "numerical", "n": 1000, "edges": [10.0, 20.0, 40.0], "counts": [250, 250, 250, 250]},
        "country": {"kind": "categorical", "n": 1000, "counts": {"FR": 600, "DE": 300, EVIL: 100}},
    },
    "score": {"kind": "numerical", "n": 1000, "edges": [0.1, 0.5], "counts": [700, 200, 100]},
    "confidence": {"mean": 0.8, "low_share": 0.05},
    "performance": {"metrics": {"recall": 0.6, "accuracy": 0.9}},
}


def monitor_results(i: int, *, drifted: bool) -> list[CheckResult]:
    psi = 0.45 if drifted else 0.02 + 0.001 * i
    amount_status = Status.CRITICAL if drifted else Status.OK
    return [
        CheckResult("quality", "row_count", "", 1000.0, 500.0, Status.OK, "1000 rows"),
        CheckResult("quality", "missing_share", "amount", 0.0, 0.05, Status.OK, "amount: 0% missing"),
        CheckResult(
            "drift",
            "psi",
            "amount",
            psi,
            0.1,
            amount_status,
            f"amount psi {psi}",
            {"method": "psi", "n": 1000, "current_counts": [50, 50, 300, 600]},
        ),
        CheckResult("drift", "psi", "country", 0.03, 0.1, Status.OK, "country: no drift", {"method": "psi", "n": 1000}),
        CheckResult("drift", "psi", EVIL, 0.01, 0.1, Status.OK, f"{EVIL} no drift", {"method": "psi", "n": 1000}),
        CheckResult("prediction", "score_psi", "score", 0.01, 0.1, Status.OK, "score stable", {"method": "psi"}),
        CheckResult(
            "prediction",
            "class_rate_change",
            "class=1",
            0.1,
            0.5,
            Status.OK,
            "class 1",
            {"current_rate": 0.11, "reference_rate": 0.1},
        ),
        CheckResult("prediction", "mean_confidence", "", 0.79, None, Status.OK, "mean confidence", {"reference": 0.8}),
        CheckResult("service", "latency_p95_ms", "", 100.0 + i, 200.0, Status.OK, "p95"),
        CheckResult("service", "error_rate", "", 0.001, 0.01, Status.OK, "errors"),
    ]


def performance_results(i: int) -> list[CheckResult]:
    recall = 0.6 - 0.03 * i
    status = Status.WARNING if recall < 0.54 else Status.OK
    return [
        CheckResult(
            "performance",
            "recall",
            "",
            recall,
            0.54,
            status,
            f"recall is {recall:.2f}",
            {"ci": [recall - 0.02, recall + 0.02], "n": 300, "higher_is_better": True, "baseline": 0.6},
        ),
        CheckResult("performance", "accuracy", "", 0.9, None, Status.OK, "accuracy", {"ci": [0.88, 0.92]}),
        CheckResult(
            "performance",
            "segment_recall",
            "merchant=digital",
            0.1,
            None,
            Status.WARNING,
            "recall for merchant=digital is 0.1",
            {"n": 40, "overall": recall, "rest": 0.6, "p_adjusted": 0.001},
        ),
    ]


@dataclass
class Seeded:
    store: MetricStore
    config_dir: Path
    url: str


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    """``fraud`` (configured, 6 windows, drift in the last two, labels for the first four, an alert and a
    retraining trigger), ``healthy`` (configured, 3 clean windows, no labels), ``newbie`` (configured,
    nothing stored) and ``legacy`` (stored, no config)."""
    url = f"sqlite:///{tmp_path / 'wk.db'}"
    store = MetricStore(url)
    store.migrate()
    config_dir = tmp_path / "models"
    config_dir.mkdir()
    for name, owner in (("fraud", "risk-ml"), ("healthy", "growth"), ("newbie", "new-team")):
        (config_dir / f"{name}.yaml").write_text(config_yaml(name, owner))
    store.save_baseline("fraud", "h1", BASELINE)
    store.save_baseline("healthy", "h2", BASELINE)
    for i in range(6):
        store.record_window(
            "fraud",
            day(i),
            monitor_results(i, drifted=i >= 4),
            run_id=f"scheduled__{i}",
            source="airflow",
            n_rows=1000,
            summary={},
        )
        if i < 4:
            store.record_results("fraud", day(i), performance_results(i), checks={"performance"})
    store.upsert_alerts(
        "fraud",
        day(5),
        [
            {
                "check": "drift",
                "metric": "psi",
                "subject": "amount",
                "severity": "critical",
                "status": "open",
                "message": "amount drifted",
            }
        ],
    )
    state = AlertStateRow(
        model="fraud",
        check="drift",
        subject="amount",
        state="open",
        severity="critical",
        findings=[{"metric": "psi", "value": 0.45}],
        opened_at=day(4).start,
        window_start=day(5).start,
        window_end=day(5).end,
    )
    store.apply_alerting("fraud", lambda _current: AlertingPlan(states=[state]))
    store.record_retrain_trigger(
        "fraud",
        dag_id="retrain__fraud",
        window=day(3),
        reason="recall below threshold for 3 windows",
        failing_metrics=[{"metric": "recall", "value": 0.51}],
        conf={"model": "fraud"},
        run_url="http://localhost:8080/dags/retrain__fraud",
    )
    for i in range(3):
        store.record_window(
            "healthy",
            day(i),
            monitor_results(i, drifted=False),
            run_id=f"manual__{i}",
            source="cli",
            n_rows=1000,
            summary={},
        )
    store.record_window(
        "legacy", day(0), monitor_results(0, drifted=False), run_id="cli", source="cli", n_rows=5, summary={}
    )
    return Seeded(store, config_dir, url)
