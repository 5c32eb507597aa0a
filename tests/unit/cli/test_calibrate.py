"""``watchkeeper calibrate``: the drift checks run on the reference's own chunks, fixed vs learned."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from watchkeeper.cli import main

#: Mean of ``x`` in each daily segment of the reference: a reference that is itself not stationary.
SEGMENT_MEANS = (0.0, 0.6, -0.6, 0.3)


def _day(rng: np.random.Generator, day: int, mean: float, n: int = 5000) -> pd.DataFrame:
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day)
    return pd.DataFrame(
        {
            "ts": ts + pd.to_timedelta(np.linspace(0, 86399, n), unit="s"),
            "pid": [f"{day}-{i}" for i in range(n)],
            "x": rng.normal(mean, 1.0, n),
            "y": rng.normal(0.0, 1.0, n),
            "pred": rng.normal(0.0, 1.0, n),
        }
    )


def _model(root: Path, reference: pd.DataFrame, mode: str = "fixed") -> Path:
    (root / "models").mkdir(parents=True)
    reference.to_parquet(root / "reference.parquet")
    config = {
        "name": "seg",
        "owner": "team",
        "task": "regression",
        "predictions": {
            "source": {"kind": "parquet", "path": "../log/*.parquet"},
            "timestamp": "ts",
            "id": "pid",
            "features": {"x": "numerical", "y": "numerical"},
            "prediction": "pred",
        },
        "reference": {"source": {"kind": "parquet", "path": "../reference.parquet"}},
        "drift": {"threshold_mode": mode},
    }
    (root / "models" / "seg.yaml").write_text(yaml.safe_dump(config))
    return root / "models"


def _row(out: str, feature: str) -> tuple[int, int, int, int]:
    match = re.search(rf"^{feature}\s+psi\s+(\d+)/(\d+) \(\d+%\)\s+(\d+)/(\d+) ", out, re.MULTILINE)
    assert match, out
    fixed, n, learned, m = (int(g) for g in match.groups())
    assert n == m
    return fixed, learned, n, m


def test_segmented_reference_fires_on_itself_under_fixed_thresholds_not_learned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    reference = pd.concat([_day(rng, d, SEGMENT_MEANS[d % 4]) for d in range(24)], ignore_index=True)
    folder = _model(tmp_path, reference)
    assert main(["calibrate", "seg", "--config-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "24 chunks (~5000 rows each" in out and "mode in config: fixed" in out
    fixed, learned, n, _ = _row(out, "x")
    # the +/-0.6 sigma days (half of them) reach PSI 0.1 against the mixed reference; the band spans them
    assert n == 24 and fixed == 12 and learned == 0
    y_fixed, y_learned, _, _ = _row(out, "y")
    assert y_fixed == 0 and y_learned <= 1
    assert "the reference fires on itself" in out and "(> 20% of its own chunks): x --" in out


def test_stationary_reference_is_not_called_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    folder = _model(tmp_path, pd.concat([_day(rng, d, 0.0) for d in range(20)], ignore_index=True), "learned")
    assert main(["calibrate", "seg", "--config-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert _row(out, "x")[0] == 0 and "no feature fires on more than 20%" in out and "mode in config: learned" in out


def test_small_reference_reports_the_fallback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(2)
    folder = _model(tmp_path, _day(rng, 0, 0.0, n=1500))
    assert main(["calibrate", "seg", "--config-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "no band: reference has 0 chunks < 8" in out


def test_baseline_in_learned_mode_calls_out_a_reference_that_fires_on_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHKEEPER_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(0)
    reference = pd.concat([_day(rng, d, SEGMENT_MEANS[d % 4]) for d in range(24)], ignore_index=True)
    folder = _model(tmp_path, reference, "learned")
    assert main(["baseline", "seg", "--config-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "learned drift bands for 2 features from 24 reference chunks (~5000 rows each)" in out
    assert "the reference fires on itself: x reach" in out and "watchkeeper calibrate seg" in out
