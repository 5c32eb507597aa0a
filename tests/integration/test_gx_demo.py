"""The demo's GX results on its clean and faulty days: one validation of the window, and the window streamed
in small batches through the sources' single pass (GxRunner), give the same results."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.baseline import build_baseline
from watchkeeper.config import load_config
from watchkeeper.demo.generate import generate
from watchkeeper.gx_runner import GxRunner
from watchkeeper.gx_suite import gx_results
from watchkeeper.results import Status, Window
from watchkeeper.sources import read_reference, read_window, scan_window

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo_home")
    generate(home / "demo_data" / "demo_fraud")
    return home


@pytest.mark.parametrize("day", ["2026-10-05", "2026-10-28"])
def test_demo_days_same_results_in_batches_as_in_one_validation(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch, day: str
) -> None:
    monkeypatch.setenv("WATCHKEEPER_HOME", str(demo_home))
    monkeypatch.setenv("WATCHKEEPER_EXPECTATIONS_DIR", str(ROOT / "expectations"))
    config = load_config(ROOT / "dags" / "models" / "demo_fraud.yaml")
    window = Window.parse(day, f"{day[:8]}{int(day[8:]) + 1:02d}")
    baseline = build_baseline(config, read_reference(config))
    one = gx_results(config, read_window(config, window).df, baseline)
    # today's demo: every business rule of the suite holds on both days (faults are drift, not rule breaks)
    assert len(one) == 16 and all(r.status is Status.OK for r in one), [r.message for r in one if r.status != "ok"]

    runner = GxRunner(config, baseline, chunk_rows=450)
    assert runner.columns is not None  # the columns a pass must read for the suite
    scan = scan_window(config, window, columns=runner.columns, batch_rows=300)
    for batch in scan.batches():
        runner.add_batch(batch)
    runner.set_log_columns(scan.all_columns)
    streamed = runner.results()
    assert runner.n_chunks >= 4
    assert [(r.metric, r.subject, r.status, r.value, r.threshold, r.message) for r in streamed] == [
        (r.metric, r.subject, r.status, r.value, r.threshold, r.message) for r in one
    ]
