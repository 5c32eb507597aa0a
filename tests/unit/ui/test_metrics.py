"""``/api/metrics``: Prometheus text that Prometheus' own parser reads, whose values are the store's, filtered
by what the viewer may read."""

from __future__ import annotations

import math
import re
import sqlite3
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event
from sqlalchemy.engine import Engine

from health_seed import EVIL, Seeded, day, monitor_results
from watchkeeper.alerting.notice import BASELINE_KEYS
from watchkeeper.results import CheckResult, Status
from watchkeeper.store import MetricStore
from watchkeeper.ui.access import ACCESS_SCOPE_KEY
from watchkeeper.ui.app import create_app

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def parse(text: str) -> Samples:
    """Family name -> {sorted labels: value}, through prometheus_client's parser."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge"
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name][tuple(sorted(labels.items()))]


@pytest.fixture
def samples(seeded: Seeded) -> Samples:
    response = TestClient(create_app(store=seeded.store, config_dir=seeded.config_dir)).get("/api/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.text)


def test_the_exposition_parses_and_matches_the_store(seeded: Seeded, samples: Samples) -> None:
    store = seeded.store
    assert set(samples["watchkeeper_model_info"]) == {
        (("configured", "true"), ("model", "fraud"), ("owner", "risk-ml")),
        (("configured", "true"), ("model", "healthy"), ("owner", "growth")),
        (("configured", "true"), ("model", "newbie"), ("owner", "new-team")),
        (("configured", "false"), ("model", "legacy"), ("owner", "")),
    }
    # status and staleness of the latest window: fraud's last two windows drifted (critical)
    assert value(samples, "watchkeeper_model_status", model="fraud") == 2
    assert value(samples, "watchkeeper_model_status", model="healthy") == 0
    assert (("model", "newbie"),) not in samples["watchkeeper_model_status"]  # no runs yet: no status
    assert (
        value(samples, "watchkeeper_model_last_window_end_timestamp_seconds", model="fraud") == day(5).end.timestamp()
    )
    assert value(samples, "watchkeeper_model_open_alerts", model="fraud") == 1
    assert value(samples, "watchkeeper_model_open_alerts", model="healthy") == 0
    # the latest results are the stored rows
    (psi,) = [r for r in store.metrics("fraud", window=day(5), check="drift", subject="amount")]
    labels = {"model": "fraud", "check": "drift", "metric": "psi", "subject": "amount"}
    assert value(samples, "watchkeeper_result_value", **labels) == psi.value == 0.45
    assert value(samples, "watchkeeper_result_status", **labels) == 2
    assert value(samples, "watchkeeper_result_threshold", **labels) == psi.threshold
    p95 = {"model": "fraud", "check": "service", "metric": "latency_p95_ms", "subject": ""}
    assert (
        value(samples, "watchkeeper_result_value", **p95)
        == store.metrics("fraud", window=day(5), metric="latency_p95_ms")[0].value
    )
    # performance comes from the latest window with labels (day 3), with its baseline
    recall = {"model": "fraud", "check": "performance", "metric": "recall", "subject": ""}
    stored = store.metrics("fraud", window=day(3), metric="recall")[0]
    assert value(samples, "watchkeeper_result_value", **recall) == pytest.approx(stored.value)
    assert value(samples, "watchkeeper_result_baseline", **recall) == 0.6
    assert (
        value(samples, "watchkeeper_performance_window_end_timestamp_seconds", model="fraud") == day(3).end.timestamp()
    )
    key = {"model": "fraud", "check": "performance", "metric": "recall"}
    assert value(samples, "watchkeeper_key_metric", **key) == pytest.approx(stored.value)
    assert value(samples, "watchkeeper_key_metric_baseline", **key) == 0.6
    # findings of the latest window by check and severity
    assert value(samples, "watchkeeper_model_findings", model="fraud", check="drift", severity="critical") == 1
    # a feature name with quotes, angle brackets and parentheses is a valid label value
    evil = {"model": "fraud", "check": "drift", "metric": "psi", "subject": EVIL}
    assert value(samples, "watchkeeper_result_value", **evil) == 0.01
    assert value(samples, "watchkeeper_invalid_configs") == 0


class Only:
    def __init__(self, models: Collection[str], *, may_list: bool = True) -> None:
        self.models, self._may_list, self.who, self.hint = set(models), may_list, "user 'carol'", ""

    def may_list(self) -> bool:
        return self._may_list

    def readable(self, models: Collection[str]) -> set[str]:
        return set(models) & self.models


def as_viewer(seeded: Seeded, access: Any) -> TestClient:
    app = create_app(store=seeded.store, config_dir=seeded.config_dir)

    async def with_access(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope[ACCESS_SCOPE_KEY] = access
        await app(scope, receive, send)

    return TestClient(with_access)


def test_only_the_models_the_viewer_may_read_are_exported(seeded: Seeded) -> None:
    samples = parse(as_viewer(seeded, Only({"healthy"})).get("/api/metrics").text)
    models = {dict(labels)["model"] for family in samples.values() for labels in family if dict(labels).get("model")}
    assert models == {"healthy"}
    assert as_viewer(seeded, Only(set(), may_list=False)).get("/api/metrics").status_code == 403


def test_a_broken_config_is_counted_not_a_500(seeded: Seeded) -> None:
    (seeded.config_dir / "broken.yaml").write_bytes(b"name: caf\xe9\n")
    response = TestClient(create_app(store=seeded.store, config_dir=seeded.config_dir)).get("/api/metrics")
    assert response.status_code == 200 and value(parse(response.text), "watchkeeper_invalid_configs") == 1


def test_the_endpoint_reads_a_bounded_number_of_queries_and_never_scans_the_history(seeded: Seeded) -> None:
    """The same statements however long the history, and every read of ``metrics`` searches its unique index
    (SQLite's own query plan says SEARCH, never SCAN)."""
    statements: list[tuple[str, Any]] = []

    def grab(*args: Any) -> None:  # (conn, cursor, statement, parameters, context, executemany)
        if args[2].lstrip().upper().startswith("SELECT"):  # not BEGIN, COMMIT...
            statements.append((args[2], args[3]))

    client = TestClient(create_app(store=seeded.store, config_dir=seeded.config_dir))
    client.get("/api/metrics")  # the app's first request migrates the store and loads the configs

    def request() -> list[tuple[str, Any]]:
        statements.clear()
        event.listen(Engine, "before_cursor_execute", grab)
        try:
            assert client.get("/api/metrics").status_code == 200
        finally:
            event.remove(Engine, "before_cursor_execute", grab)
        return list(statements)

    before = request()
    for i in range(3, 43):  # 40 more windows of 'healthy'
        seeded.store.record_window(
            "healthy", day(i), monitor_results(i, drifted=False), run_id=f"m{i}", source="cli", n_rows=1, summary={}
        )
    after = request()
    assert [s for s, _ in after] == [s for s, _ in before]
    assert len(after) <= 4, [s for s, _ in after]  # model list, health summary, two reads of results
    reads = [(s, p) for s, p in after if re.search(r"\bmetrics\b", s)]
    assert len(reads) == 2  # the latest windows' results and the performance windows' results
    db = sqlite3.connect(seeded.url.removeprefix("sqlite:///"))
    try:
        for statement, parameters in reads:
            plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            assert not [p for p in plan if p.startswith("SCAN")], plan
            # the results of one window per model: the unique index on (model, window_start, window_end, ...)
            assert any(p.startswith("SEARCH metrics USING INDEX") and "window_end=?" in p for p in plan), plan
    finally:
        db.close()


def reference_baseline(details: dict[str, Any]) -> float | None:
    """The first finite number among the baseline keys, from the details decoded by Python."""
    for key in BASELINE_KEYS:
        found = details.get(key)
        if isinstance(found, int | float) and not isinstance(found, bool) and math.isfinite(found):
            return float(found)
    return None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'wk.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_baselines_and_critical_thresholds_picked_by_the_database_keep_digits_and_types(store_url: str) -> None:
    """The details keys are picked in SQL: a stored number keeps all its digits, a boolean is not a number,
    a string is skipped for the next key, and large details (current counts) do not matter."""
    model = f"picky_{uuid.uuid4().hex[:8]}"  # the PostgreSQL database is shared by the session
    counts = {"current_counts": list(range(500))}
    results = [
        CheckResult(
            "service",
            "latency_p95_ms",
            "",
            5.0,
            2.0,
            Status.CRITICAL,
            "slow",
            {"baseline": True, "reference": 0.1 + 0.2, "critical": 3.0000000000000004, **counts},
        ),
        CheckResult("quality", "row_count", "", 5.0, 1.0, Status.OK, "rows", {"expected": 7, "critical": 9.0}),
        CheckResult(
            "drift",
            "psi",
            "amount",
            0.3,
            0.1,
            Status.CRITICAL,
            "psi",
            {"reference": "n/a", "reference_share": 1e-300, "critical": True, **counts},
        ),
        CheckResult("drift", "psi", "hour", 0.01, 0.1, Status.OK, "psi", {}),
    ]
    with MetricStore(store_url) as store:
        store.migrate()
        store.record_window(model, day(0), results, run_id="r", source="cli", n_rows=1, summary={})
        text = TestClient(create_app(store=store, config_dir=Path("/nonexistent"))).get("/api/metrics").text
        stored = store.metrics(model, window=day(0))
    samples = parse(text)
    assert len(stored) == len(results)
    for row in stored:
        labels = {"model": model, "check": row.check, "metric": row.metric, "subject": row.subject}
        key = tuple(sorted(labels.items()))
        assert samples["watchkeeper_result_value"][key] == row.value
        assert samples.get("watchkeeper_result_baseline", {}).get(key) == reference_baseline(row.details)
        critical = row.details.get("critical")
        if row.status == "critical" and isinstance(critical, float):
            assert samples["watchkeeper_result_threshold"][key] == critical
        else:
            assert samples["watchkeeper_result_threshold"][key] == row.threshold
    latency = {"model": model, "check": "service", "metric": "latency_p95_ms", "subject": ""}
    assert value(samples, "watchkeeper_result_baseline", **latency) == 0.30000000000000004
    assert value(samples, "watchkeeper_result_threshold", **latency) == 3.0000000000000004
    assert (
        value(samples, "watchkeeper_result_baseline", model=model, check="quality", metric="row_count", subject="") == 7
    )
    amount = {"model": model, "check": "drift", "metric": "psi", "subject": "amount"}
    assert value(samples, "watchkeeper_result_baseline", **amount) == 1e-300
    assert value(samples, "watchkeeper_result_threshold", **amount) == 0.1  # critical: True is not a number
