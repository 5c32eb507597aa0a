"""The overview, ``/api/models`` and ``/api/metrics`` read the model-health summary, never the history tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from health_seed import Seeded
from watchkeeper.store.schema import ModelHealth
from watchkeeper.ui.app import create_app

HISTORY_TABLES = ("runs", "metrics", "alerts", "alert_state")


@pytest.fixture
def client(seeded: Seeded) -> TestClient:
    client = TestClient(create_app(store=seeded.store, config_dir=seeded.config_dir))
    assert client.get("/api/models").status_code == 200  # migration check and imports out of the way
    return client


@pytest.fixture
def statements(seeded: Seeded) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    engine = seeded.store._engine()
    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def _set(seeded: Seeded, model: str, **values: object) -> None:
    with seeded.store._writer().begin() as connection:
        connection.execute(sa.update(ModelHealth.__table__).where(ModelHealth.model == model).values(**values))


def test_overview_and_api_models_render_the_summary_row(seeded: Seeded, client: TestClient) -> None:
    # a summary that differs from the history on purpose: the pages must show the summary
    _set(seeded, "fraud", key_value=0.875, key_baseline=0.77, open_alerts=7, status="error", run_id="from-summary")
    models = {m["model"]: m for m in client.get("/api/models").json()["models"]}
    fraud = models["fraud"]
    assert fraud["status"] == "error" and fraud["run_id"] == "from-summary" and fraud["open_alerts"] == 7
    assert fraud["key_metric"]["value"] == 0.875 and fraud["key_metric"]["baseline"] == 0.77
    assert models["newbie"]["status"] is None and models["newbie"]["key_metric"] is None
    html = client.get("/").text
    assert "<b>0.875</b>" in html and "vs 0.77" in html
    assert '<span class="num">7</span>' in html


def test_listing_pages_never_read_the_history(seeded: Seeded, client: TestClient, statements: list[str]) -> None:
    for path in ("/", "/api/models"):
        statements.clear()
        assert client.get(path).status_code == 200
        reads = " ".join(statements)
        assert "model_health" in reads
        for table in HISTORY_TABLES:
            assert f"FROM {table}" not in reads, (path, table, statements)


def test_prometheus_reads_latest_windows_from_the_summary(
    seeded: Seeded, client: TestClient, statements: list[str]
) -> None:
    text = client.get("/api/metrics").text
    fraud = seeded.store.health()["fraud"]
    assert fraud.performance_window is not None and fraud.window is not None
    assert fraud.performance_window.end < fraud.window.end  # labels lag behind the latest run
    end = fraud.performance_window.end.timestamp()
    assert f'watchkeeper_performance_window_end_timestamp_seconds{{model="fraud"}} {end!r}' in text
    # no grouped scan over the history: the metrics table is read only for the rows of known windows
    for statement in statements:
        assert not ("FROM metrics" in statement and "GROUP BY" in statement), statement
