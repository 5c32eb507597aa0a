"""Label join: coverage, duplicate and conflicting ids, labels for unknown ids, missing columns."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from support import TinyModel
from watchkeeper.exceptions import ConfigError, DataError
from watchkeeper.labels import TRUE, join_labels, label_settings, read_labels
from watchkeeper.results import Window

PRED = pd.DataFrame({"pid": ["a", "b", "c", "d"], "score": [0.1, 0.9, 0.2, 0.8]})


def join(labels: pd.DataFrame):
    return join_labels(PRED, labels, prediction_id="pid", label_id="id", label="y")


def test_coverage_and_join_by_id() -> None:
    out = join(pd.DataFrame({"id": ["b", "a", "zz"], "y": [1, 0, 1]}))
    assert out.coverage == 0.5 and out.n_labelled == 2 and out.unmatched == 1
    assert out.df.set_index("pid")[TRUE].to_dict() == {"a": 0, "b": 1}


def test_duplicates_collapse_and_conflicts_keep_the_last() -> None:
    out = join(pd.DataFrame({"id": ["a", "a", "b", "b"], "y": [0, 0, 0, 1]}))
    assert out.duplicates == 2 and out.conflicts == 1
    assert out.df.set_index("pid")[TRUE].to_dict() == {"a": 0, "b": 1}


def test_ids_are_compared_as_text_and_null_ids_ignored() -> None:
    preds = pd.DataFrame({"pid": [1, 2, 3]})
    out = join_labels(
        preds, pd.DataFrame({"id": ["1", None, "3"], "y": [1, 1, 0]}), prediction_id="pid", label_id="id", label="y"
    )
    assert out.n_labelled == 2 and out.coverage == pytest.approx(2 / 3)


def test_empty_window_has_zero_coverage() -> None:
    out = join_labels(
        PRED.iloc[:0], pd.DataFrame({"id": ["a"], "y": [1]}), prediction_id="pid", label_id="id", label="y"
    )
    assert out.coverage == 0.0 and out.unmatched == 1


def test_model_without_performance_section(tiny: TinyModel) -> None:
    with pytest.raises(ConfigError, match="performance: the model has no performance section -- add"):
        label_settings(tiny.config())


def test_label_source_missing_columns(tiny: TinyModel) -> None:
    pd.DataFrame({"pid": ["x"], "truth": [1]}).to_parquet(tiny.root / "labels.parquet")
    cfg = tiny.edit(
        lambda d: d.update(
            performance={
                "labels": {"source": {"kind": "parquet", "path": "../../labels.parquet"}, "id": "pid", "label": "label"}
            }
        )
    )
    window = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
    with pytest.raises(DataError, match=r"performance.labels: column\(s\) \['label'\] not in the labels source"):
        read_labels(cfg, window)
