"""Change detectors: alarm soon after a known change and never before it; stationary noise rarely alarms."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from watchkeeper.exceptions import ConfigError, UnknownNameError
from watchkeeper.performance.detectors import (
    DEFAULT_WARMUP,
    Detector,
    available_detectors,
    detect,
    get_detector,
    register_detector,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "performance.md"
METHODS = ["cusum", "page_hinkley"]


def _accuracy_series(rng, windows, *, change_at=None, drop=0.02, rows=2000, level=0.94):
    p = np.full(windows, level)
    if change_at is not None:
        p[change_at:] -= drop
    return (rng.binomial(rows, p) / rows).tolist()


def test_registry():
    assert available_detectors() == METHODS
    with pytest.raises(UnknownNameError) as excinfo:
        get_detector("adwin")
    assert str(excinfo.value) == "No change detector named 'adwin'. Available detectors: cusum, page_hinkley"


@pytest.mark.parametrize("method", METHODS)
def test_each_detector_is_documented(method):
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"^### `{method}`\n(.*?)(?=^##)", text, flags=re.S | re.M)
    assert match, f"docs/performance.md has no '### `{method}`' section"
    for param, default in get_detector(method).defaults.items():
        assert f"`{param}={default:g}`" in match.group(1)


def test_cusum_by_hand():
    # warm-up 0, 1, 0, 1 (mean 0.5, std 0.57735); then 0.5 -> z 0; then 5 times -0.5 -> z -1.732 (decrease: +1.732)
    series = [0.0, 1.0, 0.0, 1.0, 0.5] + [-0.5] * 5
    result = detect(series, method="cusum", warmup=4, k=0.5, h=3.0)
    # S: 0, 1.232, 2.464, 3.696 > 3 at the 4th low value (index 7)
    assert result.alarm
    assert result.index == 7
    assert result.statistic == pytest.approx(3 * (np.sqrt(3) - 0.5))
    assert result.threshold == 3.0
    assert result.message.startswith("cusum alarm at window 7: sustained decrease from the warm-up level 0.5")


def test_page_hinkley_by_hand():
    series = [0.0, 1.0, 0.0, 1.0, 5.0, 5.0]
    z = (np.array(series) - 0.5) / np.std(series[:4], ddof=1)
    running = np.cumsum(z) / np.arange(1, 7)
    m = np.cumsum(z - running - 0.1)
    expected = m - np.minimum.accumulate(m)
    result = detect(series, method="page_hinkley", direction="increase", warmup=4, delta=0.1, threshold=100)
    assert not result.alarm
    assert result.statistic == pytest.approx(expected[4:].max())
    assert result.message == f"no increase detected by page_hinkley (statistic at most {expected[4:].max():.3g} <= 100)"


@pytest.mark.parametrize("method", METHODS)
def test_alarm_soon_after_a_step_change_never_before(method):
    rng = np.random.default_rng(11)
    delays = []
    for _ in range(30):
        # a 2-point accuracy drop (about 3.5 noise std at 2,000 rows a window) at window 100
        result = detect(_accuracy_series(rng, 200, change_at=100), method=method)
        assert result.alarm
        assert result.index >= 100
        delays.append(result.index - 100)
    assert np.median(delays) <= 8
    assert max(delays) <= 20


@pytest.mark.parametrize("method", METHODS)
def test_stationary_noise_rarely_alarms(method):
    rng = np.random.default_rng(12)
    alarms = sum(detect(_accuracy_series(rng, 365), method=method).alarm for _ in range(100))
    assert alarms <= 15  # "no alarm in most runs": a year of daily windows


@pytest.mark.parametrize("method", METHODS)
def test_increase_direction_for_error_metrics(method):
    rng = np.random.default_rng(13)
    mae = (10 + rng.normal(0, 0.2, 150)).tolist()
    for i in range(80, 150):
        mae[i] += 1.0
    assert detect(mae, method=method, direction="increase").index >= 80
    assert not detect(mae, method=method, direction="decrease").alarm


def test_missing_windows_are_skipped_and_indexes_refer_to_the_input():
    series = [0.0, 1.0, 0.0, 1.0, None, 0.5, float("nan")] + [-0.5] * 5
    result = detect(series, method="cusum", warmup=4, k=0.5, h=3.0)
    assert result.index == 9  # the alarm of test_cusum_by_hand, shifted by the two missing windows
    assert result.details["n_used"] == 10


def test_known_mean_and_std():
    result = detect([0.9] * 5 + [0.8] * 5, method="cusum", warmup=5, mean=0.9, std=0.01)
    assert result.alarm and result.index == 5
    assert result.details["mean"] == 0.9 and result.details["std"] == 0.01


def test_constant_warmup_does_not_divide_by_zero():
    result = detect([0.95] * 30 + [0.949], method="page_hinkley")
    assert result.alarm and result.index == 30


def test_too_short_series():
    result = detect([0.9, 0.91, None], method="page_hinkley")
    assert not result.alarm and result.index is None and result.statistic is None
    assert result.message == f"not enough windows for page_hinkley: 2 usable, {DEFAULT_WARMUP + 1} needed"


def test_errors():
    with pytest.raises(ConfigError, match=r"^direction 'down' is not one of decrease, increase -- use 'decrease'"):
        detect([1.0] * 30, direction="down")
    with pytest.raises(
        ConfigError,
        match=r"^detector 'cusum' has no parameter\(s\) \['delta'\] -- its parameters "
        r"are k=1, h=8$",
    ):
        detect([1.0] * 30, method="cusum", delta=0.1)
    with pytest.raises(ConfigError, match=r"^warmup=1 is too short to estimate the noise"):
        detect([1.0] * 30, warmup=1)
    with pytest.raises(UnknownNameError, match=r"^No change detector named 'x'"):
        detect([1.0] * 30, method="x")


def test_registering_a_duplicate_name_fails():
    class Other(Detector):
        name = "cusum"
        defaults = {"h": 1.0}
        threshold_param = "h"

    with pytest.raises(ValueError, match=r"^a detector named 'cusum' is already registered \(Cusum\)$"):
        register_detector(Other)
