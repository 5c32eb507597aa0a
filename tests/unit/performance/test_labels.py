"""Label normalisation and validation: 1, 1.0, "1" and True all mean "1"; bad labels are counted, never fatal."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from watchkeeper.exceptions import ConfigError
from watchkeeper.performance.labels import (
    MISSING,
    NOT_A_NUMBER,
    known_classes,
    normalize_label,
    normalize_labels,
    sorted_labels,
    validate_labels,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "1"),
        (1.0, "1"),
        ("1", "1"),
        (" 1.0 ", "1"),
        (True, "1"),
        (np.True_, "1"),
        (np.int64(1), "1"),
        (np.float32(1.0), "1"),
        ("TRUE", "1"),
        (False, "0"),
        ("false", "0"),
        (0.0, "0"),
        (0.5, "0.5"),
        ("fraud", "fraud"),
        ("  Fraud ", "Fraud"),
        ("1e3", "1000"),
        (None, None),
        (math.nan, None),
        (pd.NA, None),
        ("", None),
        ("NaN", None),
        ("null", None),
        (math.inf, None),
    ],
)
def test_normalize_label(value, expected):
    assert normalize_label(value) == expected


def test_normalize_labels_vectorised_matches_scalar():
    values = [1, 1.0, "1", True, None, "yes", 2, np.nan, "0", False]
    assert normalize_labels(values).tolist() == ["1", "1", "1", "1", None, "yes", "2", None, "0", "0"]
    series = pd.Series([1.0, np.nan, 0.0])  # an int column that picked up a null
    assert normalize_labels(series).tolist() == ["1", None, "0"]


def test_sorted_labels_is_numeric_aware():
    assert sorted_labels(["10", "2", "b", "a", "2"]) == ("2", "10", "a", "b")


def test_validate_binary_labels_flags_unexpected_values_and_missing():
    y = [1, 0, "1", 1.0, True, "2", "yes", np.nan, None, "yes"]
    report = validate_labels("binary_classification", y, known_classes=[0, 1])
    assert report.n_rows == 10
    assert report.n_valid == 5
    assert report.mask.tolist() == [True] * 5 + [False] * 5
    assert report.invalid == {MISSING: 2, "yes": 2, "2": 1}
    assert report.message == (
        "5 of 10 labels are unusable and were excluded (expected one of 0, 1): '<missing>' x2, 'yes' x2, '2' x1"
    )


def test_validate_without_known_classes_accepts_any_non_missing_label():
    report = validate_labels("multiclass_classification", ["a", "b", None, "c"])
    assert report.mask.tolist() == [True, True, False, True]
    assert report.invalid == {MISSING: 1}


def test_validate_clean_labels_has_an_empty_message():
    report = validate_labels("binary_classification", [0, 1, 1], known_classes=["0", "1"])
    assert report.invalid == {}
    assert report.message == ""


def test_validate_regression_labels():
    report = validate_labels("regression", [1.5, "2", "abc", None, np.inf, 3])
    assert report.mask.tolist() == [True, True, False, False, False, True]
    assert report.labels[:2].tolist() == [1.5, 2.0]
    assert report.invalid == {NOT_A_NUMBER: 2, MISSING: 1}


def test_known_classes_defaults():
    assert known_classes("binary_classification") == ("0", "1")
    assert known_classes("binary_classification", True) == ("0", "1")
    assert known_classes("binary_classification", "fraud") is None
    assert known_classes("binary_classification", "fraud", ["ok", "fraud"]) == ("ok", "fraud")
    assert known_classes("multiclass_classification") is None
    assert known_classes("multiclass_classification", classes=[1.0, 2, "3"]) == ("1", "2", "3")
    assert known_classes("regression") is None


def test_known_classes_errors():
    with pytest.raises(ConfigError, match=r"^binary classes \['a', 'b', 'c'\] must be two labels including the"):
        known_classes("binary_classification", "a", ["a", "b", "c"])
    with pytest.raises(
        ConfigError,
        match=r"^binary classes \['0', '2'\] must be two labels including the "
        r"positive label '1' -- pass classes=\(negative, positive\)$",
    ):
        known_classes("binary_classification", 1, [0, 2])
    with pytest.raises(
        ConfigError,
        match=r"^unknown task type 'ranking'; use one of: binary_classification, "
        r"multiclass_classification, regression$",
    ):
        known_classes("ranking")
    with pytest.raises(ConfigError, match=r"^positive label None is a missing value"):
        known_classes("binary_classification", None)
    with pytest.raises(ConfigError, match=r"^classes contain the missing value nan -- list real class labels only$"):
        known_classes("multiclass_classification", classes=["a", math.nan])


def test_validate_derives_known_classes_like_the_scoring_functions():
    y = [1, 0, "yes", None]
    default = validate_labels("binary_classification", y)  # positive "1": known classes 0 and 1
    assert default.known_classes == ("0", "1")
    assert default.invalid == {MISSING: 1, "yes": 1}
    assert default.valid_mask.tolist() == [True, True, False, False]
    custom = validate_labels(
        "binary_classification", ["ok", "fraud", "yes"], positive_label="fraud", classes=["ok", "fraud"]
    )
    assert custom.invalid == {"yes": 1}
    anything = validate_labels("binary_classification", ["ok", "fraud", "yes"], positive_label="fraud")
    assert anything.invalid == {}  # no classes: every label other than the positive one is a negative
