"""Segment findings: a planted bad segment is found, noise rarely is (Holm keeps the family-wise rate),
and the correction demonstrably matters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from watchkeeper.exceptions import ConfigError, DataError
from watchkeeper.performance.segments import (
    MISSING_SEGMENT,
    holm_adjust,
    segment_findings,
    two_proportion_p_value,
)
from watchkeeper.results import Status

BINARY = "binary_classification"


def _binary_frame(rng, *, n=4000, segments=20, recall=0.75, bad=None, bad_recall=0.4):
    """Labelled rows with a ``seg`` column of ``segments`` values; segment ``bad`` has a lower recall."""
    seg = rng.integers(0, segments, n)
    t = (rng.random(n) < 0.4).astype(int)
    hit = np.where(seg == bad, bad_recall, recall) if bad is not None else np.full(n, recall)
    p = np.where(t == 1, rng.random(n) < hit, rng.random(n) < 0.1).astype(int)
    return pd.DataFrame({"seg": [f"s{v:02d}" for v in seg], "t": t, "p": p})


def _findings(df, **kwargs):
    return segment_findings(df, ["seg"], task=BINARY, y_true_col="t", y_pred_col="p", **kwargs)


def test_holm_by_hand():
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> raised to 0.06 (monotone)
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5, 0.9]) == [1.0, 1.0]
    assert holm_adjust([]) == []


def test_two_proportion_z_by_hand():
    # 40/100 vs 60/100: pooled 0.5, se = sqrt(0.25 * 0.02); continuity correction (1/100 + 1/100) / 2 = 0.01
    se = math.sqrt(0.25 * 0.02)
    assert two_proportion_p_value(40, 100, 60, 100, higher_is_better=True) == pytest.approx(stats.norm.cdf(-0.19 / se))
    assert two_proportion_p_value(40, 100, 60, 100, higher_is_better=False) == pytest.approx(stats.norm.sf(-0.21 / se))
    assert two_proportion_p_value(60, 100, 40, 100, higher_is_better=False) == pytest.approx(stats.norm.sf(0.19 / se))
    assert two_proportion_p_value(50, 50, 70, 70, higher_is_better=True) == 1.0


def test_planted_bad_segment_is_found():
    results = _findings(_binary_frame(np.random.default_rng(1), bad=7))
    assert len(results) == 20
    found = [r for r in results if r.is_finding]
    assert [r.value for r in found] == ["s07"]
    bad = found[0]
    assert bad.metric == "recall"
    assert bad.test == "two-proportion z"
    assert bad.n_effective == int(bad.n_effective)
    assert bad.metric_value < 0.5 < bad.overall
    assert bad.p_adjusted <= 0.05
    assert bad.message.startswith(
        f"recall for seg=s07 is {bad.metric_value:.2f} vs {bad.overall:.2f} overall (n={bad.n}), worse than the rest"
    )
    assert all(r.details["tests"] == 20 for r in results)


def test_noise_findings_are_rare_and_the_correction_matters():
    rng = np.random.default_rng(2)
    runs, any_corrected, any_uncorrected, flags_corrected, flags_uncorrected = 150, 0, 0, 0, 0
    for _ in range(runs):
        results = _findings(_binary_frame(rng))
        corrected = sum(r.is_finding for r in results)
        uncorrected = sum(r.p_value <= 0.05 for r in results)
        any_corrected += corrected > 0
        any_uncorrected += uncorrected > 0
        flags_corrected += corrected
        flags_uncorrected += uncorrected
    assert any_corrected / runs <= 0.09  # family-wise false-positive rate at most ~alpha
    assert any_uncorrected / runs >= 0.3  # 20 uncorrected one-sided tests: 1 - 0.95^20 ~ 0.64 if independent
    assert flags_uncorrected > 5 * max(flags_corrected, 1)


def test_a_moderate_effect_passes_alone_but_not_after_the_correction():
    # 20 segments of 100 actual positives (and 100 negatives): recall 0.75 everywhere but 0.64 in s04
    rows = []
    for i in range(20):
        hits = 64 if i == 4 else 75
        rows += [(f"s{i:02d}", 1, int(j < hits)) for j in range(100)] + [(f"s{i:02d}", 0, 0)] * 100
    df = pd.DataFrame(rows, columns=["seg", "t", "p"])
    results = _findings(df)
    bad = next(r for r in results if r.value == "s04")
    # 64/100 vs 1425/1900: pooled 1489/2000, z = (-0.11 + cc) / sqrt(p(1-p)(1/100 + 1/1900)) = -2.34
    pooled = 1489 / 2000
    cc = 0.5 * (1 / 100 + 1 / 1900)
    z = (0.64 - 0.75 + cc) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 1900))
    assert bad.p_value == pytest.approx(stats.norm.cdf(z))
    assert bad.p_value <= 0.05 < bad.p_adjusted == pytest.approx(20 * bad.p_value)
    assert not any(r.is_finding for r in results)


def test_small_segments_are_skipped_and_not_counted():
    df = _binary_frame(np.random.default_rng(4), n=2000, segments=4)
    df.loc[:9, "seg"] = "tiny"
    df.loc[10:14, "seg"] = None
    results = _findings(df, min_n=30)
    tiny = next(r for r in results if r.value == "tiny")
    missing = next(r for r in results if r.value == MISSING_SEGMENT)
    assert tiny.skipped and missing.skipped
    assert tiny.p_value is None and tiny.p_adjusted is None and not tiny.is_finding
    assert tiny.message == f"recall for seg=tiny not tested: only {tiny.n_effective} actual positives (< min_n 30)"
    assert all(r.details["tests"] == 4 for r in results)
    assert tiny.as_check_result().status is Status.SKIPPED


def test_permutation_test_for_a_mean_metric_finds_a_planted_segment():
    rng = np.random.default_rng(5)
    n = 1500
    seg = rng.choice(["north", "south", "east", "west"], n)
    truth = rng.normal(100, 10, n)
    pred = truth + rng.normal(0, np.where(seg == "east", 6.0, 3.0))
    df = pd.DataFrame({"region": seg, "y": truth, "yhat": pred})
    results = segment_findings(df, ["region"], task="regression", y_true_col="y", y_pred_col="yhat", seed=1)
    assert [r.value for r in results if r.is_finding] == ["east"]
    east = next(r for r in results if r.value == "east")
    assert east.test == "permutation"
    assert east.metric == "mae"
    assert east.details["worse_by"] == pytest.approx(east.metric_value - east.rest)
    # never beaten by a random split: p = 1 / (max_perm + 1), max_perm = max(1000, 4 x 4 tests / 0.05)
    assert east.details["exceedances"] == 0
    assert east.details["permutations"] == 1000
    assert east.p_value == pytest.approx(1 / 1001)
    # ordinary segments stop early, at the 10th permuted split at least as bad
    north = next(r for r in results if r.value == "north")
    assert north.details["exceedances"] == 10
    assert north.p_value == pytest.approx(10 / north.details["permutations"])


def test_permutation_noise_findings_are_rare_even_with_heavy_tailed_errors():
    rng = np.random.default_rng(6)
    p_values, windows_with_findings = [], 0
    for _ in range(60):
        n = 1000
        truth = rng.normal(0, 1, n)
        df = pd.DataFrame({"g": rng.integers(0, 10, n), "y": truth, "yhat": truth + rng.standard_t(4, n)})
        results = segment_findings(df, ["g"], task="regression", y_true_col="y", y_pred_col="yhat")
        p_values += [r.p_value for r in results]
        windows_with_findings += any(r.is_finding for r in results)
    assert 0.02 <= np.mean(np.array(p_values) <= 0.05) <= 0.09
    assert windows_with_findings <= 6


def test_several_columns_share_one_correction():
    df = _binary_frame(np.random.default_rng(7), bad=3)
    df["device"] = np.where(np.arange(len(df)) % 2 == 0, "ios", "android")
    results = segment_findings(df, ["seg", "device"], task=BINARY, y_true_col="t", y_pred_col="p")
    assert [r.column for r in results[-2:]] == ["device", "device"]
    assert all(r.details["tests"] == 22 for r in results)
    assert [r.subject for r in results if r.is_finding] == ["seg=s03"]


def test_as_check_result():
    result = next(r for r in _findings(_binary_frame(np.random.default_rng(1), bad=7)) if r.is_finding)
    row = result.as_check_result()
    assert row.key == ("performance", "segment_recall", "seg=s07")
    assert row.status is Status.WARNING
    assert row.value == result.metric_value
    assert row.details["p_adjusted"] == result.p_adjusted


def test_errors():
    df = _binary_frame(np.random.default_rng(8), n=100)
    with pytest.raises(DataError, match=r"^segment data has no column\(s\) \['country'\] -- available: seg, t, p$"):
        segment_findings(df, ["country"], task=BINARY, y_true_col="t", y_pred_col="p")
    with pytest.raises(
        ConfigError,
        match=r"^metric 'positive_rate' has no better direction, so no segment can be "
        r"worse -- compare segments on e\.g\. 'recall'$",
    ):
        _findings(df, metric="positive_rate")
    with pytest.raises(ConfigError, match=r"^metric 'roc_auc' needs scores -- pass y_score_col$"):
        _findings(df, metric="roc_auc")
    with pytest.raises(ConfigError, match=r"^alpha=1\.5 is outside \(0, 1\) -- use e\.g\. 0\.05$"):
        _findings(df, alpha=1.5)
