"""Metric registry: exact values on tiny hand-built windows, checked against scikit-learn, and every metric's
vectorised (resampling) form equal to scikit-learn on weighted resamples."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from watchkeeper.config import TaskType
from watchkeeper.exceptions import DataError, UnknownNameError
from watchkeeper.performance.metrics import (
    Metric,
    MetricValue,
    available_metrics,
    compute_metrics,
    default_metrics,
    get_metric,
    metric_info,
    prepare,
    register_metric,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "performance.md"
BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"

# 10 rows: TP=2, FN=2, FP=1, TN=5.
B_TRUE = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
B_PRED = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0]
B_SCORE = [0.9, 0.8, 0.4, 0.3, 0.7, 0.35, 0.2, 0.1, 0.3, 0.05]

M_TRUE = ["a", "a", "a", "b", "b", "b", "c", "c", "c", "c"]
M_PRED = ["a", "a", "b", "b", "b", "a", "c", "c", "c", "b"]

R_TRUE = [3.0, -0.5, 2.0, 7.0]
R_PRED = [2.5, 0.0, 2.0, 8.0]


def _log_loss_by_hand():
    terms = [math.log(s) if t else math.log(1 - s) for t, s in zip(B_TRUE, B_SCORE, strict=True)]
    return -sum(terms) / len(terms)


EXPECTED = {
    BINARY: {
        "accuracy": (0.7, 10),
        "precision": (2 / 3, 3),
        "recall": (0.5, 4),
        "f1": (4 / 7, 10),
        "positive_rate": (0.3, 10),
        # positives 0.9, 0.8, 0.4, 0.3 vs 6 negatives: 6 + 6 + 5 + (3 + one tie at 0.3 = 0.5) = 20.5 of 24 pairs
        "roc_auc": (20.5 / 24, 10),
        # recall steps of 0.25 at precisions 1, 1, 3/4 (score 0.4) and 4/7 (the 0.3 tie group)
        "pr_auc": ((1 + 1 + 0.75 + 4 / 7) / 4, 10),
        "log_loss": (_log_loss_by_hand(), 10),
        # positives 0.01 + 0.04 + 0.36 + 0.49, negatives 0.49 + 0.1225 + 0.04 + 0.01 + 0.09 + 0.0025
        "brier": (1.655 / 10, 10),
    },
    MULTICLASS: {
        "accuracy": (0.7, 10),
        "recall[a]": (2 / 3, 3),
        "recall[b]": (2 / 3, 3),
        "recall[c]": (0.75, 4),
        # per-class F1: a 2/3, b 4/7, c 6/7
        "macro_f1": ((2 / 3 + 4 / 7 + 6 / 7) / 3, 10),
        "weighted_f1": ((3 * 2 / 3 + 3 * 4 / 7 + 4 * 6 / 7) / 10, 10),
    },
    REGRESSION: {
        "mae": ((0.5 + 0.5 + 0 + 1) / 4, 4),
        "rmse": (math.sqrt((0.25 + 0.25 + 0 + 1) / 4), 4),
        "mape": ((0.5 / 3 + 0.5 / 0.5 + 0 + 1 / 7) / 4, 4),
        "r2": (1 - 1.5 / 29.1875, 4),  # SS_tot around the mean 2.875
    },
}

SKLEARN = {
    BINARY: {
        "accuracy": lambda: skm.accuracy_score(B_TRUE, B_PRED),
        "precision": lambda: skm.precision_score(B_TRUE, B_PRED),
        "recall": lambda: skm.recall_score(B_TRUE, B_PRED),
        "f1": lambda: skm.f1_score(B_TRUE, B_PRED),
        "positive_rate": lambda: np.mean(B_PRED),
        "roc_auc": lambda: skm.roc_auc_score(B_TRUE, B_SCORE),
        "pr_auc": lambda: skm.average_precision_score(B_TRUE, B_SCORE),
        "log_loss": lambda: skm.log_loss(B_TRUE, B_SCORE),
        "brier": lambda: skm.brier_score_loss(B_TRUE, B_SCORE),
    },
    MULTICLASS: {
        "accuracy": lambda: skm.accuracy_score(M_TRUE, M_PRED),
        "recall[a]": lambda: skm.recall_score(M_TRUE, M_PRED, labels=["a"], average="macro"),
        "recall[b]": lambda: skm.recall_score(M_TRUE, M_PRED, labels=["b"], average="macro"),
        "recall[c]": lambda: skm.recall_score(M_TRUE, M_PRED, labels=["c"], average="macro"),
        "macro_f1": lambda: skm.f1_score(M_TRUE, M_PRED, average="macro"),
        "weighted_f1": lambda: skm.f1_score(M_TRUE, M_PRED, average="weighted"),
    },
    REGRESSION: {
        "mae": lambda: skm.mean_absolute_error(R_TRUE, R_PRED),
        "rmse": lambda: skm.root_mean_squared_error(R_TRUE, R_PRED),
        "mape": lambda: skm.mean_absolute_percentage_error(R_TRUE, R_PRED),
        "r2": lambda: skm.r2_score(R_TRUE, R_PRED),
    },
}

REGISTERED = {
    BINARY: ["accuracy", "brier", "f1", "log_loss", "positive_rate", "pr_auc", "precision", "recall", "roc_auc"],
    MULTICLASS: ["accuracy", "macro_f1", "recall[<class>]", "weighted_f1"],
    REGRESSION: ["mae", "mape", "r2", "rmse"],
}


def _window(task):
    if task == BINARY:
        return compute_metrics(task, B_TRUE, B_PRED, B_SCORE)
    if task == MULTICLASS:
        return compute_metrics(task, M_TRUE, M_PRED)
    return compute_metrics(task, R_TRUE, R_PRED)


def test_every_registered_metric_is_exercised():
    for task, names in REGISTERED.items():
        assert available_metrics(task) == names
        families = {re.sub(r"\[.*\]$", "[<class>]", name) for name in EXPECTED[task]}
        assert families == set(names)


@pytest.mark.parametrize("task", [BINARY, MULTICLASS, REGRESSION])
def test_hand_checked_values_and_sklearn_agree(task):
    values = _window(task)
    assert set(values) == set(EXPECTED[task])
    for name, (expected, n) in EXPECTED[task].items():
        assert values[name].value == pytest.approx(expected, rel=1e-12), name
        assert values[name].value == pytest.approx(SKLEARN[task][name](), rel=1e-12), name
        assert values[name].n == n, name
        assert values[name].reason is None, name


@pytest.mark.parametrize("task", [BINARY, MULTICLASS, REGRESSION])
def test_each_metric_is_documented(task):
    text = DOCS.read_text(encoding="utf-8")
    for name in available_metrics(task):
        metric = get_metric(task, name)
        match = re.search(rf"^### `{re.escape(name)}`\n(.*?)(?=^##)", text, flags=re.S | re.M)
        assert match, f"docs/performance.md has no '### `{name}`' section"
        section = match.group(1).lower()
        assert task in section, f"{name}: section does not list the task {task}"
        direction = {True: "higher is better", False: "lower is better", None: "no better direction"}
        assert direction[metric.higher_is_better] in section, name
        assert ("proportion" in section) == metric.proportion, name


def test_metric_attributes():
    assert get_metric(BINARY, "recall").proportion and get_metric(BINARY, "recall").higher_is_better
    assert not get_metric(BINARY, "f1").proportion
    assert get_metric(BINARY, "log_loss").higher_is_better is False
    assert get_metric(BINARY, "positive_rate").higher_is_better is None
    assert get_metric(BINARY, "roc_auc").needs_score
    assert get_metric(MULTICLASS, "recall[b]").proportion
    assert get_metric(MULTICLASS, "recall[b]").name == "recall[b]"
    assert get_metric(REGRESSION, "mae").higher_is_better is False


def _resamples(n, count, seed):
    rng = np.random.default_rng(seed)
    index = rng.integers(0, n, size=(count, n))
    return np.stack([np.bincount(row, minlength=n) for row in index]).astype(np.float64)


def _random_window(task, seed, n=150):
    rng = np.random.default_rng(seed)
    if task == BINARY:
        t = rng.integers(0, 2, n)
        s = np.round(np.clip(0.3 * t + 0.7 * rng.random(n), 0, 1), 2)  # rounded: plenty of tied scores
        return prepare(task, t, (s > 0.5).astype(int), s)
    if task == MULTICLASS:
        t = rng.integers(0, 4, n)
        p = np.where(rng.random(n) < 0.6, t, rng.integers(0, 5, n))  # class 4 is unknown to the config
        return prepare(task, t, p, classes=[0, 1, 2, 3])
    t = rng.normal(10, 3, n)
    t[:5] = 0.0
    return prepare(task, t, t + rng.normal(0, 1, n))


@pytest.mark.parametrize("task", [BINARY, MULTICLASS, REGRESSION])
def test_batch_form_equals_sklearn_on_each_resample(task):
    data = _random_window(task, seed=3)
    weights = _resamples(data.n, 6, seed=4)
    for metric in default_metrics(data):
        batch = metric.batch(data, weights)
        for row, counts in enumerate(weights):
            expected = metric.compute(data.subset(np.repeat(np.arange(data.n), counts.astype(int)))).value
            assert batch[row] == pytest.approx(expected, rel=1e-9, abs=1e-12), (metric.name, row)


def test_batch_form_with_zero_one_weights_is_the_subset_metric():
    data = _random_window(BINARY, seed=5)
    member = np.zeros(data.n, dtype=bool)
    member[::3] = True
    for metric in default_metrics(data):
        got = metric.batch(data, member[None, :].astype(float))[0]
        assert got == pytest.approx(metric.compute(data.subset(member)).value, rel=1e-9), metric.name


def test_labels_in_any_type_mean_the_same():
    as_strings = compute_metrics(BINARY, [str(v) for v in B_TRUE], [str(v) for v in B_PRED], B_SCORE)
    mixed_true = [True, 1.0, "1", np.int64(1), False, 0.0, "0", "false", 0, np.False_]
    mixed = compute_metrics(BINARY, mixed_true, [float(v) for v in B_PRED], B_SCORE)
    assert as_strings == mixed == _window(BINARY)


def test_custom_positive_label_and_classes():
    t = ["fraud" if v else "ok" for v in B_TRUE]
    p = ["fraud" if v else "ok" for v in B_PRED]
    values = compute_metrics(BINARY, t, p, B_SCORE, positive_label="fraud", classes=["ok", "fraud"])
    assert values["precision"].value == pytest.approx(2 / 3)
    # without classes, any label but the positive one is a negative; with them, 'yes' is dropped
    t_bad = [*t, "yes"]
    p_bad = [*p, "ok"]
    assert compute_metrics(BINARY, t_bad, p_bad, positive_label="fraud")["accuracy"].n == 11
    data = prepare(BINARY, t_bad, p_bad, positive_label="fraud", classes=["ok", "fraud"])
    assert data.n == 10
    assert data.excluded == {"unexpected label": 1}


def test_unusable_rows_are_excluded_and_counted():
    data = prepare(BINARY, [1, 0, None, "2", 1, 0], [1, 0, 1, 1, None, 0], [0.9, 0.1, 0.5, 0.5, 0.8, np.nan])
    assert data.n == 3
    assert data.n_input == 6
    assert data.excluded == {"missing label": 1, "unexpected label": 1, "missing prediction": 1}
    values = compute_metrics(BINARY, [1, 0, None, "2", 1, 0], [1, 0, 1, 1, None, 0], [0.9, 0.1, 0.5, 0.5, 0.8, np.nan])
    assert values["accuracy"] == MetricValue(1.0, 3)
    assert values["roc_auc"] == MetricValue(1.0, 2, "1 rows without a score excluded")


def test_regression_drops_non_numbers():
    data = prepare(REGRESSION, [1, "x", 3, None], [1, 2, np.nan, 4])
    assert data.n == 1
    assert data.excluded == {"missing or non-numeric label": 2, "missing or non-numeric prediction": 1}


@pytest.mark.parametrize(
    "case",
    [
        (BINARY, [1, 1, 1], [1, 0, 1], [0.9, 0.2, 0.8], "roc_auc", MetricValue(None, 3, "only one class in window")),
        (
            BINARY,
            [0, 0, 0],
            [1, 0, 1],
            [0.9, 0.2, 0.8],
            "pr_auc",
            MetricValue(None, 3, "no actual positives in window"),
        ),
        (BINARY, [0, 0, 1], [0, 0, 0], None, "precision", MetricValue(None, 0, "no predicted positives in window")),
        (BINARY, [0, 0, 0], [0, 0, 1], None, "recall", MetricValue(None, 0, "no actual positives in window")),
        (BINARY, [0, 0], [0, 0], None, "f1", MetricValue(None, 2, "no actual or predicted positives in window")),
        (
            BINARY,
            [0, 1],
            [0, 1],
            [0.2, 1.7],
            "log_loss",
            MetricValue(None, 2, "scores are not probabilities (outside [0, 1])"),
        ),
        (BINARY, [0, 1], [0, 1], None, "brier", MetricValue(None, 0, "needs scores (y_score)")),
        (BINARY, [None, "x"], [0, 1], None, "accuracy", MetricValue(None, 0, "no labelled rows in window")),
        (MULTICLASS, ["a", "b"], ["a", "b"], None, "recall[z]", MetricValue(None, 0, "class 'z' absent from window")),
        (
            REGRESSION,
            [0.0, 0.0],
            [1.0, 2.0],
            None,
            "mape",
            MetricValue(None, 0, "every true value is 0 (2 rows): MAPE is undefined"),
        ),
        (REGRESSION, [0.0, 2.0], [1.0, 3.0], None, "mape", MetricValue(0.5, 1, "1 rows with true value 0 excluded")),
        (REGRESSION, [2.0, 2.0], [1.0, 3.0], None, "r2", MetricValue(None, 2, "true values are constant in window")),
        (REGRESSION, [2.0], [1.0], None, "r2", MetricValue(None, 1, "fewer than 2 labelled rows in window")),
    ],
)
def test_undefined_metrics_have_a_reason(case):
    task, y_true, y_pred, y_score, name, expected = case
    assert compute_metrics(task, y_true, y_pred, y_score, metrics=[name])[name] == expected


def test_score_metrics_are_left_out_without_scores():
    assert sorted(compute_metrics(BINARY, B_TRUE, B_PRED)) == ["accuracy", "f1", "positive_rate", "precision", "recall"]


def test_multiclass_classes_from_data_are_sorted_naturally():
    values = compute_metrics(MULTICLASS, [10, 2, 2, 1.0], ["10", "2", "1", "1"])
    assert [k for k in values if k.startswith("recall[")] == ["recall[1]", "recall[2]", "recall[10]"]
    assert values["recall[2]"] == MetricValue(0.5, 2)


def test_unknown_metric_lists_the_available_ones():
    with pytest.raises(UnknownNameError) as excinfo:
        get_metric(BINARY, "auc")
    assert str(excinfo.value) == (
        "No binary_classification metric named 'auc'. Available metrics: accuracy, brier, f1, log_loss, "
        "positive_rate, pr_auc, precision, recall, roc_auc"
    )
    assert isinstance(excinfo.value, KeyError)
    with pytest.raises(UnknownNameError, match=r"^No regression metric named 'recall\[a\]'\. Available metrics: mae"):
        compute_metrics(REGRESSION, [1.0], [1.0], metrics=["recall[a]"])


def test_misaligned_inputs():
    with pytest.raises(DataError) as excinfo:
        compute_metrics(BINARY, [1, 0], [1], [0.3, 0.4, 0.5])
    assert str(excinfo.value) == (
        "inputs are not aligned: y_true has 2 rows, y_pred has 1 rows, y_score has 3 rows -- "
        "pass one value per labelled prediction"
    )


def test_registering_a_duplicate_name_fails():
    class OtherAccuracy(Metric):
        name = "accuracy"
        tasks = frozenset({TaskType.BINARY_CLASSIFICATION})

    with pytest.raises(ValueError, match=r"metric named 'accuracy' is already registered \(Accuracy\)$"):
        register_metric(OtherAccuracy)


def test_metric_info_finds_a_metric_in_any_task():
    assert metric_info("recall").higher_is_better is True
    assert metric_info("mae").higher_is_better is False
    assert metric_info("macro_f1").tasks == frozenset({TaskType.MULTICLASS_CLASSIFICATION})
    assert metric_info("recall[cat]").name == "recall[cat]"
    assert metric_info("accuracy", "multiclass_classification") is get_metric(MULTICLASS, "accuracy")
    with pytest.raises(UnknownNameError, match=r"^No metric named 'auc'\. Available metrics: accuracy, brier, f1,"):
        metric_info("auc")
