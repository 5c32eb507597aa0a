"""Test support: a tiny model on disk (reference data, a prediction log writer, a config, a GX suite)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from watchkeeper.config import LoadedConfig, load_config


def minimal_config(**extra: Any) -> dict[str, Any]:
    """The smallest valid config (regression model ``fraud``; its CSV sources need not exist) as a mapping;
    ``extra`` adds or replaces top-level keys (``alerts=...``)."""
    return {
        "name": "fraud",
        "owner": "risk",
        "task": "regression",
        "predictions": {
            "source": {"kind": "csv", "path": "log.csv"},
            "timestamp": "ts",
            "id": "id",
            "features": {"amount": "numerical"},
            "prediction": "pred",
        },
        "reference": {"source": {"kind": "csv", "path": "r.csv"}},
        **extra,
    }


def project_config(name: str, **extra: Any) -> dict[str, Any]:
    """The config of a binary model over :func:`make_rows` columns, laid out as a project: the YAML in
    ``dags/models/``, its log in ``log/*.parquet`` and its reference in ``reference.parquet`` at the root;
    its GX suite is ``expectations/<name>.json``. ``extra`` adds or replaces top-level keys."""
    return {
        "name": name,
        "owner": "team",
        "task": "binary_classification",
        "predictions": {
            "source": {"kind": "parquet", "path": "../../log/*.parquet"},
            "timestamp": "ts",
            "id": "pid",
            "features": {"amount": "numerical", "age": "numerical", "country": "categorical"},
            "prediction": "pred",
            "score": "score",
            "latency": "latency",
            "status": "status",
        },
        "reference": {"source": {"kind": "parquet", "path": "../../reference.parquet"}},
        "quality": {"suite": name, "freshness_max_lag": "2h"},
        **extra,
    }


def make_rows(n: int, start: str, *, seed: int = 0, hours: float = 24.0) -> pd.DataFrame:
    """``n`` prediction rows spread evenly over ``hours`` from ``start`` (UTC)."""
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.linspace(0, hours * 3600 - 1, n), unit="s")
    score = rng.beta(1, 12, n)
    return pd.DataFrame(
        {
            "ts": ts,
            "pid": [f"{seed}-{i}" for i in range(n)],
            "amount": rng.lognormal(3.0, 0.5, n),
            "age": rng.integers(0, 100, n).astype("float64"),
            "country": rng.choice(["FR", "DE", "US", "BR"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "score": score,
            "pred": (score >= 0.5).astype("int64"),
            "latency": rng.lognormal(4.0, 0.2, n),
            "status": np.where(rng.random(n) < 0.001, "error", "ok"),
        }
    )


@dataclass
class TinyModel:
    """Paths and helpers of the tiny model."""

    root: Path
    path: Path

    def config(self) -> LoadedConfig:
        return load_config(self.path)

    def write_log(self, df: pd.DataFrame, name: str = "day.parquet") -> None:
        (self.root / "log").mkdir(exist_ok=True)
        for old in (self.root / "log").glob("*.parquet"):
            old.unlink()
        df.to_parquet(self.root / "log" / name)

    def edit(self, change: Callable[[dict], None]) -> LoadedConfig:
        data = yaml.safe_load(self.path.read_text())
        change(data)
        self.path.write_text(yaml.safe_dump(data))
        return self.config()


SUITE = {
    "name": "tiny",
    "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "pid"}},
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "amount", "min_value": 0, "max_value": {"$PARAMETER": "amount_max"}},
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "score", "min_value": 0, "max_value": 1},
            "meta": {"severity": "critical"},
        },
    ],
    "meta": {},
}
