"""docs/grafana-dashboard.json is built on what /api/metrics exports: every series and label it queries exists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from health_seed import Seeded
from watchkeeper.ui import metrics
from watchkeeper.ui.app import create_app

DASHBOARD = Path(__file__).resolve().parents[3] / "docs" / "grafana-dashboard.json"


def expressions(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            exprs.append(query["query"])
    return exprs


def test_the_dashboard_queries_only_series_and_labels_that_exist(seeded: Seeded) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "watchkeeper-model-health" and dashboard["panels"]
    text = TestClient(create_app(store=seeded.store, config_dir=seeded.config_dir)).get("/api/metrics").text
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    for expr in expressions(dashboard):
        names = set(re.findall(r"watchkeeper_[a-z_]+", expr))
        assert names, expr
        for name in names:
            assert name in metrics.FAMILIES, (name, expr)
            assert name in labels, f"{name} has no sample in a seeded store ({expr})"
        for selector in re.findall(r"\{([^}]*)\}", expr):
            used = {m.group(1) for m in re.finditer(r"(\w+)\s*(?:=~|!=|!~|=)", selector)}
            known = set().union(*(labels[n] for n in names))
            assert used <= known, (expr, used - known)
        for by in re.findall(r"by \(([^)]*)\)", expr):
            assert {b.strip() for b in by.split(",")} <= set().union(*(labels[n] for n in names)), expr
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["datasource"]["uid"] == "${DS_PROMETHEUS}" for p in dashboard["panels"])
