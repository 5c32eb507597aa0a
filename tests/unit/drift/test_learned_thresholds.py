"""Drift thresholds learned from the reference (``drift.threshold_mode: learned``) on synthetic data.

The reference is 100,000 rows over 20 days (daily windows of 5,000 rows); ``x``, ``y`` ~ N(0, 1), ``c`` one of
three categories. A shift of 0.2 sigma in ``x`` gives PSI ~0.035: under the fixed 0.1, above the learned band.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from watchkeeper.baseline import baseline_is_stale, build_baseline
from watchkeeper.detection.bands import Band
from watchkeeper.results import Status

from .learned_support import WINDOW_ROWS, fixed_of, frame, judge, write_model

REFERENCE_ROWS = 100_000
SEEDS = 20


def _reference(seed: int):  # type: ignore[no-untyped-def]
    return frame(REFERENCE_ROWS, "2026-01-01", np.random.default_rng(seed), days=20)


def test_learned_band_flags_a_small_shift_the_fixed_psi_misses(tmp_path: Path) -> None:
    config = write_model(tmp_path, _reference(0))
    baseline = build_baseline(config)
    assert baseline["learned"]["chunks"] == 20 and baseline["learned"]["chunk_rows"] == WINDOW_ROWS
    assert set(baseline["learned_bands"]) == {"x", "y", "c"}
    band = Band.from_dict(baseline["learned_bands"]["x"])
    assert band.floor == pytest.approx(0.01) and band.n_chunks == 20
    assert not baseline_is_stale(config, baseline)
    window = frame(WINDOW_ROWS, "2026-02-01", np.random.default_rng(7), shift=0.2)
    learned = judge(config, baseline, window)
    x = learned["x"]
    assert x.status is Status.WARNING and x.metric == "psi"
    assert 0.01 < x.value < 0.1
    assert x.details["band"] == band.to_dict() and x.details["threshold_mode"] == "learned"
    assert band.describe() in x.message
    assert learned["y"].status is Status.OK and "within the band" in learned["y"].message
    fixed = judge(fixed_of(config), baseline, window)
    assert fixed["x"].status is Status.OK and fixed["x"].value == pytest.approx(x.value)
    assert "band" not in fixed["x"].details


def test_a_large_shift_is_critical_at_the_fixed_critical_level(tmp_path: Path) -> None:
    config = write_model(tmp_path, _reference(1))
    baseline = build_baseline(config)
    result = judge(config, baseline, frame(WINDOW_ROWS, "2026-02-01", np.random.default_rng(3), shift=1.0))["x"]
    assert result.status is Status.CRITICAL and result.value >= 0.25 and result.threshold == 0.25


def test_stationary_windows_stay_silent_and_the_shift_is_caught_over_many_seeds(tmp_path: Path) -> None:
    """Each seed: a fresh reference, 3 stationary windows (9 feature cells) and one shifted window."""
    alarms = cells = caught = fixed_caught = 0
    for seed in range(SEEDS):
        config = write_model(tmp_path / str(seed), _reference(seed))
        baseline = build_baseline(config)
        rng = np.random.default_rng(1000 + seed)
        for _ in range(3):
            results = judge(config, baseline, frame(WINDOW_ROWS, "2026-02-01", rng))
            alarms += sum(r.status.is_finding for r in results.values())
            cells += len(results)
        shifted = judge(config, baseline, frame(WINDOW_ROWS, "2026-02-01", rng, shift=0.2))["x"]
        caught += shifted.status.is_finding
        fixed_caught += shifted.value >= 0.1
    assert cells == SEEDS * 9
    assert alarms / cells <= 0.03, f"{alarms} false alarms in {cells} stationary cells"
    assert caught >= SEEDS - 1, f"0.2 sigma shift caught in {caught} of {SEEDS}"
    assert fixed_caught == 0


def test_too_few_reference_chunks_fall_back_to_the_fixed_threshold_and_say_so(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    config = write_model(tmp_path, frame(1500, "2026-01-01", rng, days=3))  # chunks of 75 rows < min_sample 100
    baseline = build_baseline(config)
    assert baseline["learned_bands"] == {} and baseline["learned"]["n_chunks"]["x"] == 0
    result = judge(config, baseline, frame(2000, "2026-02-01", rng, shift=1.0))["x"]
    assert result.status.is_finding  # judged on the fixed threshold
    assert "fixed threshold: reference has 0 chunks < 8" in result.message
    assert result.details["threshold_mode"] == "fixed" and "band" not in result.details


def test_min_chunks_above_the_chunk_count_falls_back(tmp_path: Path) -> None:
    config = write_model(tmp_path, _reference(2), learned={"min_chunks": 30})
    baseline = build_baseline(config)
    result = judge(config, baseline, frame(WINDOW_ROWS, "2026-02-01", np.random.default_rng(4)))["y"]
    assert result.status is Status.OK
    assert result.details["band_note"] == "fixed threshold: reference has 20 chunks < 30"
    assert result.message.endswith("[fixed threshold: reference has 20 chunks < 30]")


def test_a_baseline_without_bands_is_stale_in_learned_mode_and_fixed_mode_is_unchanged(tmp_path: Path) -> None:
    config = write_model(tmp_path, _reference(3))
    fixed = fixed_of(config)
    plain = build_baseline(fixed)
    assert "learned_bands" not in plain and "learned" not in plain
    assert not baseline_is_stale(fixed, plain)
    learned = write_model(tmp_path, _reference(3))
    assert baseline_is_stale(learned, plain)
    results = judge(learned, plain, frame(WINDOW_ROWS, "2026-02-01", np.random.default_rng(1)))
    assert "rebuild it" in results["x"].details["band_note"]
    retuned = fixed_of(learned, lambda d: d["drift"].update({"threshold_mode": "learned", "learned": {"k": 4.0}}))
    assert baseline_is_stale(retuned, build_baseline(learned))
