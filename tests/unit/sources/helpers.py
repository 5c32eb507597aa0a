"""Shared pieces of the source tests: a config over a source, an oracle for the window, log frames."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from watchkeeper.config import LoadedConfig, parse_config
from watchkeeper.results import Window
from watchkeeper.sources import WindowScan, scan_window, to_utc

DAY = Window(datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))
COLUMNS = ["ts", "id", "label", "score", "amount", "country"]


def config(tmp_path: Path, source: dict[str, Any], **predictions: Any) -> LoadedConfig:
    """A valid model config reading ``source`` (also as its reference), written to ``tmp_path/m.yaml``."""
    data = {
        "name": "m",
        "owner": "o",
        "task": "binary_classification",
        "predictions": {
            "source": source,
            "timestamp": "ts",
            "id": "id",
            "features": {"amount": "numerical", "country": "categorical"},
            "prediction": "label",
            "score": "score",
            **predictions,
        },
        "reference": {"source": source},
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data))
    return parse_config(path, path.read_text())


def rows(start: str | pd.Timestamp, hours: float, n: int, *, seed: int = 0, tz: str | None = "UTC") -> pd.DataFrame:
    """``n`` log rows evenly spread over ``hours`` from ``start`` (naive timestamps when ``tz`` is None)."""
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp(start, tz=tz) + pd.to_timedelta(np.linspace(0, hours * 3600 - 1, n), unit="s")
    ts = ts.floor("ms")  # what every backend stores (SQL keeps microseconds at best)
    return pd.DataFrame(
        {
            "ts": ts,
            "id": [f"{seed}-{i}" for i in range(n)],
            "label": rng.integers(0, 2, n),
            "score": rng.random(n),
            "amount": rng.lognormal(3.0, 0.5, n),
            "country": rng.choice(["FR", "DE", "US"], n),
            "extra": 1,
        }
    )


def oracle(frames: list[pd.DataFrame], window: Window, timezone: str = "UTC") -> pd.DataFrame:
    """What a window holds, computed the slow obvious way: every row, converted, filtered."""
    df = pd.concat(frames, ignore_index=True)
    ts, _, _ = to_utc(df["ts"], timezone)
    keep = ((ts >= pd.Timestamp(window.start)) & (ts < pd.Timestamp(window.end))).to_numpy()
    out = df.loc[keep].reset_index(drop=True)
    out["ts"] = ts[keep].reset_index(drop=True)
    return out


def scan_all(cfg: LoadedConfig, window: Window, **kwargs: Any) -> tuple[pd.DataFrame, WindowScan, int]:
    """Every batch of a scan concatenated, the scan, and the number of batches."""
    scan = scan_window(cfg, window, **kwargs)
    batches = list(scan.batches())
    if not batches:
        return pd.DataFrame(columns=scan.columns), scan, 0
    return pd.concat(batches, ignore_index=True), scan, len(batches)


def corrupt(path: Path) -> None:
    """Overwrite a file with bytes no reader accepts."""
    path.write_bytes(b"\x00\xffnot a parquet or csv file\xfe" * 64)
