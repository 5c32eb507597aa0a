"""Estimation for every kind of model: the streaming binary accumulator agrees with the one-shot estimate,
multiclass CBPE and regression DLE are right on simulated data and follow a covariate shift, and every fitted
estimator round-trips through JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from watchkeeper.exceptions import BaselineError, DataError
from watchkeeper.performance import Calibrator, compute_metrics, estimate_performance
from watchkeeper.performance.estimation import BinaryAccumulator, auc_edges
from watchkeeper.performance.estimation_multiclass import (
    MulticlassAccumulator,
    MulticlassCalibrator,
    estimate_multiclass,
)
from watchkeeper.performance.estimation_regression import (
    MIN_REFERENCE_ROWS,
    Forest,
    LossModel,
    RegressionAccumulator,
    estimate_regression,
)

# --- binary: one pass over batches -------------------------------------------------------------------------


def _binary(rng: np.random.Generator, n: int, mu: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(mu, 1, n)
    s = 1 / (1 + np.exp(-(2 * x - 1)))
    return s, (rng.random(n) < s).astype(int)


def test_binary_accumulator_over_batches_equals_the_one_shot_estimate() -> None:
    rng = np.random.default_rng(0)
    ref_s, ref_y = _binary(rng, 20_000)
    calibrator = Calibrator.fit(ref_s, ref_y)
    s, _ = _binary(rng, 6000, mu=0.5)
    pred = (s >= 0.5).astype(int)
    exact = estimate_performance(calibrator, s, pred)
    one, two = BinaryAccumulator(calibrator, auc_edges(ref_s)), BinaryAccumulator(calibrator, auc_edges(ref_s))
    for part in np.array_split(np.arange(s.size), 3):
        one.update(s[part], pred[part])
    two.update(s[:1000], pred[:1000])
    rest = BinaryAccumulator(calibrator, auc_edges(ref_s))
    rest.update(s[1000:], pred[1000:])
    two.merge(rest)
    for acc in (one, two):
        got = acc.estimates()
        for name in ("estimated_accuracy", "estimated_precision", "estimated_recall", "estimated_f1"):
            assert got[name] == pytest.approx(exact[name], rel=1e-9), name
        assert got["estimated_roc_auc"] == pytest.approx(exact["estimated_roc_auc"], abs=1e-3)


# --- multiclass -------------------------------------------------------------------------------------------

CLASSES = ["cat", "dog", "fox"]


def _multiclass(rng: np.random.Generator, n: int, shift: float = 0.0, temp: float = 1.0) -> tuple[np.ndarray, ...]:
    """A calibrated 3-class model (labels drawn from its probabilities) over a latent x; ``shift`` moves x
    (covariate shift); ``temp`` != 1 makes the scores over/under-confident (the model reports softmax(z))."""
    x = rng.normal(shift, 1.0, (n, 2))
    z = np.column_stack([1.5 * x[:, 0], 1.5 * x[:, 1], 0.5 * np.ones(n)])
    truth_p = softmax(z / temp, axis=1)
    labels = np.array([rng.choice(3, p=p) for p in truth_p])
    return softmax(z, axis=1), np.array(CLASSES, dtype=object)[labels]


def _realised(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    pred = np.array(CLASSES, dtype=object)[probs.argmax(axis=1)]
    values = compute_metrics("multiclass_classification", labels, pred, metrics=["accuracy", "macro_f1"])
    return {f"estimated_{k}": float(v.value) for k, v in values.items()}  # type: ignore[arg-type]


def test_multiclass_estimates_match_realised_and_follow_a_covariate_shift() -> None:
    rng = np.random.default_rng(1)
    calibrator = MulticlassCalibrator.fit(*_multiclass(rng, 20_000), CLASSES)
    for shift in (0.0, 1.0, -1.5):
        probs, labels = _multiclass(rng, 5000, shift=shift)
        pred = np.array(CLASSES, dtype=object)[probs.argmax(axis=1)]
        estimated, realised = estimate_multiclass(calibrator, probs, pred), _realised(probs, labels)
        for name in ("estimated_accuracy", "estimated_macro_f1"):
            assert estimated[name] == pytest.approx(realised[name], abs=0.02), (shift, name)


def test_multiclass_calibration_corrects_overconfident_scores() -> None:
    rng = np.random.default_rng(2)
    ref = _multiclass(rng, 20_000, temp=2.0)  # true probabilities flatter than the scores
    calibrator = MulticlassCalibrator.fit(*ref, CLASSES)
    probs, labels = _multiclass(rng, 5000, temp=2.0)
    raw_accuracy = float(probs.max(axis=1).mean())  # what uncalibrated confidence would claim
    estimated = estimate_multiclass(calibrator, probs)["estimated_accuracy"]
    realised = _realised(probs, labels)["estimated_accuracy"]
    assert abs(raw_accuracy - realised) > 0.08
    assert estimated == pytest.approx(realised, abs=0.02)


def test_multiclass_batches_merge_and_bad_probabilities_are_reported() -> None:
    rng = np.random.default_rng(3)
    calibrator = MulticlassCalibrator.fit(*_multiclass(rng, 5000), CLASSES)
    probs, _ = _multiclass(rng, 3000)
    whole = estimate_multiclass(calibrator, probs)
    a, b = MulticlassAccumulator(calibrator), MulticlassAccumulator(calibrator)
    a.update(probs[:1200])
    b.update(probs[1200:])
    a.merge(b)
    assert a.estimates() == pytest.approx(whole)
    bad = probs[:10].copy()
    bad[0] = [0.7, 0.7, 0.7]  # does not sum to 1
    bad[1] = [1.4, -0.2, -0.2]  # outside [0, 1]
    bad[2, 1] = np.nan  # a class without a probability
    acc = MulticlassAccumulator(calibrator)
    acc.update(bad)
    assert acc.n == 9
    assert acc.notes() == [
        "1 row(s) without a probability for every class were left out",
        "1 row(s) have a probability outside [0, 1] (clipped)",
        "1 row(s) have probabilities that do not sum to 1 (beyond 0.02)",
    ]


def test_multiclass_reference_problems_are_clear() -> None:
    rng = np.random.default_rng(4)
    probs, labels = _multiclass(rng, 2000)
    with pytest.raises(DataError, match=r"class\(es\) \['eel'\] never occur among the 2000 labelled reference rows"):
        MulticlassCalibrator.fit(np.column_stack([probs, np.zeros(2000)]), labels, [*CLASSES, "eel"])
    labels = labels.copy()
    labels[:5] = "owl"
    fitted = MulticlassCalibrator.fit(probs, labels, CLASSES)
    assert fitted.notes == (
        "reference labels ['owl'] have no probability column in predictions.scores: their rows count as a "
        "negative of every listed class",
    )
    again = MulticlassCalibrator.from_dict(json.loads(json.dumps(fitted.to_dict())))
    assert np.allclose(again.predict(probs[:50]), fitted.predict(probs[:50]))
    with pytest.raises(BaselineError, match="rebuild the baseline"):
        MulticlassCalibrator.from_dict({"classes": ["a"]})


# --- regression -------------------------------------------------------------------------------------------


def _regression(rng: np.random.Generator, n: int, mu: float = 0.0, north: float = 1 / 3) -> pd.DataFrame:
    """y = 2x + noise whose scale grows with |x| and is larger for region 'north': the model predicts 2x."""
    x = rng.normal(mu, 1.0, n)
    region = rng.choice(["north", "south", "east"], n, p=[north, (1 - north) / 2, (1 - north) / 2])
    scale = (0.5 + np.abs(x)) * np.where(region == "north", 2.0, 1.0)
    return pd.DataFrame({"x": x, "region": region, "yhat": 2 * x, "y": 2 * x + rng.normal(0, 1, n) * scale})


FEATURES = {"x": "numerical", "region": "categorical"}


def test_forest_evaluates_exactly_like_scikit_learn() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(5)
    x = rng.normal(size=(3000, 4))
    y = np.abs(x[:, 0] * x[:, 1]) + rng.normal(size=3000)
    x[rng.random(x.shape) < 0.1] = np.nan  # missing values take the learned side
    model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(x, y)
    forest = Forest.from_dict(json.loads(json.dumps(Forest.from_sklearn(model).to_dict())))
    test = rng.normal(size=(2000, 4))
    test[rng.random(test.shape) < 0.2] = np.nan
    assert np.allclose(forest.predict(test), model.predict(test), rtol=0, atol=1e-12)


def _true_errors(df: pd.DataFrame) -> tuple[float, float]:
    e = df["y"] - df["yhat"]
    return float(np.abs(e).mean()), float(np.sqrt((e**2).mean()))


def test_loss_model_estimates_mae_and_rmse_and_follows_a_covariate_shift() -> None:
    rng = np.random.default_rng(6)
    model = LossModel.fit(_regression(rng, 20_000), features=FEATURES, prediction="yhat", label="y")
    assert model.reference["mae"] == pytest.approx(_true_errors(_regression(np.random.default_rng(6), 20_000))[0])
    for mu in (0.0, 1.0, -1.0):  # far outside the reference (mu = -2) the trees extrapolate flat: ~6 % low
        window = _regression(rng, 5000, mu=mu)
        mae, rmse = _true_errors(window)
        estimated = estimate_regression(model, window.drop(columns="y"))
        assert estimated["estimated_mae"] == pytest.approx(mae, rel=0.06), mu
        assert estimated["estimated_rmse"] == pytest.approx(rmse, rel=0.08), mu
    # a window whose rows moved to the noisy region: the estimate rises with the realised error
    north = _regression(rng, 5000, north=0.9)
    estimated = estimate_regression(model, north.drop(columns="y"))["estimated_mae"]
    assert _true_errors(north)[0] > 1.3 * model.reference["mae"]
    assert estimated == pytest.approx(_true_errors(north)[0], rel=0.06)


def test_loss_model_batches_json_and_bad_reference() -> None:
    rng = np.random.default_rng(7)
    model = LossModel.fit(_regression(rng, 3000), features=FEATURES, prediction="yhat", label="y")
    again = LossModel.from_dict(json.loads(json.dumps(model.to_dict())))
    window = _regression(rng, 1000).drop(columns="y")
    window.loc[:9, "yhat"] = np.nan  # no prediction: not estimated
    window.loc[10:19, "region"] = "unseen"  # unseen category: a missing value, still estimated
    whole = estimate_regression(again, window)
    acc, other = RegressionAccumulator(model), RegressionAccumulator(model)
    acc.update(window.iloc[:400])
    other.update(window.iloc[400:])
    acc.merge(other)
    assert acc.n == 990
    assert acc.estimates() == pytest.approx(whole)
    small = _regression(rng, MIN_REFERENCE_ROWS - 1)
    with pytest.raises(DataError, match=r"only 199 reference rows have a numeric label and prediction; the loss"):
        LossModel.fit(small, features=FEATURES, prediction="yhat", label="y")
    with pytest.raises(BaselineError, match="stored loss model is incomplete"):
        LossModel.from_dict({"columns": ["x"]})
