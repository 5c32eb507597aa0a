"""Bad per-class probabilities of a multiclass model: out of [0, 1] or not summing to 1 in a window are
quality findings (counted batch by batch, merged, stored); on the reference they are ``validate`` errors,
as is a class of the reference's labels or predictions with no probability column; a labelled window
whose labels hold such a class gets a ``label_without_probability`` warning."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from support import TinyModel, make_rows
from watchkeeper.baseline import build_baseline, ensure_baseline
from watchkeeper.checks import run_checks
from watchkeeper.config import LoadedConfig
from watchkeeper.profile.codec import from_payload, to_payload
from watchkeeper.profile.probabilities import ProbabilityCounts
from watchkeeper.profile.window import ProfileSpec, WindowProfile
from watchkeeper.results import CheckResult, Status, Window
from watchkeeper.scoring import score_window
from watchkeeper.store import MetricStore
from watchkeeper.validation import probability_problems

DAY = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
CLASSES = ["cat", "dog", "fox"]
METRICS = ("probability_out_of_range_share", "probability_sum_share")


def _rows(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Softmax probabilities from the features, the argmax prediction and labels drawn from them."""
    rng = np.random.default_rng(seed)
    x1, x2 = np.log(df["amount"].to_numpy()) - 3.0, (df["age"].to_numpy() - 50.0) / 29.0
    z = np.column_stack([x1, x2, np.zeros(len(df))])
    probs = np.exp(z - z.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    out = df.drop(columns=["score", "pred"]).copy()
    for i, c in enumerate(CLASSES):
        out[f"p_{c}"] = probs[:, i]
    out["pred"] = np.array(CLASSES, dtype=object)[probs.argmax(axis=1)]
    drawn = (rng.random(len(df))[:, None] > probs.cumsum(axis=1)).sum(axis=1)
    out["label"] = np.array(CLASSES, dtype=object)[np.minimum(drawn, 2)]
    return out


@pytest.fixture
def model(tiny: TinyModel) -> TinyModel:
    ref = _rows(pd.read_parquet(tiny.root / "reference.parquet"), seed=1)
    ref.to_parquet(tiny.root / "reference.parquet")
    tiny.write_log(_rows(make_rows(3000, "2026-10-01", seed=2), seed=3).drop(columns="label"))

    def change(d: dict[str, Any]) -> None:
        d["task"] = "multiclass_classification"
        d["predictions"].update({"score": None, "scores": {c: f"p_{c}" for c in CLASSES}})
        d["quality"].pop("suite", None)
        d["performance"] = {
            "labels": {"source": {"kind": "parquet", "path": "../../labels/*.parquet"}, "id": "pid", "label": "label"},
            "min_samples": 50,
        }

    tiny.edit(change)
    return tiny


@pytest.fixture
def store() -> MetricStore:
    s = MetricStore()
    s.migrate()
    return s


def _spoil(df: pd.DataFrame) -> pd.DataFrame:
    """300 rows (10 %) whose probabilities sum to 1.3, 60 (2 %) with a negative probability (summing to 1)."""
    out = df.copy()
    columns = [f"p_{c}" for c in CLASSES]
    out.loc[:299, columns] = [0.5, 0.4, 0.4]
    out.loc[300:359, columns] = [-0.1, 0.6, 0.5]
    return out


def _found(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.metric: r for r in results if r.check == "quality" and r.metric in METRICS}


def test_clean_probabilities_are_ok(model: TinyModel, store: MetricStore) -> None:
    found = _found(run_checks(model.config(), DAY, store).results)
    assert set(found) == set(METRICS)
    assert all(r.status is Status.OK and r.value == 0.0 for r in found.values()), found
    assert found["probability_sum_share"].subject == "p_cat,p_dog,p_fox"
    assert found["probability_sum_share"].details["checked"] == 3000


def test_probabilities_out_of_range_or_not_summing_to_one_are_critical_findings(
    model: TinyModel, store: MetricStore
) -> None:
    model.write_log(_spoil(pd.read_parquet(model.root / "log" / "day.parquet")))
    found = _found(run_checks(model.config(), DAY, store).results)
    off, outside = found["probability_sum_share"], found["probability_out_of_range_share"]
    assert off.status is Status.CRITICAL and off.details["rows"] == 300 and off.value == pytest.approx(0.1)
    assert off.details["worst_sum_error"] == pytest.approx(0.3, abs=1e-9)
    assert outside.status is Status.CRITICAL and outside.details["rows"] == 60
    assert "outside [0, 1]" in outside.message and "predictions.scores" in outside.message


def test_one_bad_row_is_a_warning_and_the_tolerance_is_configurable(model: TinyModel, store: MetricStore) -> None:
    df = pd.read_parquet(model.root / "log" / "day.parquet")
    df.loc[0, "p_cat"] += 0.005  # within the default tolerance 0.01
    df.loc[1, "p_cat"] += 0.05  # beyond it
    model.write_log(df)
    found = _found(run_checks(model.config(), DAY, store).results)
    off = found["probability_sum_share"]
    assert off.status is Status.WARNING and off.details["rows"] == 1
    config = model.edit(lambda d: d["quality"].update(probability_tolerance=0.001))
    found = _found(run_checks(config, DAY, store).results)
    assert found["probability_sum_share"].details["rows"] == 2


def test_counts_merge_across_batches_and_survive_the_stored_payload(model: TinyModel) -> None:
    config: LoadedConfig = model.config()
    baseline = build_baseline(config)
    df = _spoil(pd.read_parquet(model.root / "log" / "day.parquet"))
    spec = ProfileSpec.from_config(config, baseline, "h")
    whole = WindowProfile.empty(spec)
    whole.add_batch(df)
    parts = []
    for chunk in (df.iloc[:1000], df.iloc[1000:2200], df.iloc[2200:]):
        part = WindowProfile.empty(spec)
        part.add_batch(chunk)
        parts.append(part)
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert whole.probabilities is not None and merged.probabilities is not None
    assert merged.probabilities.to_dict() == whole.probabilities.to_dict()
    assert (whole.probabilities.off, whole.probabilities.out_of_range) == (300, 60)
    loaded = from_payload(to_payload(whole.finish()), spec)
    assert loaded.probabilities == whole.probabilities


def test_missing_probabilities_are_not_judged_as_bad_rows() -> None:
    counts = ProbabilityCounts()
    counts.add(np.array([[0.2, 0.8], [np.nan, 1.0], [0.5, np.inf], [0.3, 0.3]]))
    assert (counts.checked, counts.incomplete, counts.off, counts.out_of_range) == (2, 2, 1, 0)


def test_validate_reports_bad_reference_probabilities_and_classes_without_a_column(model: TinyModel) -> None:
    assert probability_problems(model.config()) == []
    ref = _spoil(pd.read_parquet(model.root / "reference.parquet"))
    ref.loc[:4, "label"] = "wolf"
    ref.to_parquet(model.root / "reference.parquet")
    problems = probability_problems(model.config())
    text = "\n".join(problems)
    assert len(problems) == 3, problems
    assert all(p.startswith(f"{model.path}: predictions.scores") for p in problems)
    assert "outside [0, 1]" in text and "do not sum to 1" in text
    assert "performance.labels.label ('label') holds class(es) ['wolf']" in text
    assert "add them to predictions.scores" in text


def test_labels_of_a_class_without_a_probability_column_are_a_warning(model: TinyModel, store: MetricStore) -> None:
    config = model.config()
    ensure_baseline(config, store)
    truth = _rows(make_rows(3000, "2026-10-01", seed=2), seed=3)
    labels = pd.DataFrame({"pid": truth["pid"], "label": truth["label"]})
    labels.loc[:99, "label"] = "wolf"
    (model.root / "labels").mkdir(exist_ok=True)
    labels.to_parquet(model.root / "labels" / "day.parquet")
    report = score_window(config, DAY, store)
    by = {r.metric: r for r in report.results}
    row = by["label_without_probability"]
    assert row.status is Status.WARNING and row.value == 100 and row.details["counts"] == {"wolf": 100}
    assert "predictions.scores" in row.message
    assert by["accuracy"].value is not None  # the window is still scored
