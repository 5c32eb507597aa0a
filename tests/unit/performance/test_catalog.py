"""The light performance catalog agrees with the heavy registries, and performance rules resolve against it:
unknown keys get "did you mean", relative rules must watch the way the metric degrades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from watchkeeper.catalogs import performance as catalog
from watchkeeper.config import parse_config
from watchkeeper.config.performance import PerformanceSettings, Rule, check_performance, check_rules
from watchkeeper.exceptions import ConfigError
from watchkeeper.performance import ESTIMATED_METRICS, available_detectors, available_metrics, metric_info


@pytest.mark.parametrize("task", catalog.TASKS)
def test_catalog_names_and_directions_match_the_metric_registry(task: str) -> None:
    registered = [m for m in available_metrics(task) if "[" not in m]
    assert sorted(registered) == sorted(catalog.METRICS[task])
    for name, better_up in catalog.METRICS[task].items():
        assert metric_info(name, task).higher_is_better is better_up, name
        assert catalog.higher_is_better(name) is better_up
        assert catalog.higher_is_better(f"estimated_{name}") is better_up
        assert catalog.higher_is_better(f"segment_{name}") is better_up


def test_catalog_lists_the_registered_detectors_and_estimates() -> None:
    assert tuple(available_detectors()) == catalog.DETECTORS
    assert tuple(f"estimated_{m}" for m in catalog.ESTIMATED["binary_classification"]) == ESTIMATED_METRICS
    assert catalog.higher_is_better("recall[cat]") is True


def test_catalog_module_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, watchkeeper.config.performance, watchkeeper.catalogs.performance;"
        "heavy = [m for m in ('pandas', 'numpy', 'scipy', 'sklearn', 'sqlalchemy') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


BASE: dict[str, Any] = {
    "name": "m1",
    "owner": "team",
    "task": "regression",
    "predictions": {
        "source": {"kind": "parquet", "path": "data/*.parquet"},
        "timestamp": "ts",
        "id": "id",
        "features": {"x": "numerical"},
        "prediction": "yhat",
    },
    "reference": {"source": {"kind": "csv", "path": "ref.csv"}},
    "performance": {"labels": {"source": {"kind": "csv", "path": "labels.csv"}, "id": "id", "label": "y"}},
}


def load(performance: dict[str, Any], task: str = "regression") -> Any:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    data["task"] = task
    if task == "binary_classification":
        data["predictions"]["score"] = "p"
    data["performance"].update(performance)
    return parse_config(Path("dags/models/m1.yaml"), yaml.safe_dump(data))


def errors(performance: dict[str, Any], task: str = "regression") -> str:
    with pytest.raises(ConfigError) as info:
        load(performance, task)
    return str(info.value)


def test_relative_drop_on_a_lower_is_better_metric_is_a_config_error_with_the_fix() -> None:
    msg = errors({"rules": {"mae": {"relative_drop": 0.1}}})
    assert "performance.rules.mae: relative_drop alerts when mae falls, but lower mae is better" in msg
    assert "for mae use relative_rise (or relative_worsening)" in msg
    msg = errors({"rules": {"recall": {"relative_rise": 0.1}}}, task="binary_classification")
    assert "for recall use relative_drop (or relative_worsening)" in msg
    msg = errors({"rules": {"positive_rate": {"relative_worsening": 0.1}}}, task="binary_classification")
    assert "positive_rate has no better direction" in msg


def test_right_directions_load() -> None:
    perf = load({"rules": {"mae": {"relative_rise": 0.1}, "rmse": {"relative_worsening": 0.2}, "r2": {}}})
    assert set(perf.model.performance.rules) == {"mae", "rmse", "r2"}
    perf = load(
        {"rules": {"recall": {"relative_drop": 0.1}, "log_loss": {"relative_rise": 0.1}}}, "binary_classification"
    )
    assert perf.model.performance.rules["log_loss"].relative_rise.warning == 0.1


def test_unknown_rule_key_says_did_you_mean() -> None:
    msg = errors({"rules": {"recal": {"relative_drop": 0.1}}}, task="binary_classification")
    assert "performance.rules.recal: 'recal' is not a performance metric -- did you mean 'recall'?" in msg


def test_rule_keys_resolve_per_task() -> None:
    assert check_rules("binary_classification", {"recal": Rule()}) == [
        "performance.rules.recal: 'recal' is not a binary_classification metric -- did you mean 'recall'?"
    ]
    (msg,) = check_rules("regression", {"recall": Rule()})
    assert "'recall' is a binary_classification metric, not a regression one -- use one of: mae, rmse" in msg
    assert check_rules("multiclass_classification", {"recall[cat]": Rule(), "performance.macro_f1": Rule()}) == []
    assert check_rules("binary_classification", {"performance.segment_recall[country=FR]": Rule()}) == []
    settings = PerformanceSettings.model_validate(
        {
            "labels": {"source": {"kind": "csv", "path": "l.csv"}, "id": "id", "label": "y"},
            "rules": {"accuracy": {}},
            "trend": {"metrics": ["mae"]},
            "segment_metric": "recall",
        }
    )
    assert check_performance("regression", settings) == [
        "performance.rules.accuracy: 'accuracy' is a binary_classification and multiclass_classification metric, "
        "not a regression one -- use one of: mae, rmse, mape, r2, label_coverage",
        "performance.segment_metric: 'recall' is a binary_classification metric, not a regression one -- "
        "use one of: mae, rmse, mape, r2, label_coverage",
    ]


def test_trend_settings_are_checked() -> None:
    assert "unknown trend method 'page_hinkly' -- did you mean 'page_hinkley'?" in errors(
        {"trend": {"method": "page_hinkly"}}
    )
    assert "trend.params ['k'] are not parameters of page_hinkley -- it takes delta" in errors(
        {"trend": {"params": {"k": 1}}}
    )
    assert "trend.metrics: 'mea' is not a performance metric -- did you mean 'mae'?" in errors(
        {"trend": {"metrics": ["mea"]}}
    )
    assert "use at least 2 windows, or standardise_from: reference" in errors(
        {"trend": {"standardise_from": "history", "warmup": 1}}
    )
