"""Estimation through the model config and the stored baseline, for binary, multiclass and regression models:
estimated rows from the monitor's side, their estimation error once labels land, one pass over batches, and an
explicit ``skipped`` row with the reason for a model or setting that has no estimation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import softmax

from support import TinyModel, make_rows
from watchkeeper.baseline import ensure_baseline
from watchkeeper.config import LoadedConfig, load_config
from watchkeeper.performance.estimators import SKIPPED_METRIC, estimated_results, window_estimator
from watchkeeper.results import Status, Window
from watchkeeper.scoring import score_window
from watchkeeper.store import MetricStore

DAY = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
CLASSES = ["cat", "dog", "fox"]


@pytest.fixture
def store() -> MetricStore:
    s = MetricStore()
    s.migrate()
    return s


def rows(task: str, n: int, start: str, rng: np.random.Generator, shift: float = 0.0) -> pd.DataFrame:
    """Prediction rows over one day, with their true labels (the model is calibrated / right on average)."""
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.linspace(0, 86_399, n), unit="s")
    x = rng.normal(shift, 1.0, n)
    region = rng.choice(["north", "south"], n)
    df = pd.DataFrame({"ts": ts, "pid": [f"{start}-{i}" for i in range(n)], "x": x, "region": region})
    if task == "multiclass_classification":
        probs = softmax(np.column_stack([1.5 * x, -1.5 * x, np.zeros(n)]), axis=1)
        for k, c in enumerate(CLASSES):
            df[f"p_{c}"] = probs[:, k]
        df["pred"] = np.array(CLASSES, dtype=object)[probs.argmax(axis=1)]
        df["label"] = np.array(CLASSES, dtype=object)[[rng.choice(3, p=p) for p in probs]]
    else:
        df["pred"] = 3 * x
        df["label"] = 3 * x + rng.normal(0, 1, n) * np.where(region == "north", 2.0, 0.5)
    return df


def project(tmp_path: Path, task: str, *, scores: bool = True, labelled_reference: bool = True) -> LoadedConfig:
    rng = np.random.default_rng(0)
    (tmp_path / "log").mkdir()
    (tmp_path / "labels").mkdir()
    ref = rows(task, 6000, "2026-09-01", rng)
    if not labelled_reference:
        ref = ref.drop(columns="label")
    ref.to_parquet(tmp_path / "reference.parquet")
    day = rows(task, 2000, "2026-10-01", rng, shift=0.8)  # covariate shift
    day.drop(columns="label").to_parquet(tmp_path / "log" / "day.parquet")
    day[["pid", "label"]].to_parquet(tmp_path / "labels" / "day.parquet")
    config: dict[str, Any] = {
        "name": "m",
        "owner": "team",
        "task": task,
        "predictions": {
            "source": {"kind": "parquet", "path": "log/*.parquet"},
            "timestamp": "ts",
            "id": "pid",
            "features": {"x": "numerical", "region": "categorical"},
            "prediction": "pred",
        },
        "reference": {"source": {"kind": "parquet", "path": "reference.parquet"}},
        "performance": {
            "labels": {"source": {"kind": "parquet", "path": "labels/*.parquet"}, "id": "pid", "label": "label"},
            "min_samples": 100,
        },
    }
    if task == "multiclass_classification" and scores:
        config["predictions"]["scores"] = {c: f"p_{c}" for c in CLASSES}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(config))
    return load_config(path)


def window_df(config: LoadedConfig) -> pd.DataFrame:
    return pd.read_parquet(config.base_dir / "log" / "day.parquet")


@pytest.mark.parametrize(
    ("task", "metrics"),
    [
        ("regression", {"estimated_mae", "estimated_rmse"}),
        ("multiclass_classification", {"estimated_accuracy", "estimated_macro_f1"}),
    ],
)
def test_estimates_are_recorded_and_paired_with_the_realised_metric(
    tmp_path: Path, store: MetricStore, task: str, metrics: set[str]
) -> None:
    config = project(tmp_path, task)
    _, baseline = ensure_baseline(config, store)
    assert baseline["performance"]["estimator"]["kind"] == task.split("_", maxsplit=1)[0]
    json.dumps(baseline)  # stored as plain JSON
    estimated = {r.metric: r for r in estimated_results(config, window_df(config), baseline)}
    assert set(estimated) == metrics and all(r.status is Status.OK for r in estimated.values())
    store.record_results("m", DAY, list(estimated.values()), checks={"prediction"})  # what the monitor run stores
    report = score_window(config, DAY, store)
    assert report.scored
    realised = {r.metric: r for r in report.results}
    for name in metrics:
        plain = name.removeprefix("estimated_")
        row = realised[plain]
        assert row.details["estimated"] == pytest.approx(estimated[name].value)
        assert row.details["estimation_error"] == pytest.approx(estimated[name].value - row.value)
        assert abs(row.details["estimation_error"]) < 0.05 * max(1.0, abs(row.value)), (name, row.value)


@pytest.mark.parametrize("task", ["regression", "multiclass_classification"])
def test_one_pass_over_batches_equals_the_whole_window_and_state_round_trips(
    tmp_path: Path, store: MetricStore, task: str
) -> None:
    config = project(tmp_path, task)
    _, baseline = ensure_baseline(config, store)
    df = window_df(config)
    whole = {r.metric: r.value for r in estimated_results(config, df, baseline)}
    first, second = window_estimator(config, baseline), window_estimator(config, baseline)
    assert set(first.columns) <= set(df.columns)
    for part in np.array_split(np.arange(len(df)), 4)[:2]:
        first.update(df.iloc[part][list(first.columns)])
    for part in np.array_split(np.arange(len(df)), 4)[2:]:
        second.update(df.iloc[part])
    restored = window_estimator(config, baseline).fresh()
    restored.load_state(json.loads(json.dumps(second.state())))
    assert second.fresh().n == 0 and second.n > 0  # a fresh copy shares the model, not the sums
    first.merge(restored)
    assert {r.metric: r.value for r in first.results()} == pytest.approx(whole)


def test_binary_estimates_stream_like_the_monitor(tiny: TinyModel, store: MetricStore) -> None:
    ref = pd.read_parquet(tiny.root / "reference.parquet")
    ref["label"] = (np.random.default_rng(1).random(len(ref)) < ref["score"]).astype("int64")
    ref.to_parquet(tiny.root / "reference.parquet")
    config = tiny.edit(
        lambda d: d.update(
            performance={"labels": {"source": {"kind": "csv", "path": "l.csv"}, "id": "pid", "label": "label"}}
        )
    )
    _, baseline = ensure_baseline(config, store)
    assert baseline["performance"]["estimator"]["kind"] == "binary"
    df = make_rows(3000, "2026-10-01", seed=4)
    rows_ = {r.metric: r for r in estimated_results(config, df, baseline)}
    assert set(rows_) == {f"estimated_{m}" for m in ("accuracy", "precision", "recall", "f1", "roc_auc")}
    est = window_estimator(config, baseline)
    for part in np.array_split(np.arange(len(df)), 5):
        est.update(df.iloc[part])
    assert {r.metric: r.value for r in est.results()} == pytest.approx({k: v.value for k, v in rows_.items()})


def skipped(results: list[Any]) -> str:
    (row,) = results
    assert row.metric == SKIPPED_METRIC and row.status is Status.SKIPPED
    return str(row.message)


def test_multiclass_without_per_class_probabilities_says_so(tmp_path: Path, store: MetricStore) -> None:
    config = project(tmp_path, "multiclass_classification", scores=False)
    _, baseline = ensure_baseline(config, store)
    assert skipped(estimated_results(config, window_df(config), baseline)) == (
        "performance not estimated: multiclass estimation needs each class's probability -- name them in "
        "predictions.scores ({class: column})"
    )


def test_reference_without_labels_says_so(tmp_path: Path, store: MetricStore) -> None:
    config = project(tmp_path, "regression", labelled_reference=False)
    _, baseline = ensure_baseline(config, store)
    message = skipped(estimated_results(config, window_df(config), baseline))
    assert message.startswith("performance not estimated: the reference has no label column 'label'")
    assert "add the true labels to the reference data" in message


def test_single_class_binary_reference_and_old_baselines_say_so(tiny: TinyModel, store: MetricStore) -> None:
    ref = pd.read_parquet(tiny.root / "reference.parquet")
    ref["label"] = 0
    ref.to_parquet(tiny.root / "reference.parquet")
    config = tiny.edit(
        lambda d: d.update(
            performance={"labels": {"source": {"kind": "csv", "path": "l.csv"}, "id": "pid", "label": "label"}}
        )
    )
    _, baseline = ensure_baseline(config, store)
    df = make_rows(100, "2026-10-01")
    assert "the reference needs scores and labels of both classes" in skipped(estimated_results(config, df, baseline))
    assert "rebuild" in skipped(estimated_results(config, df, {"performance": {"metrics": {}}}))
    assert "the reference needs the label column 'label'" in skipped(estimated_results(config, df, {}))
    # an empty window is said too
    good = {
        "performance": {"estimator": {"kind": "binary", "calibrator": {"method": "isotonic", "x": [0, 1], "y": [0, 1]}}}
    }
    assert skipped(estimated_results(config, df.iloc[:0], good)) == "performance not estimated: no rows in the window"
