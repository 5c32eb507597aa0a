"""The model-health summary (``model_health``, issue 9) on SQLite and PostgreSQL: after every kind of write it
equals what the overview's old full-history queries computed (``health_reference.py``), including a re-run
window, late labels and alerts opening and resolving; migration 0006 backfills an existing history."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import health_reference
import pytest
import sqlalchemy as sa

from watchkeeper.results import CheckResult, Status, Window
from watchkeeper.store import AlertingPlan, AlertStateRow, MetricStore
from watchkeeper.store.health_repo import SPARK_WINDOWS
from watchkeeper.store.schema import ModelHealth

DAY0 = datetime(2026, 1, 1, tzinfo=UTC)


def day(i: int) -> Window:
    return Window(DAY0 + timedelta(days=i), DAY0 + timedelta(days=i + 1))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'wk.db'}"
    return str(request.getfixturevalue("pg_url_fresh"))  # its own database: tests migrate up and down


@pytest.fixture
def store(url: str) -> Iterator[MetricStore]:
    with MetricStore(url) as metric_store:
        metric_store.migrate()
        yield metric_store


def monitor(i: int, *, amount_psi: float) -> list[CheckResult]:
    status = Status.CRITICAL if amount_psi >= 0.25 else Status.WARNING if amount_psi >= 0.1 else Status.OK
    return [
        CheckResult("quality", "row_count", "", 1000.0 + i, 500.0, Status.OK, "rows"),
        CheckResult("drift", "psi", "amount", amount_psi, 0.1, status, "psi", {"critical": 0.25}),
        CheckResult("drift", "psi", "country", 0.01 * (i % 5), 0.2, Status.OK, "psi"),
        CheckResult("drift", "multivariate_pca", "", 9.0, 1.0, Status.OK, "not a key metric"),
    ]


def recall(value: float) -> list[CheckResult]:
    status = Status.WARNING if value < 0.54 else Status.OK
    details = {"baseline": 0.6, "higher_is_better": True}
    return [
        CheckResult("performance", "recall", "", value, 0.54, status, "recall", details),
        CheckResult("performance", "accuracy", "", 0.9, 0.8, Status.OK, "accuracy"),
        CheckResult("performance", "recall", "segment_country=FR", 0.1, 0.54, Status.CRITICAL, "segment"),
    ]


def summary(store: MetricStore) -> dict[str, dict[str, Any]]:
    """The stored summary in the reference's shape."""
    out: dict[str, dict[str, Any]] = {}
    for model, row in store.health().items():
        if row.window is None:
            continue
        key = None
        if row.key_check is not None:
            key = (
                row.key_label,
                row.key_check,
                row.key_metric,
                row.key_value,
                row.key_status,
                row.key_baseline,
                [v for _, v in row.spark],
                [s for s, _ in row.spark],
            )
        out[model] = {
            "window": row.window,
            "status": row.status,
            "run_id": row.run_id,
            "n_rows": row.n_rows,
            "open_alerts": row.open_alerts,
            "key": key,
        }
    return out


def assert_matches_history(store: MetricStore) -> dict[str, dict[str, Any]]:
    expected = health_reference.overview(store)
    assert summary(store) == expected
    assert store.models() == health_reference.stored_models(store)
    return expected


def state(key: tuple[str, str], status: str, window: Window) -> AlertStateRow:
    return AlertStateRow(
        id=0,
        model="fraud",
        check=key[0],
        subject=key[1],
        state=status,
        severity="critical",
        findings=[],
        opened_at=window.start,
        window_start=window.start,
        window_end=window.end,
        updated_at=window.end,
        resolved_at=window.end if status == "resolved" else None,
    )


def write_history(store: MetricStore, windows: int = SPARK_WINDOWS + 8) -> None:
    """Monitor runs of two models, late labels for one of them, a results-only model and an alerts-only one."""
    for i in range(windows):
        for model in ("fraud", "churn"):
            store.record_window(
                model,
                day(i),
                monitor(i, amount_psi=0.02 + 0.003 * i),
                run_id=f"scheduled__{i}",
                source="airflow",
                n_rows=1000 + i,
                summary={},
            )
        if i < windows - 3:  # labels lag three windows behind
            store.record_results("fraud", day(i), recall(0.62 - 0.004 * i), checks={"performance"})
    store.record_results("scores_only", day(4), recall(0.7), checks={"performance"})
    store.upsert_alerts(
        "alerts_only", day(2), [{"check": "drift", "metric": "psi", "severity": "warning", "status": "open"}]
    )


def test_summary_follows_every_write(store: MetricStore) -> None:
    last = SPARK_WINDOWS + 7
    write_history(store)
    expected = assert_matches_history(store)
    fraud, churn = expected["fraud"], expected["churn"]
    assert fraud["window"] == day(last) and fraud["run_id"] == f"scheduled__{last}" and fraud["n_rows"] == 1000 + last
    assert fraud["key"][:3] == ("recall", "performance", "recall")
    assert fraud["key"][3] == pytest.approx(0.62 - 0.004 * (last - 3))  # the latest window with labels
    assert fraud["key"][5] == 0.6  # baseline from the result's details
    assert len(fraud["key"][6]) == SPARK_WINDOWS - 3  # last 30 windows, of which the newest 3 have no labels
    assert churn["key"][:3] == ("worst drift", "drift", "drift")
    assert churn["key"][3] == pytest.approx(0.02 + 0.003 * last) and churn["key"][5] == 0.2
    assert len(churn["key"][6]) == SPARK_WINDOWS
    assert expected["scores_only"]["run_id"] is None and expected["scores_only"]["status"] == "critical"
    assert "alerts_only" in store.models() and "alerts_only" not in expected
    assert store.health()["alerts_only"].window is None

    # re-running the latest window replaces it: new run id, new status, new drift value
    store.record_window(
        "churn", day(last), monitor(last, amount_psi=0.4), run_id="manual__rerun", source="cli", n_rows=7, summary={}
    )
    expected = assert_matches_history(store)
    assert expected["churn"]["run_id"] == "manual__rerun" and expected["churn"]["status"] == "critical"
    assert expected["churn"]["key"][3] == pytest.approx(0.4) and expected["churn"]["key"][4] == "warning"

    # late labels for the newest windows move the key metric
    store.record_results("fraud", day(last), recall(0.3), checks={"performance"})
    expected = assert_matches_history(store)
    assert expected["fraud"]["key"][3] == pytest.approx(0.3) and expected["fraud"]["key"][4] == "warning"

    # alerts open, then one resolves
    keys = [("drift", "amount"), ("performance", "")]

    def open_both(_current: dict[tuple[str, str], AlertStateRow]) -> AlertingPlan:
        return AlertingPlan(states=[state(k, "open", day(last)) for k in keys])

    store.apply_alerting("fraud", open_both)
    assert assert_matches_history(store)["fraud"]["open_alerts"] == 2

    def resolve_one(current: dict[tuple[str, str], AlertStateRow]) -> AlertingPlan:
        assert set(current) == set(keys)
        return AlertingPlan(states=[state(keys[0], "resolved", day(last)), state(keys[1], "ongoing", day(last))])

    store.apply_alerting("fraud", resolve_one)
    assert assert_matches_history(store)["fraud"]["open_alerts"] == 1

    # readers that need no sparkline skip its points, nothing else
    full, light = store.health()["fraud"], store.health(spark=False)["fraud"]
    assert light.spark == [] and len(full.spark) == SPARK_WINDOWS - 2  # two windows still without labels
    assert dataclasses.replace(light, spark_json=full.spark_json) == full


def test_rerunning_a_window_is_idempotent(store: MetricStore) -> None:
    for _ in range(2):
        store.record_window("fraud", day(0), monitor(0, amount_psi=0.3), run_id="r", source="cli", n_rows=1, summary={})
    with store._engine().connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(ModelHealth)).scalar_one() == 1
    assert_matches_history(store)


def test_a_write_costs_the_same_after_a_long_history(store: MetricStore) -> None:
    """The refresh reads bounded windows: with 40 windows stored it reads at most the spark windows' rows."""
    write_history(store, windows=40)
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, parameters: Any, *args: object) -> None:
        seen.append(statement)

    engine = store._engine()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        store.record_window(
            "fraud", day(40), monitor(40, amount_psi=0.5), run_id="r", source="cli", n_rows=1, summary={}
        )
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    health_sql = [s for s in seen if "model_health" in s]
    assert any(s.lstrip().upper().startswith("INSERT") for s in health_sql)
    metric_reads = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "FROM metrics" in s]
    assert metric_reads and all("window_start >=" in s or "LIMIT" in s for s in metric_reads), metric_reads
    assert_matches_history(store)


def test_migration_0006_backfills_an_existing_history(url: str) -> None:
    from alembic import command

    with MetricStore(url) as store:
        store.migrate()
        write_history(store)
        store.apply_alerting(
            "fraud", lambda _current: AlertingPlan(states=[state(("drift", "amount"), "open", day(3))])
        )
        maintained = store.health()
        config = store.alembic_config()
        command.downgrade(config, "0005")  # the history as a database at 0005 has it: no summary table
        inspector = sa.inspect(sa.create_engine(url))
        assert "model_health" not in inspector.get_table_names()
    with MetricStore(url) as upgraded:
        upgraded.migrate()  # the path every upgrading deployment takes
        backfilled = upgraded.health()
        assert backfilled.keys() == maintained.keys() == {"fraud", "churn", "scores_only", "alerts_only"}
        for model, row in maintained.items():
            assert backfilled[model] == row
        assert backfilled["fraud"].open_alerts == 1
        assert_matches_history(upgraded)


def test_rebuild_health_repairs_rows_written_behind_the_store(store: MetricStore) -> None:
    write_history(store, windows=5)
    before = store.health()
    engine = store._writer()
    with engine.begin() as connection:
        connection.execute(sa.delete(ModelHealth.__table__).where(ModelHealth.model == "fraud"))
        connection.execute(sa.update(ModelHealth.__table__).values(key_value=-1.0, open_alerts=99))
    assert store.rebuild_health() == len(before)
    assert store.health() == before
