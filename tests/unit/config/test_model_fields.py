"""Model-config fields others build on: per-class score columns (multiclass) and ``paused``."""

from __future__ import annotations

from typing import Any

from .cfgdata import VALID, parse, problems, with_

MULTI: dict[str, Any] = with_(
    "predictions.scores",
    {"setosa": "p_setosa", "versicolor": "p_versicolor", "virginica": "p_virginica"},
    with_("task", "multiclass_classification", with_("predictions.score", None)),
)


def test_multiclass_scores_are_columns_of_the_log() -> None:
    log = parse(MULTI).model.predictions
    assert log.score_columns() == {"setosa": "p_setosa", "versicolor": "p_versicolor", "virginica": "p_virginica"}
    assert log.columns() == ["ts", "id", "label", "p_setosa", "p_versicolor", "p_virginica", "amount", "country"]
    assert "scores" not in log.role_columns()  # roles stay one column each


def test_numeric_class_labels_are_read_as_text() -> None:
    log = parse(with_("predictions.scores", {0: "p0", 1: "p1", 2: "p2"}, MULTI)).model.predictions
    assert log.score_columns() == {"0": "p0", "1": "p1", "2": "p2"}


def test_scores_only_for_multiclass() -> None:
    (msg,) = problems(with_("predictions.scores", {"0": "p0", "1": "p1"}))
    assert "predictions.scores (per-class probability columns) is only for multiclass_classification" in msg
    assert "not binary_classification -- remove it" in msg


def test_scores_need_two_distinct_columns_not_clashing() -> None:
    (msg,) = problems(with_("predictions.scores", {"a": "p_a"}, MULTI))
    assert "predictions.scores has 1 class(es) -- list one probability column per class (at least two)" in msg
    (msg,) = problems(with_("predictions.scores", {"a": "p", "b": "p", "c": "q"}, MULTI))
    assert "predictions.scores uses column(s) ['p'] for several classes -- give each class its own column" in msg
    (msg,) = problems(with_("predictions.scores", {"a": "amount", "b": "ts"}, MULTI))
    assert "predictions.scores column(s) ['amount', 'ts'] are also a feature or a role column" in msg


def test_multiclass_without_scores_still_loads() -> None:
    model = parse(with_("predictions.scores", None, MULTI)).model
    assert model.predictions.scores is None and model.predictions.score_columns() == {}


def test_paused_defaults_to_false_and_reaches_the_dag_kwargs() -> None:
    from watchkeeper.airflow.dag_common import dag_kwargs

    loaded = parse(VALID)
    assert loaded.model.paused is False
    kwargs = dag_kwargs(loaded)
    assert kwargs["is_paused_upon_creation"] is False
    assert kwargs["tags"] == ["watchkeeper", "model:m1", "owner:team-a"]
    assert kwargs["default_args"]["owner"] == "team-a"
    assert kwargs["start_date"] == loaded.model.start_date and kwargs["catchup"] is False
    assert dag_kwargs(parse(with_("paused", True)))["is_paused_upon_creation"] is True
    assert "paused: Input should be a valid boolean" in problems(with_("paused", "maybe"))[0]
