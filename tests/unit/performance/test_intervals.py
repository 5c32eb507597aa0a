"""Confidence intervals: Wilson values by hand, bootstrap reproducibility, and coverage on simulated windows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from watchkeeper.exceptions import ConfigError
from watchkeeper.performance.intervals import (
    bootstrap_weights,
    confidence_intervals,
    percentile_interval,
    prepared_intervals,
    wilson_interval,
)
from watchkeeper.performance.metrics import compute_prepared, get_metric, prepare

BINARY = "binary_classification"


def test_wilson_by_hand():
    # 7 of 10 at 95 %: centre (0.7 + z^2/20) / (1 + z^2/10), half-width z sqrt(0.021 + z^2/400) / (1 + z^2/10)
    z = stats.norm.ppf(0.975)
    centre = (0.7 + z * z / 20) / (1 + z * z / 10)
    half = z * np.sqrt(0.7 * 0.3 / 10 + z * z / 400) / (1 + z * z / 10)
    low, high = wilson_interval(7, 10)
    assert (low, high) == pytest.approx((centre - half, centre + half), rel=1e-12)
    assert (low, high) == pytest.approx((0.39678, 0.89221), abs=1e-5)
    assert wilson_interval(0, 20)[0] == 0.0
    assert wilson_interval(20, 20)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) == (None, None)


def test_proportions_get_wilson_on_their_own_denominator():
    y_true = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    y_pred = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
    intervals = confidence_intervals(BINARY, y_true, y_pred, metrics=["accuracy", "precision", "recall"], level=0.9)
    assert intervals["accuracy"] == wilson_interval(7, 10, 0.9)
    assert intervals["precision"] == wilson_interval(2, 3, 0.9)  # over the 3 predicted positives
    assert intervals["recall"] == wilson_interval(2, 4, 0.9)  # over the 4 actual positives


def test_bootstrap_is_seeded_and_brackets_the_value():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 2, 300)
    s = np.clip(0.3 * t + 0.7 * rng.random(300), 0, 1)
    p = (s > 0.5).astype(int)
    first = confidence_intervals(BINARY, t, p, s, metrics=["roc_auc", "f1", "log_loss"], seed=7)
    assert first == confidence_intervals(BINARY, t, p, s, metrics=["roc_auc", "f1", "log_loss"], seed=7)
    assert first != confidence_intervals(BINARY, t, p, s, metrics=["roc_auc", "f1", "log_loss"], seed=8)
    data = prepare(BINARY, t, p, s)
    values = compute_prepared(data, [get_metric(BINARY, n) for n in ("roc_auc", "f1", "log_loss")])
    for name, (low, high) in first.items():
        assert low < values[name].value < high, name


def test_bootstrap_weights_are_resample_counts_drawn_in_chunks(monkeypatch):
    monkeypatch.setattr("watchkeeper.performance.intervals._CHUNK_CELLS", 50)
    chunks = list(bootstrap_weights(20, 7, seed=1))
    assert [c.shape for c in chunks] == [(2, 20)] * 3 + [(1, 20)]
    assert all((c.sum(axis=1) == 20).all() for c in chunks)


def test_undefined_values_get_no_interval():
    intervals = confidence_intervals(BINARY, [1, 1, 1], [1, 0, 1], [0.9, 0.2, 0.8], metrics=["roc_auc", "precision"])
    assert intervals["roc_auc"] == (None, None)
    assert intervals["precision"] == wilson_interval(2, 2)


def test_percentile_interval_needs_half_the_resamples_defined():
    assert percentile_interval(np.array([np.nan, np.nan, 0.5]), 0.95) == (None, None)
    assert percentile_interval(np.array([0.0, 1.0, np.nan]), 0.5) == (0.25, 0.75)


def test_bad_level_and_n_boot():
    with pytest.raises(ConfigError, match=r"^confidence level 1\.5 is outside \[0\.5, 1\) -- use e\.g\. 0\.95$"):
        confidence_intervals(BINARY, [1, 0], [1, 0], level=1.5)
    with pytest.raises(ConfigError, match=r"^n_boot=0 -- use at least 1 resample \(default 200\)$"):
        confidence_intervals(BINARY, [1, 0], [1, 0], [0.2, 0.4], metrics=["roc_auc"], n_boot=0)


def _coverage(true_value, make_window, metric, windows=300):
    """Share of simulated windows whose 95 % interval contains the true value."""
    rng = np.random.default_rng(12345)
    hits = 0
    for i in range(windows):
        data = prepare(BINARY, *make_window(rng))
        m = get_metric(BINARY, metric)
        values = compute_prepared(data, [m])
        low, high = prepared_intervals(data, [m], values, level=0.95, n_boot=200, seed=i)[metric]
        hits += low is not None and low <= true_value <= high
    return hits / windows


def test_wilson_coverage_for_accuracy_and_recall():
    def window(rng):
        n = 200
        t = (rng.random(n) < 0.3).astype(int)
        # recall 0.8 on positives, 10 % false positives on negatives: accuracy 0.3 * 0.8 + 0.7 * 0.9 = 0.87
        p = np.where(t == 1, rng.random(n) < 0.8, rng.random(n) < 0.1).astype(int)
        return t, p

    assert 0.90 <= _coverage(0.87, window, "accuracy") <= 0.99
    assert 0.90 <= _coverage(0.8, window, "recall") <= 0.99


def test_bootstrap_coverage_for_roc_auc():
    d = 1.2  # binormal scores: positives N(d, 1), negatives N(0, 1): AUC = Phi(d / sqrt(2))
    true_auc = float(stats.norm.cdf(d / np.sqrt(2)))

    def window(rng):
        n = 400
        t = (rng.random(n) < 0.3).astype(int)
        s = rng.normal(d * t, 1.0)
        return t, (s > 0.6).astype(int), s

    assert 0.90 <= _coverage(true_auc, window, "roc_auc") <= 0.99
