"""On the demo model: the streamed scan gives exactly what reading the whole log and filtering gives."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from watchkeeper.config import load_config
from watchkeeper.demo.generate import default_out_dir, generate
from watchkeeper.results import Window
from watchkeeper.sources import read_window

from .helpers import corrupt, oracle, scan_all

DEMO = Path(__file__).resolve().parents[3] / "dags" / "models" / "demo_fraud.yaml"


@pytest.mark.parametrize("day", [date(2026, 10, 2), date(2026, 10, 5)])
def test_demo_window_scan_equals_whole_log_filtered(day: date) -> None:
    data = generate(default_out_dir(), days=6, rows_per_day=300, reference_rows=300)
    everything = [pd.read_parquet(p) for p in data.prediction_paths]
    for other in data.prediction_paths:
        if day.isoformat() not in other.name:
            corrupt(other)  # the run must not open them
    cfg = load_config(DEMO)
    window = Window.parse(day.isoformat(), (day + timedelta(days=1)).isoformat())
    expected = oracle(everything, window)
    frame = read_window(cfg, window)
    pd.testing.assert_frame_equal(frame.df, expected)
    got, scan, batches = scan_all(cfg, window, batch_rows=128)
    assert batches == 3 and [Path(f).name for f in scan.files_read] == [f"date={day.isoformat()}.parquet"]
    pd.testing.assert_frame_equal(got, expected[cfg.model.predictions.columns()])
