"""The web app: overview, model page, run report route and JSON API on a seeded SQLite store."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from health_seed import EVIL, Seeded
from watchkeeper.ui.app import create_app


@pytest.fixture
def client(seeded: Seeded) -> TestClient:
    return TestClient(create_app(store=seeded.store, config_dir=seeded.config_dir))


def test_overview_lists_configured_and_stored_models(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    for model in ("fraud", "healthy", "newbie", "legacy"):
        assert f'href="models/{model}"' in html
    assert "risk-ml" in html
    assert "<svg" in html  # sparklines
    assert "no runs yet" in html  # newbie
    # fraud's key metric is its recall (labels), healthy's the worst drift statistic
    assert "recall" in html and "worst drift" in html


def test_overview_redirects_to_trailing_slash_when_mounted(seeded: Seeded) -> None:
    from fastapi import FastAPI

    outer = FastAPI()
    outer.mount("/watchkeeper", create_app(store=seeded.store, config_dir=seeded.config_dir))
    client = TestClient(outer)
    response = client.get("/watchkeeper", follow_redirects=False)
    assert response.status_code in {307, 308}
    assert response.headers["location"].endswith("/watchkeeper/")
    assert 'href="models/fraud"' in client.get("/watchkeeper/").text
    assert client.get("/watchkeeper/models/fraud").status_code == 200


def test_model_page_renders_charts(client: TestClient) -> None:
    response = client.get("/models/fraud")
    assert response.status_code == 200
    html = response.text
    assert html.count("<svg") >= 5
    assert 'data-feature="amount"' in html  # the drifted feature has its distribution chart
    assert "current" in html  # current counts from the result details
    assert 'class="baseline"' in html  # performance chart with its baseline line
    assert 'class="band"' in html  # and threshold band
    assert "merchant=digital" in html  # segment breakdown
    assert "retrain__fraud" in html
    assert 'href="../"' in html
    assert 'href="fraud/report"' in html


def test_model_without_runs_and_without_labels(client: TestClient) -> None:
    assert "no runs recorded yet" in client.get("/models/newbie").text
    assert "no labels yet" in client.get("/models/healthy").text


def test_unknown_model_is_a_404_page_listing_known_models(client: TestClient) -> None:
    response = client.get("/models/nope")
    assert response.status_code == 404
    assert 'href="../models/fraud"' in response.text and "newbie" in response.text
    api = client.get("/api/models/nope/metrics")
    assert api.status_code == 404
    assert "fraud" in api.json()["known_models"]


def test_report_route(client: TestClient) -> None:
    latest = client.get("/models/fraud/report")
    assert latest.status_code == 200
    assert "2026-10-06" in latest.text
    one = client.get("/models/fraud/report", params={"start": "2026-10-02T00:00:00+00:00", "end": "2026-10-03"})
    assert one.status_code == 200
    assert "2026-10-02" in one.text and "recall" in one.text
    assert client.get("/models/fraud/report", params={"start": "yesterday", "end": "2026-10-03"}).status_code == 400
    assert client.get("/models/fraud/report", params={"start": "2026-10-02"}).status_code == 400


def test_api_models(client: TestClient) -> None:
    data = client.get("/api/models").json()
    by_name = {m["model"]: m for m in data["models"]}
    assert set(by_name) == {"fraud", "healthy", "newbie", "legacy"}
    fraud = by_name["fraud"]
    assert fraud["status"] == "critical"
    assert fraud["last_window"] == {"start": "2026-10-06T00:00:00+00:00", "end": "2026-10-07T00:00:00+00:00"}
    assert fraud["open_alerts"] == 1
    assert fraud["owner"] == "risk-ml"
    assert fraud["key_metric"]["name"] == "recall"
    assert fraud["key_metric"]["baseline"] == 0.6
    assert len(fraud["key_metric"]["series"]) == 4
    assert by_name["newbie"]["status"] is None and by_name["newbie"]["last_window"] is None
    assert by_name["legacy"]["configured"] is False


def test_api_metrics_filters(client: TestClient) -> None:
    data = client.get(
        "/api/models/fraud/metrics",
        params={"check": "drift", "subject": "amount", "start": "2026-10-03", "end": "2026-10-05"},
    ).json()
    assert data["count"] == 2
    row = data["rows"][0]
    assert set(row) == {
        "window_start",
        "window_end",
        "check",
        "metric",
        "subject",
        "value",
        "threshold",
        "status",
        "message",
        "details",
    }
    assert row["window_start"] == "2026-10-03T00:00:00+00:00"
    assert client.get("/api/models/fraud/metrics", params={"start": "bad"}).status_code == 400


def test_api_latest_window_alerts_retraining(client: TestClient) -> None:
    latest = client.get("/api/models/fraud/windows/latest").json()
    assert latest["window"]["start"] == "2026-10-06T00:00:00+00:00"
    assert latest["status"] == "critical"
    assert latest["run"]["run_id"] == "scheduled__5"
    assert {r["check"] for r in latest["results"]} == {"quality", "drift", "prediction", "service"}
    alerts = client.get("/api/models/fraud/alerts").json()
    assert alerts["open"] == 1
    assert alerts["alerts"][0]["subject"] == "amount"
    retraining = client.get("/api/models/fraud/retraining").json()
    assert retraining["triggers"][0]["dag_id"] == "retrain__fraud"
    assert retraining["triggers"][0]["window"]["start"] == "2026-10-04T00:00:00+00:00"
    empty = client.get("/api/models/newbie/windows/latest").json()
    assert empty == {"model": "newbie", "window": None, "status": None, "run": None, "results": []}


def test_json_has_null_for_nan(seeded: Seeded, client: TestClient) -> None:
    from health_seed import day
    from watchkeeper.results import CheckResult, Status

    seeded.store.record_results(
        "fraud",
        day(0),
        [CheckResult("performance", "roc_auc", "", float("nan"), None, Status.SKIPPED, "undefined")],
        checks={"performance"},
    )
    rows = client.get("/api/models/fraud/metrics", params={"metric": "roc_auc"}).json()["rows"]
    assert rows[0]["value"] is None


def test_malicious_subject_is_escaped(client: TestClient) -> None:
    for path in ("/", "/models/fraud", "/models/fraud/report", "/models/nope"):
        html = client.get(path).text
        assert EVIL not in html
        assert "<script" not in html.lower()
    assert "&lt;script&gt;" in client.get("/models/fraud").text


def test_store_created_lazily_from_the_environment(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHKEEPER_DATABASE_URL", seeded.url)
    monkeypatch.setenv("WATCHKEEPER_CONFIG_DIR", str(seeded.config_dir))
    client = TestClient(create_app())
    assert re.search(r'href="models/fraud"', client.get("/").text)


def test_model_page_draws_distributions_from_the_stored_profile(tiny, seeded: Seeded) -> None:  # type: ignore[no-untyped-def]
    """The page reads the run's stored window profile, never the raw log (deleted here)."""
    from watchkeeper.checks import run_checks
    from watchkeeper.results import Window

    config = tiny.config()
    window = Window.parse("2026-10-01", "2026-10-02")
    report = run_checks(config, window, seeded.store)
    seeded.store.save_window_profile("tiny", window, report.profile)
    seeded.store.record_window(
        "tiny", window, report.results, run_id="r", source="cli", n_rows=report.n_rows, summary=report.summary()
    )
    for path in (tiny.root / "log").glob("*.parquet"):
        path.unlink()
    client = TestClient(create_app(store=seeded.store, config_dir=config.path.parent))
    html = client.get("/models/tiny").text
    figure = html.split('data-feature="amount"')[1].split("</figure>")[0]
    assert "<svg" in figure
    assert "current distribution not available" not in figure
    assert ": current " in figure  # the window's bars, drawn from the stored counts


def test_model_page_links_back_to_its_airflow_dag_runs(seeded: Seeded) -> None:
    """The model page links each Airflow-run window to its DAG run, and the model's DAGs' run lists; the
    links are relative, so they land on Airflow's own pages of the API server that serves the plugin."""
    from urllib.parse import urljoin

    from fastapi import FastAPI

    outer = FastAPI()
    outer.mount("/watchkeeper", create_app(store=seeded.store, config_dir=seeded.config_dir))
    page = "http://airflow.example/watchkeeper/models/fraud"
    html = TestClient(outer).get("/watchkeeper/models/fraud").text
    hrefs = {urljoin(page, h.replace("&amp;", "&")) for h in re.findall(r'href="([^"]+)"', html)}
    assert "http://airflow.example/dags/monitor__fraud/runs" in hrefs
    assert not any("performance__fraud" in h for h in hrefs)  # its config has no performance section
    run = seeded.store.runs("fraud", limit=1)[0]
    assert run.source == "airflow"
    assert f"http://airflow.example/dags/monitor__fraud/runs/{run.run_id}" in hrefs
    # a window checked from the CLI has no DAG run to link to
    legacy = TestClient(outer).get("/watchkeeper/models/legacy").text
    assert "/runs/cli" not in legacy
