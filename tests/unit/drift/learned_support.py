"""A synthetic model for the learned drift thresholds: a reference of daily chunks, windows of one day."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from watchkeeper.config import LoadedConfig, load_config
from watchkeeper.profile.families import drift_results
from watchkeeper.profile.window import ProfileSpec, WindowProfile
from watchkeeper.results import CheckResult

WINDOW_ROWS = 5000


def frame(n: int, start: str, rng: np.random.Generator, *, shift: float = 0.0, days: float = 1.0) -> pd.DataFrame:
    """``n`` rows over ``days`` from ``start``: ``x`` ~ N(shift, 1), ``y`` ~ N(0, 1), ``c`` in 3 categories."""
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.linspace(0, days * 86400 - 1, n), unit="s")
    return pd.DataFrame(
        {
            "ts": ts,
            "pid": np.arange(n).astype(str),
            "x": rng.normal(shift, 1.0, n),
            "y": rng.normal(0.0, 1.0, n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            "pred": rng.normal(0.0, 1.0, n),
        }
    )


def write_model(root: Path, reference: pd.DataFrame, *, mode: str = "learned", **drift: Any) -> LoadedConfig:
    """A model under ``root`` with ``reference`` as its reference data (daily windows)."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    reference.to_parquet(root / "reference.parquet")
    config = {
        "name": "synth",
        "owner": "team",
        "task": "regression",
        "predictions": {
            "source": {"kind": "parquet", "path": "../log/*.parquet"},
            "timestamp": "ts",
            "id": "pid",
            "features": {"x": "numerical", "y": "numerical", "c": "categorical"},
            "prediction": "pred",
        },
        "reference": {"source": {"kind": "parquet", "path": "../reference.parquet"}},
        "drift": {"threshold_mode": mode, **drift},
    }
    path = root / "models" / "synth.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_config(path)


def judge(config: LoadedConfig, baseline: dict[str, Any], window: pd.DataFrame) -> dict[str, CheckResult]:
    """The drift results of one window, by feature, computed from its profile like the monitor does."""
    profile = WindowProfile.empty(ProfileSpec.from_config(config, baseline, "h"))
    profile.add_batch(window)
    return {r.subject: r for r in drift_results(config, profile.finish())}


def fixed_of(config: LoadedConfig, edit: Callable[[dict[str, Any]], None] | None = None) -> LoadedConfig:
    """The same model in fixed threshold mode."""
    data = yaml.safe_load(config.path.read_text())
    data["drift"]["threshold_mode"] = "fixed"
    if edit is not None:
        edit(data)
    config.path.write_text(yaml.safe_dump(data))
    return load_config(config.path)
