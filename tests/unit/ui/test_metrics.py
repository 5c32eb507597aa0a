"""``/api/metrics``: Prometheus text that Prometheus' own parser reads, whose values are the store's, filtered
by what the viewer may read."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from health_seed import EVIL, Seeded, day
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
