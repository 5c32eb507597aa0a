"""Estimated performance of every kind of model reaches the checks through the window profile: binary,
multiclass (per-class probabilities) and regression (direct loss estimation) give the same estimates as
scoring's one-shot estimate, batches merged equal one shot, a model that cannot be estimated gets one skipped
row with the reason, and profiles stored before estimator states load."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from support import TinyModel, make_rows
from watchkeeper.baseline import build_baseline
from watchkeeper.checks import run_checks
from watchkeeper.config import LoadedConfig
from watchkeeper.profile.codec import from_payload, to_payload
from watchkeeper.profile.families import estimated_results, prediction_results
from watchkeeper.profile.window import ProfileSpec, WindowProfile
from watchkeeper.results import CheckResult, Status, Window
from watchkeeper.scoring import estimated_results as raw_estimated_results
from watchkeeper.store import MetricStore

DAY = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
CLASSES = ["cat", "dog", "fox"]
LABELS = {"labels": {"source": {"kind": "parquet", "path": "../../x/*.parquet"}, "id": "pid", "label": "label"}}


@pytest.fixture
def store() -> MetricStore:
    s = MetricStore()
    s.migrate()
    return s


def _estimates(results: list[CheckResult]) -> dict[str, float | None]:
    return {r.metric: r.value for r in results if r.check == "prediction" and r.metric.startswith("estimated_")}


def _profile(config: LoadedConfig, baseline: dict[str, Any], parts: list[pd.DataFrame]) -> WindowProfile:
    profile = WindowProfile.empty(ProfileSpec.from_config(config, baseline, "h"))
    for part in parts:
        profile.add_batch(part)
    return profile


# --- fixtures: one model of each kind on the tiny model's files --------------------------------------------


def _multiclass_rows(df: pd.DataFrame, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Per-class probabilities from the features (calibrated: labels drawn from them), the argmax prediction."""
    rng = np.random.default_rng(seed)
    x1 = (np.log(df["amount"].to_numpy()) - 3.0) / 0.5 + shift
    x2 = (df["age"].to_numpy() - 50.0) / 29.0
    z = np.column_stack([1.5 * x1, 2.0 * x2, np.full(len(df), 0.3)])
    probs = np.exp(z - z.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    out = df.drop(columns=["score", "pred"]).copy()
    for i, c in enumerate(CLASSES):
        out[f"p_{c}"] = probs[:, i]
    out["pred"] = np.array(CLASSES, dtype=object)[probs.argmax(axis=1)]
    drawn = (rng.random(len(df))[:, None] > probs.cumsum(axis=1)).sum(axis=1)
    out["label"] = np.array(CLASSES, dtype=object)[np.minimum(drawn, 2)]
    return out


def _regression_rows(df: pd.DataFrame, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """A prediction whose error grows with age (so the loss model has something to learn)."""
    rng = np.random.default_rng(seed)
    out = df.drop(columns=["score", "pred"]).copy()
    out["age"] = np.clip(out["age"] + shift, 0, None)
    out["pred"] = 2.0 * out["amount"]
    out["label"] = out["pred"] + rng.normal(0, 1.0 + out["age"] / 10.0)
    return out


def _use(tiny: TinyModel, task: str, predictions: dict[str, Any], *, performance: bool = True) -> LoadedConfig:
    def change(d: dict[str, Any]) -> None:
        d["task"] = task
        d["predictions"].update(predictions)
        d["quality"].pop("suite", None)
        if performance:
            d["performance"] = LABELS

    config: LoadedConfig = tiny.edit(change)
    return config


@pytest.fixture
def multiclass(tiny: TinyModel) -> TinyModel:
    ref = _multiclass_rows(pd.read_parquet(tiny.root / "reference.parquet"), seed=1)
    ref.to_parquet(tiny.root / "reference.parquet")
    # the window: covariate shift (fewer 'cat' rows), so the estimate moves away from the reference
    tiny.write_log(_multiclass_rows(make_rows(3000, "2026-10-01", seed=2), seed=3, shift=-1.0).drop(columns="label"))
    _use(tiny, "multiclass_classification", {"score": None, "scores": {c: f"p_{c}" for c in CLASSES}})
    return tiny


@pytest.fixture
def regression(tiny: TinyModel) -> TinyModel:
    ref = _regression_rows(pd.read_parquet(tiny.root / "reference.parquet"), seed=1)
    ref.to_parquet(tiny.root / "reference.parquet")
    # the window: older rows, so larger errors are expected
    tiny.write_log(_regression_rows(make_rows(3000, "2026-10-01", seed=2), seed=3, shift=30.0).drop(columns="label"))
    _use(tiny, "regression", {"score": None})
    return tiny


@pytest.fixture
def binary(tiny: TinyModel) -> TinyModel:
    ref = pd.read_parquet(tiny.root / "reference.parquet")
    ref["label"] = (np.random.default_rng(1).random(len(ref)) < ref["score"]).astype("int64")
    ref.to_parquet(tiny.root / "reference.parquet")
    tiny.edit(lambda d: d.update(performance=LABELS))
    return tiny


# --- binary: the profile's estimate is scoring's, over batches and merges ----------------------------------


def test_binary_profile_estimates_equal_scoring_in_batches_and_merged(binary: TinyModel) -> None:
    config = binary.config()
    baseline = build_baseline(config)
    df = make_rows(3000, "2026-10-01", seed=9)
    df["score"] = np.clip(df["score"] * 1.5, 0, 1)
    raw = _estimates(raw_estimated_results(config, df, baseline))
    assert {"estimated_accuracy", "estimated_recall", "estimated_roc_auc"} <= set(raw)
    parts = [df.iloc[p] for p in np.array_split(np.arange(len(df)), 5)]
    batched = _profile(config, baseline, parts).finish()
    left, right = _profile(config, baseline, parts[:2]), _profile(config, baseline, parts[2:])
    left_before = _estimates(estimated_results(left, baseline))
    merged = left.merge(right).finish()
    for profile in (batched, merged):
        ours = _estimates(estimated_results(profile, baseline))
        assert ours == pytest.approx(raw, rel=1e-9, abs=1e-12)
    assert _estimates(estimated_results(left, baseline)) == left_before  # merge left its operand alone
    assert merged.estimation is not left.estimation and merged.estimation.n == len(df)  # type: ignore[union-attr]


def test_binary_estimator_columns_are_read(binary: TinyModel) -> None:
    config = binary.config()
    spec = ProfileSpec.from_config(config, build_baseline(config), "h")
    assert spec.estimator is not None and spec.estimator.kind == "binary"
    assert {"score", "pred"} <= set(spec.columns())


# --- multiclass and regression through run_checks ---------------------------------------------------------


def test_multiclass_model_gets_estimated_accuracy_and_macro_f1(multiclass: TinyModel, store: MetricStore) -> None:
    config = multiclass.config()
    report = run_checks(config, DAY, store)
    got = _estimates(report.results)
    assert set(got) == {"estimated_accuracy", "estimated_macro_f1"}, got
    window = pd.read_parquet(multiclass.root / "log" / "day.parquet")
    raw = _estimates(raw_estimated_results(config, window, build_baseline(config)))
    assert got == pytest.approx(raw, rel=1e-9)
    # right, and moved by the shift: the realised values of the window's labels
    truth = _multiclass_rows(make_rows(3000, "2026-10-01", seed=2), seed=3, shift=-1.0)
    accuracy = float((truth["pred"] == truth["label"]).mean())
    assert got["estimated_accuracy"] == pytest.approx(accuracy, abs=0.03)
    rows = {r.metric: r for r in report.results if r.metric.startswith("estimated_")}
    assert rows["estimated_accuracy"].details["estimator"] == "multiclass"
    assert rows["estimated_accuracy"].details["n"] == 3000
    assert rows["estimated_accuracy"].details["reference"] is not None


def test_regression_model_gets_estimated_mae_and_rmse(regression: TinyModel, store: MetricStore) -> None:
    config = regression.config()
    report = run_checks(config, DAY, store)
    got = _estimates(report.results)
    assert set(got) == {"estimated_mae", "estimated_rmse"}, got
    window = pd.read_parquet(regression.root / "log" / "day.parquet")
    raw = _estimates(raw_estimated_results(config, window, build_baseline(config)))
    assert got == pytest.approx(raw, rel=1e-9)
    truth = _regression_rows(make_rows(3000, "2026-10-01", seed=2), seed=3, shift=30.0)
    mae = float((truth["pred"] - truth["label"]).abs().mean())
    reference_mae = next(r for r in report.results if r.metric == "estimated_mae").details["reference"]
    assert got["estimated_mae"] > reference_mae  # older rows: larger errors expected
    assert got["estimated_mae"] == pytest.approx(mae, rel=0.15)


def test_regression_batches_merged_equal_one_shot(regression: TinyModel) -> None:
    config = regression.config()
    baseline = build_baseline(config)
    df = pd.read_parquet(regression.root / "log" / "day.parquet")
    one = _estimates(estimated_results(_profile(config, baseline, [df]).finish(), baseline))
    a = _profile(config, baseline, [df.iloc[:700]])
    b = _profile(config, baseline, [df.iloc[700:1800], df.iloc[1800:]])
    assert _estimates(estimated_results(a.merge(b).finish(), baseline)) == pytest.approx(one, rel=1e-9)


# --- no estimate possible: one skipped row with the reason -----------------------------------------------


def test_multiclass_without_class_probabilities_gets_a_skipped_row(multiclass: TinyModel, store: MetricStore) -> None:
    config = multiclass.edit(lambda d: d["predictions"].pop("scores"))
    report = run_checks(config, DAY, store)
    rows = [r for r in report.results if r.check == "prediction" and r.metric.startswith("estimated_")]
    assert [(r.metric, r.status) for r in rows] == [("estimated_performance", Status.SKIPPED)]
    assert "predictions.scores" in rows[0].details["reason"] and "predictions.scores" in rows[0].message


def test_reference_without_labels_gets_a_skipped_row(regression: TinyModel, store: MetricStore) -> None:
    ref = pd.read_parquet(regression.root / "reference.parquet").drop(columns="label")
    ref.to_parquet(regression.root / "reference.parquet")
    report = run_checks(regression.config(), DAY, store)
    (row,) = [r for r in report.results if r.metric.startswith("estimated_")]
    assert row.metric == "estimated_performance" and row.status is Status.SKIPPED
    assert "'label'" in row.details["reason"]


def test_model_without_performance_has_no_estimator_and_no_row(tiny: TinyModel, store: MetricStore) -> None:
    config = tiny.config()
    assert ProfileSpec.from_config(config, build_baseline(config), "h").estimator is None
    report = run_checks(config, DAY, store)
    assert not [r for r in report.results if r.metric.startswith("estimated_")]


# --- stored profiles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_estimation_state_round_trips_through_the_stored_payload(kind: str, request: pytest.FixtureRequest) -> None:
    model: TinyModel = request.getfixturevalue(kind)
    config = model.config()
    baseline = build_baseline(config)
    df = pd.read_parquet(model.root / "log" / "day.parquet")
    profile = _profile(config, baseline, [df]).finish()
    payload = json.loads(json.dumps(to_payload(profile)))
    assert payload["estimation"]["kind"] == kind
    loaded = from_payload(payload, ProfileSpec.from_config(config, baseline, "h"))
    assert _estimates(estimated_results(loaded, baseline)) == _estimates(estimated_results(profile, baseline))


@pytest.mark.parametrize(
    "stored",
    [
        None,  # no estimation key at all
        {"tp": 1.0, "fp": 2.0, "fn": 0.0, "tn": 3.0, "n": 6, "pos": {}, "neg": {}},  # the old binary counts
        {"kind": "binary", "state": {"n": "x"}},  # unreadable
    ],
)
def test_profile_stored_before_estimator_states_loads(binary: TinyModel, stored: dict[str, Any] | None) -> None:
    config = binary.config()
    baseline = build_baseline(config)
    df = pd.read_parquet(binary.root / "log" / "day.parquet")
    payload = json.loads(json.dumps(to_payload(_profile(config, baseline, [df]).finish())))
    if stored is None:
        del payload["estimation"]
    else:
        payload["estimation"] = stored
    loaded = from_payload(payload, ProfileSpec.from_config(config, baseline, "h"))
    assert loaded.estimation is None and loaded.rows == len(df)
    results = prediction_results(config, loaded, baseline)
    (row,) = [r for r in results if r.metric.startswith("estimated_")]
    assert row.metric == "estimated_performance" and row.status is Status.SKIPPED
    assert "re-run the window" in row.message
    assert any(r.subject == "score" for r in results)  # the rest of the family is unaffected (score drift)
    assert any(r.metric == "mean_confidence" for r in results)
