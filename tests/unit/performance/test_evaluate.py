"""One window in one call: values, intervals and the result rows the rules judge."""

from __future__ import annotations

import pytest

from watchkeeper.performance import evaluate, wilson_interval
from watchkeeper.results import Status

Y_TRUE = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, "yes", None]
Y_PRED = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1]
SCORE = [0.9, 0.8, 0.4, 0.3, 0.7, 0.35, 0.2, 0.1, 0.3, 0.05, 0.5, 0.5]


def test_evaluate_computes_values_intervals_and_label_report():
    report = evaluate("binary_classification", Y_TRUE, Y_PRED, SCORE, level=0.9)
    assert report.n == 10
    assert report.excluded == {"missing label": 1, "unexpected label": 1}
    assert report.labels.invalid == {"<missing>": 1, "yes": 1}
    assert report.values["accuracy"].value == pytest.approx(0.7)
    assert report.intervals["accuracy"] == wilson_interval(7, 10, 0.9)
    assert set(report.values) == set(report.intervals)


def test_result_rows():
    rows = {r.metric: r for r in evaluate("binary_classification", Y_TRUE, Y_PRED, SCORE).to_results({"recall": 0.8})}
    recall = rows["recall"]
    assert recall.key == ("performance", "recall", "")
    assert recall.status is Status.OK
    assert recall.value == pytest.approx(0.5)
    low, high = wilson_interval(2, 4)
    assert recall.details["ci"] == [low, high]
    assert recall.details["reference"] == 0.8
    assert recall.details["n"] == 4 and recall.details["rows"] == 10
    assert recall.message == f"recall is 0.5, 95% CI {low:.4g}-{high:.4g} (n=4)"
    assert rows["log_loss"].details["higher_is_better"] is False
    labels = rows["unexpected_labels"]
    assert labels.status is Status.WARNING
    assert labels.value == pytest.approx(1 / 12)
    assert labels.details["counts"] == {"yes": 1}


def test_small_windows_and_undefined_metrics_are_skipped():
    rows = {r.metric: r for r in evaluate("binary_classification", Y_TRUE, Y_PRED, SCORE, min_samples=200).to_results()}
    assert rows["accuracy"].status is Status.SKIPPED
    assert rows["accuracy"].message == "accuracy not judged: only 10 labelled rows (< min_samples 200)"
    rows = {r.metric: r for r in evaluate("binary_classification", [1, 1], [1, 1], [0.6, 0.7]).to_results()}
    assert rows["roc_auc"].status is Status.SKIPPED
    assert rows["roc_auc"].message == "roc_auc undefined: only one class in window"
    assert rows["roc_auc"].details["ci"] == [None, None]
    assert rows["unexpected_labels"].status is Status.OK
