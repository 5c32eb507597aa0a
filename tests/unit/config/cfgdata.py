"""Shared test data of the config tests: a minimal valid config and helpers to vary it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from watchkeeper.config import LoadedConfig, parse_config
from watchkeeper.exceptions import ConfigError

VALID: dict[str, Any] = {
    "name": "m1",
    "owner": "team-a",
    "task": "binary_classification",
    "predictions": {
        "source": {"kind": "parquet", "path": "data/*.parquet"},
        "timestamp": "ts",
        "id": "id",
        "features": {"amount": "numerical", "country": "categorical"},
        "prediction": "label",
        "score": "score",
    },
    "reference": {"source": {"kind": "csv", "path": "ref.csv"}},
}


def with_(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A deep copy of ``base`` (default VALID) with the dotted ``path`` set to ``value`` (None deletes it)."""
    data = copy.deepcopy(base if base is not None else VALID)
    node = data
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    return data


def parse(data: dict[str, Any], name: str = "m1") -> LoadedConfig:
    return parse_config(Path(f"dags/models/{name}.yaml"), yaml.safe_dump(data, sort_keys=False))


def problems(data: dict[str, Any], name: str = "m1") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(data, name)
    return info.value.problems
