"""Fixtures of the unit tests: a tiny model on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from support import SUITE, TinyModel, make_rows, project_config


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TinyModel:
    root = tmp_path / "project"
    (root / "dags" / "models").mkdir(parents=True)
    (root / "expectations").mkdir()
    (root / "expectations" / "tiny.json").write_text(json.dumps(SUITE))
    make_rows(4000, "2026-09-01", seed=1, hours=24 * 4).to_parquet(root / "reference.parquet")
    config = project_config("tiny", service={"latency_p95_ms": {"warning": 200, "critical": 500}})
    path = root / "dags" / "models" / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    model = TinyModel(root, path)
    model.write_log(make_rows(1000, "2026-10-01", seed=2))
    monkeypatch.setenv("WATCHKEEPER_CONFIG_DIR", str(root / "dags" / "models"))
    return model
