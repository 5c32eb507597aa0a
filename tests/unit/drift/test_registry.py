"""The drift test registry: lookup, automatic choice, decisions, and every test exercised and documented."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from watchkeeper.drift.counts import count_values
from watchkeeper.drift.profile import profile_categorical, profile_numerical
from watchkeeper.drift.registry import (
    AUTO_SMALL_SAMPLE,
    DriftStat,
    DriftTest,
    auto_method,
    available_tests,
    get_drift_test,
    register_drift_test,
)
from watchkeeper.drift.stats import psi
from watchkeeper.exceptions import ConfigError, UnknownNameError
from watchkeeper.results import Status

DOCS = Path(__file__).resolve().parents[3] / "docs" / "drift.md"

REF_VALUES = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0, 8.0])
CUR_VALUES = np.array([2.0, 3.0, 3.5, 5.0, 7.0, 9.0])
REF_CATS = ["a"] * 6 + ["b"] * 3 + ["c"]
CUR_CATS = ["a"] * 3 + ["b"] * 4 + ["d"] * 2


def _numerical_profile():
    return profile_numerical(REF_VALUES, n_bins=4, n_quantiles=len(REF_VALUES))


def _categorical_inputs():
    profile = profile_categorical(REF_CATS)
    return profile, count_values(profile, CUR_CATS)  # aligned: a, b, c, then the unseen d: [3, 4, 0, 2]


def _expected_psi_numerical():
    profile = _numerical_profile()  # edges at the 25/50/75 % quantiles: 1.25, 3.0, 4.75
    assert profile["edges"] == [1.25, 3.0, 4.75]
    # reference bins [-inf,1.25) [1.25,3) [3,4.75) [4.75,inf): 3, 1, 3, 3; current: 0, 1, 2, 3
    assert profile["counts"] == [3, 1, 3, 3]
    return psi([3, 1, 3, 3], [0, 1, 2, 3])


def _homogeneity(ref, cur):
    table = np.array([ref, cur], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    return sps.chi2_contingency(table, correction=False).pvalue


def _expected(name):
    """Independent computation of each registered test on the shared tiny data."""
    ks = sps.ks_2samp(REF_VALUES, CUR_VALUES, method="asymp")  # quantiles == the reference itself
    if name == "psi":
        return [
            (_expected_psi_numerical(), _homogeneity([3, 1, 3, 3], [0, 1, 2, 3])),
            (psi([6, 3, 1, 0], [3, 4, 0, 2]), _homogeneity([6, 3, 1, 0], [3, 4, 0, 2])),
        ]
    if name == "ks":
        return [(ks.statistic, ks.pvalue)]
    if name == "wasserstein":
        return [(sps.wasserstein_distance(REF_VALUES, CUR_VALUES) / np.std(REF_VALUES), ks.pvalue)]
    if name == "jensenshannon":
        return [
            (jensenshannon([3, 1, 3, 3], [0, 1, 2, 3], base=2), _homogeneity([3, 1, 3, 3], [0, 1, 2, 3])),
            (jensenshannon([6, 3, 1, 0], [3, 4, 0, 2], base=2), _homogeneity([6, 3, 1, 0], [3, 4, 0, 2])),
        ]
    if name == "chisquare":
        shares = np.array([0.6, 0.3, 0.1, 1e-4]) / (1 + 1e-4)
        expected = sps.chisquare([3, 4, 0, 2], f_exp=shares * 9)
        return [(min(1.0, np.sqrt(expected.statistic / (9 * 3))), expected.pvalue)]
    raise AssertionError(f"drift test {name!r} is registered but not exercised here -- add it to _expected")


EXERCISED = ["chisquare", "jensenshannon", "ks", "psi", "wasserstein"]


def test_every_registered_test_is_exercised():
    assert available_tests() == EXERCISED


@pytest.mark.parametrize("name", EXERCISED)
def test_each_registered_test_computes_the_expected_value(name):
    test = get_drift_test(name)
    inputs = []
    if "numerical" in test.kinds:
        profile = _numerical_profile()
        inputs.append((profile, count_values(profile, CUR_VALUES)))
    if "categorical" in test.kinds:
        inputs.append(_categorical_inputs())
    for (profile, current), (statistic, p_value) in zip(inputs, _expected(name), strict=True):
        stat = test.compute(profile, current)
        # exact from the counts, except Wasserstein inside grid intervals where the CDFs cross (bounded)
        tolerance = stat.details.get("max_error", 0.0) + 1e-12
        assert stat.statistic == pytest.approx(statistic, abs=tolerance, rel=1e-12)
        assert stat.p_value == pytest.approx(p_value, rel=1e-9)


@pytest.mark.parametrize("name", EXERCISED)
def test_each_registered_test_is_documented(name):
    text = DOCS.read_text(encoding="utf-8")
    test = get_drift_test(name)
    match = re.search(rf"^### `{name}`\n(.*?)(?=^##)", text, flags=re.S | re.M)
    assert match, f"docs/drift.md has no '### `{name}`' section"
    section = match.group(1)
    warning, critical = test.default_thresholds
    assert f"warning {warning}" in section and f"critical {critical}" in section
    assert ", ".join(sorted(test.kinds)) in section


def test_available_tests_by_kind():
    assert available_tests("numerical") == ["jensenshannon", "ks", "psi", "wasserstein"]
    assert available_tests("categorical") == ["chisquare", "jensenshannon", "psi"]


def test_unknown_name_lists_the_available_tests():
    with pytest.raises(UnknownNameError) as excinfo:
        get_drift_test("foo")
    assert str(excinfo.value) == (
        "No drift test named 'foo'. Available drift tests: chisquare, jensenshannon, ks, psi, wasserstein"
    )
    assert isinstance(excinfo.value, KeyError)


def test_unknown_kind_is_a_config_error():
    with pytest.raises(ConfigError, match=r"^unknown feature kind 'text'; use one of: categorical, numerical$"):
        available_tests("text")
    with pytest.raises(ConfigError, match=r"^unknown feature kind 'text'"):
        auto_method("text", 10)


@pytest.mark.parametrize(
    ("kind", "n", "expected"),
    [
        ("numerical", 0, "ks"),
        ("numerical", AUTO_SMALL_SAMPLE - 1, "ks"),
        ("numerical", AUTO_SMALL_SAMPLE, "psi"),
        ("categorical", AUTO_SMALL_SAMPLE - 1, "chisquare"),
        ("categorical", 1_000_000, "psi"),
    ],
)
def test_auto_method(kind, n, expected):
    assert AUTO_SMALL_SAMPLE == 1000
    assert auto_method(kind, n) == expected


@pytest.mark.parametrize(
    ("name", "stat", "expected"),
    [
        ("psi", DriftStat(0.09, 1e-9), Status.OK),
        ("psi", DriftStat(0.1, 1e-9), Status.WARNING),
        ("psi", DriftStat(0.25, 1e-9), Status.CRITICAL),
        ("psi", DriftStat(0.4, 0.2), Status.OK),  # a large PSI the bins' chi-square test calls noise
        ("ks", DriftStat(0.3, 0.01), Status.CRITICAL),
        ("ks", DriftStat(0.3, 0.05), Status.OK),  # large D on a tiny sample: not significant
        ("ks", DriftStat(0.05, 1e-30), Status.OK),  # significant but negligible effect (huge sample)
        ("chisquare", DriftStat(0.15, 0.001), Status.WARNING),
        ("chisquare", DriftStat(0.5, 0.2), Status.OK),
        ("wasserstein", DriftStat(float("nan")), Status.OK),
    ],
)
def test_decisions_use_effect_sizes_and_significance(name, stat, expected):
    test = get_drift_test(name)
    assert test.decide(stat, *test.default_thresholds) is expected


def test_default_thresholds():
    thresholds = {name: get_drift_test(name).default_thresholds for name in available_tests()}
    assert thresholds == {
        "chisquare": (0.1, 0.2),
        "jensenshannon": (0.1, 0.2),
        "ks": (0.1, 0.2),
        "psi": (0.1, 0.25),
        "wasserstein": (0.1, 0.2),
    }


def test_registering_a_duplicate_name_fails():
    class AnotherPSI(DriftTest):
        name = "psi"
        kinds = frozenset({"numerical"})

    with pytest.raises(ValueError, match=r"^a drift test named 'psi' is already registered \(PSI\)$"):
        register_drift_test(AnotherPSI)


def test_registering_an_unknown_kind_fails():
    class TextTest(DriftTest):
        name = "text_only"
        kinds = frozenset({"text"})

    with pytest.raises(ValueError, match=r"^drift test 'text_only' has kinds \['text'\]; use a subset of"):
        register_drift_test(TextTest)
    assert "text_only" not in available_tests()
