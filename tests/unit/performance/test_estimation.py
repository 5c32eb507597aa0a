"""CBPE-like estimation: right on calibrated data, tracks covariate shift, round-trips through JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from watchkeeper.exceptions import BaselineError, DataError
from watchkeeper.performance.estimation import ESTIMATED_METRICS, Calibrator, estimate_performance
from watchkeeper.performance.metrics import compute_metrics

BINARY = "binary_classification"


def _calibrated(rng, n, a=0.6, b=1.2):
    """Scores from Beta(a, b) and labels drawn with exactly that probability: a calibrated model."""
    s = rng.beta(a, b, n)
    return s, (rng.random(n) < s).astype(int)


def _realised(s, y, threshold=0.5):
    p = (s >= threshold).astype(int)
    values = compute_metrics(BINARY, y, p, s, metrics=["accuracy", "precision", "recall", "f1", "roc_auc"])
    return {f"estimated_{k}": v.value for k, v in values.items()}


def test_estimates_match_realised_metrics_on_calibrated_data():
    rng = np.random.default_rng(0)
    calibrator = Calibrator.fit(*_calibrated(rng, 20_000))
    assert calibrator.method == "isotonic"
    s, y = _calibrated(rng, 5000)
    estimated = estimate_performance(calibrator, s)
    realised = _realised(s, y)
    assert set(estimated) == set(ESTIMATED_METRICS)
    for name in ESTIMATED_METRICS:
        assert estimated[name] == pytest.approx(realised[name], abs=0.025), name


def test_estimate_tracks_a_covariate_shift():
    rng = np.random.default_rng(1)
    calibrator = Calibrator.fit(*_calibrated(rng, 20_000))
    s_ref, y_ref = _calibrated(rng, 5000)
    s_new, y_new = _calibrated(rng, 5000, a=5, b=5)  # scores bunch up around 0.5: harder rows, calibration holds
    before, after = estimate_performance(calibrator, s_ref), estimate_performance(calibrator, s_new)
    real_before, real_after = _realised(s_ref, y_ref), _realised(s_new, y_new)
    assert real_before["estimated_accuracy"] - real_after["estimated_accuracy"] > 0.1  # a real drop
    for name in ("estimated_accuracy", "estimated_roc_auc"):
        real_drop = real_before[name] - real_after[name]
        assert before[name] - after[name] == pytest.approx(real_drop, abs=0.03), name
        assert after[name] == pytest.approx(real_after[name], abs=0.025), name


def test_expected_confusion_matrix_by_hand():
    # identity calibration on [0, 1]: c = score
    calibrator = Calibrator("isotonic", x=(0.0, 1.0), y=(0.0, 1.0))
    scores = [0.9, 0.6, 0.3, 0.2]
    estimated = estimate_performance(calibrator, scores, ["1", "1", "0", "0"])
    tp, fp, fn, tn = 1.5, 0.5, 0.5, 1.5
    assert estimated["estimated_accuracy"] == pytest.approx((tp + tn) / 4)
    assert estimated["estimated_precision"] == pytest.approx(tp / (tp + fp))
    assert estimated["estimated_recall"] == pytest.approx(tp / (tp + fn))
    assert estimated["estimated_f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    # soft-label AUC: pairs (i as positive with weight c_i, j as negative with weight 1 - c_j), s_i > s_j, ties 1/2
    c = np.array(scores)
    num = sum(
        c[i] * (1 - c[j]) * ((scores[i] > scores[j]) + 0.5 * (scores[i] == scores[j]))
        for i in range(4)
        for j in range(4)
    )
    assert estimated["estimated_roc_auc"] == pytest.approx(num / (c.sum() * (1 - c).sum()))


def test_threshold_is_used_without_predictions_and_undefined_estimates_are_none():
    calibrator = Calibrator("isotonic", x=(0.0, 1.0), y=(0.0, 1.0))
    estimated = estimate_performance(calibrator, [0.1, 0.2, np.nan], threshold=0.5)
    assert estimated["estimated_precision"] is None  # nothing predicted positive
    assert estimated["estimated_accuracy"] == pytest.approx((0.9 + 0.8) / 2)
    assert estimate_performance(calibrator, []) == dict.fromkeys(ESTIMATED_METRICS)


def test_isotonic_prediction_equals_sklearn():
    rng = np.random.default_rng(2)
    s, y = _calibrated(rng, 3000)
    calibrator = Calibrator.fit(s, y)
    reference = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(s, y)
    grid = np.linspace(-0.1, 1.1, 500)
    np.testing.assert_allclose(calibrator.predict(grid), reference.predict(grid), rtol=0, atol=1e-12)


def test_small_reference_falls_back_to_platt():
    rng = np.random.default_rng(3)
    s = rng.beta(1, 1, 400)
    truth = expit(2.0 * logit(s))  # an over-confident-looking score: the true probability is steeper
    y = (rng.random(400) < truth).astype(int)
    calibrator = Calibrator.fit(s, y)
    assert calibrator.method == "platt"
    assert calibrator.feature == "logit"
    assert calibrator.coef == pytest.approx(2.0, abs=0.5)
    grid = np.array([0.2, 0.5, 0.8])
    np.testing.assert_allclose(calibrator.predict(grid), expit(2.0 * logit(grid)), atol=0.08)
    assert Calibrator.fit(s * 10 - 5, y, min_isotonic=1000).feature == "raw"  # margins, not probabilities


@pytest.mark.parametrize("size", [400, 5000])
def test_json_round_trip(size):
    rng = np.random.default_rng(4)
    calibrator = Calibrator.fit(*_calibrated(rng, size))
    restored = Calibrator.from_dict(json.loads(json.dumps(calibrator.to_dict())))
    assert restored == calibrator
    grid = np.linspace(0, 1, 101)
    np.testing.assert_array_equal(restored.predict(grid), calibrator.predict(grid))


def test_labels_are_normalised_and_unusable_rows_ignored():
    calibrator = Calibrator.fit([0.1, 0.9, 0.2, 0.8, np.nan, 0.5], [False, True, "0", 1.0, 1, None], min_isotonic=1)
    assert calibrator.method == "isotonic"
    assert calibrator.n == 4
    assert calibrator.positive_rate == 0.5


def test_errors():
    with pytest.raises(
        DataError,
        match=r"^cannot calibrate on 3 reference rows with 0 positives -- the reference "
        r"needs scores and labels of both classes$",
    ):
        Calibrator.fit([0.1, 0.2, 0.3], [0, 0, 0])
    with pytest.raises(DataError, match=r"^reference scores have 2 rows but labels 3 -- pass aligned arrays$"):
        Calibrator.fit([0.1, 0.2], [0, 1, 1])
    with pytest.raises(
        BaselineError,
        match=r"^stored calibrator has method 'spline'; expected 'isotonic' or "
        r"'platt' -- rebuild the baseline$",
    ):
        Calibrator.from_dict({"method": "spline"})
    with pytest.raises(BaselineError, match=r"^stored platt calibrator lacks \['feature'\] -- rebuild the baseline$"):
        Calibrator.from_dict({"method": "platt", "coef": 1.0, "intercept": 0.0})
