"""Parsing many models: spread evenly over the shard files, each shard caching only its own configs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = 160


def test_many_models_spread_over_shards_with_a_cache_per_shard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from watchkeeper.config import shard_of

    monkeypatch.setenv("WATCHKEEPER_HOME", str(tmp_path / "home"))
    folder = tmp_path / "dags"
    (folder / "models").mkdir(parents=True)
    shutil.copytree(ROOT / "dags" / "watchkeeper_shards", folder / "watchkeeper_shards")
    text = (ROOT / "dags" / "models" / "demo_fraud.yaml").read_text()
    names = [f"model_{i:04d}" for i in range(MODELS)]
    for name in names:
        (folder / "models" / f"{name}.yaml").write_text(text.replace("name: demo_fraud", f"name: {name}"))
    bag = DagBag(dag_folder=str(folder))
    assert bag.import_errors == {}
    assert len([d for d in bag.dag_ids if d.startswith(("monitor__", "performance__"))]) == 2 * MODELS
    per_shard = [sum(shard_of(n, 16) == i for n in names) for i in range(16)]
    assert max(per_shard) <= 2 * MODELS / 16 and min(per_shard) >= MODELS / 16 / 2  # no shard carries the load
    cache = tmp_path / "home" / "cache"
    for index, count in enumerate(per_shard):  # each shard's cache holds exactly its own configs
        assert len(json.loads((cache / f"config-yaml-{index}-of-16.json").read_text())) == count
    assert not (cache / "config-yaml-all.json").exists()
    # an edit reaches the DAG on the next parse (the cache is keyed by content)
    victim = folder / "models" / "model_0007.yaml"
    victim.write_text(victim.read_text().replace("owner: risk-ml", "owner: new-team"))
    os.utime(victim)
    bag = DagBag(dag_folder=str(folder))
    assert bag.dags["monitor__model_0007"].default_args["owner"] == "new-team"
