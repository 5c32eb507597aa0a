"""Reference profiles and the drift engine: drift decisions and per-column quality in one pass."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from watchkeeper.drift import analyze_features, available_tests, engine, profile_categorical, profile_numerical
from watchkeeper.exceptions import BaselineError, ConfigError, DataError, UnknownNameError
from watchkeeper.results import Status

NAN, INF = float("nan"), float("inf")


def _plain_json(value):
    """True when ``value`` holds only JSON types (no numpy scalars, no NaN)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or type(value) in (int, str, bool)


def _by_key(results):
    return {(r.check, r.metric, r.subject): r for r in results}


# --- profiles ---------------------------------------------------------------------------------------


def test_profile_numerical_by_hand():
    values = pd.Series([3, 1, 2, NAN, 5, 4, INF, -INF, 6, 7, 8, 9, 10], dtype="float64")
    profile = profile_numerical(values, n_bins=4, n_quantiles=5)
    assert profile == {
        "kind": "numerical",
        "rows": 13,
        "n": 10,
        "null_count": 1,
        "inf_count": 2,
        "min": 1.0,
        "max": 10.0,
        "mean": 5.5,
        "std": pytest.approx(math.sqrt(8.25)),
        "iqr": pytest.approx(4.5),
        "q01": pytest.approx(1.09),
        "q99": pytest.approx(9.91),
        "quantiles": [1.0, 3.25, 5.5, 7.75, 10.0],
        "edges": [3.25, 5.5, 7.75],
        "counts": [3, 2, 2, 3],  # [-inf,3.25) [3.25,5.5) [5.5,7.75) [7.75,inf)
    }
    assert _plain_json(profile)


def test_profile_numerical_quantiles_equal_numpy_and_round_trip_through_json():
    values = np.random.default_rng(7).lognormal(size=5_000)
    profile = profile_numerical(values)
    assert profile["quantiles"] == pytest.approx(np.quantile(values, np.linspace(0, 1, 1001)).tolist(), rel=1e-15)
    assert profile["edges"] == pytest.approx(np.quantile(values, np.arange(1, 10) / 10).tolist(), rel=1e-15)
    assert sum(profile["counts"]) == 5_000 and len(profile["counts"]) == 10
    assert json.loads(json.dumps(profile, allow_nan=False)) == profile
    assert _plain_json(profile)


def test_profile_numerical_all_null_and_constant_columns():
    empty = profile_numerical(np.array([1.0, None, NAN], dtype=object)[1:])
    assert empty == {
        "kind": "numerical",
        "rows": 2,
        "n": 0,
        "null_count": 2,
        "inf_count": 0,
        **dict.fromkeys(("min", "max", "mean", "std", "iqr", "q01", "q99")),
        "quantiles": [],
        "edges": [],
        "counts": [0],
    }
    constant = profile_numerical([2.0] * 5, n_quantiles=3)
    assert constant["edges"] == [2.0] and constant["counts"] == [0, 5]
    assert constant["std"] == 0.0 and constant["iqr"] == 0.0 and constant["quantiles"] == [2.0, 2.0, 2.0]
    assert _plain_json(empty) and _plain_json(constant)


def test_profile_categorical_counts_strings_most_frequent_first():
    profile = profile_categorical(pd.Series(["b", "a", "b", None, NAN, "c", "b", "a"], dtype=object))
    assert profile == {"kind": "categorical", "rows": 8, "n": 6, "null_count": 2, "counts": {"b": 3, "a": 2, "c": 1}}
    assert list(profile["counts"]) == ["b", "a", "c"]
    # whole floats lose their fraction, so an int column that became float with a null still matches
    assert profile_categorical(pd.Series([1.0, 2.0, NAN, 2.0]))["counts"] == {"2": 2, "1": 1}
    unused = pd.Series(pd.Categorical(["x", "y", "x"], categories=["x", "y", "z"]))
    assert profile_categorical(unused)["counts"] == {"x": 2, "y": 1}


# --- engine: layout, messages, thresholds -----------------------------------------------------------


@pytest.fixture(scope="module")
def small_profiles():
    return {
        "x": profile_numerical(np.arange(100.0)),
        "c": profile_categorical(["a"] * 50 + ["b"] * 50),
    }


def test_results_layout_per_feature(small_profiles):
    df = pd.DataFrame({"x": np.arange(100.0), "c": ["a", "b"] * 50, "other": 1})
    results = analyze_features(df, {"x": "numerical", "c": "categorical"}, small_profiles)
    assert [(r.check, r.metric, r.subject) for r in results] == [
        ("drift", "ks", "x"),
        ("quality", "missing_share", "x"),
        ("quality", "out_of_range_share", "x"),
        ("quality", "nonfinite_count", "x"),
        ("drift", "chisquare", "c"),
        ("quality", "missing_share", "c"),
        ("quality", "unseen_category_share", "c"),
    ]
    assert all(r.status is Status.OK for r in results)
    assert all(_plain_json(r.as_dict()) for r in results)


def test_drift_result_value_threshold_message_and_details(small_profiles):
    df = pd.DataFrame({"c": ["a"] * 25 + ["b"] * 75})
    (drift, *_) = analyze_features(df, {"c": "categorical"}, small_profiles, methods={"c": "psi"})
    assert drift.value == pytest.approx(0.25 * math.log(3.0))  # shares (.5, .5) -> (.25, .75)
    assert drift.threshold == 0.25  # the level crossed: critical
    assert drift.status is Status.CRITICAL
    assert drift.message == "c drifted: psi 0.275 >= 0.25 (critical)"
    # the noise guard: chi-square test of homogeneity of the same counts
    p_value = sps.chi2_contingency([[50, 50], [25, 75]], correction=False).pvalue
    assert drift.details == {
        "method": "psi",
        "auto": False,
        "n": 100,
        "n_reference": 100,
        "p_value": pytest.approx(p_value),
        "critical": 0.25,
        "bins": 2,
    }


def test_thresholds_column_key_wins_over_test_key(small_profiles):
    df = pd.DataFrame({"c": ["a"] * 25 + ["b"] * 75})
    features, methods = {"c": "categorical"}, {"c": "psi"}
    by_test = analyze_features(df, features, small_profiles, methods, thresholds={"psi": (0.5, 0.6)})[0]
    assert (by_test.status, by_test.threshold, by_test.message) == (
        Status.OK,
        0.5,
        "c: psi 0.275 < 0.5 (no drift)",
    )
    both = analyze_features(df, features, small_profiles, methods, thresholds={"psi": (0.5, 0.6), "c": (0.2, 0.3)})[0]
    assert (both.status, both.threshold, both.details["critical"]) == (Status.WARNING, 0.2, 0.3)
    assert both.message == "c drifted: psi 0.275 >= 0.2 (warning)"


def test_a_window_below_the_minimum_sample_is_not_judged(small_profiles):
    drift = analyze_features(pd.DataFrame({"x": [1000.0]}), {"x": "numerical"}, small_profiles)[0]
    assert (drift.metric, drift.status, drift.value) == ("ks", Status.SKIPPED, None)
    assert drift.message == (
        "x: only 1 usable values in window; drift is judged from 100 (drift.min_sample) "
        "-- too few to tell drift from noise"
    )
    assert drift.details["min_sample"] == 100


def test_large_effect_on_tiny_sample_is_not_significant(small_profiles):
    df = pd.DataFrame({"x": [40.0, 70.0]})  # D is about 0.4, but two values prove nothing
    limits = engine.FeatureLimits(min_sample=1)
    drift = analyze_features(df, {"x": "numerical"}, small_profiles, limits=limits)[0]
    assert drift.metric == "ks" and drift.value >= 0.2
    assert drift.details["p_value"] >= 0.05
    assert drift.status is Status.OK
    assert "is not significant" in drift.message


# --- engine: quality statistics ---------------------------------------------------------------------


def test_numerical_quality_by_hand():
    # 100 rows: 10 NaN, +inf, -inf, and 88 finite values of which -5 and 150 are outside [0, 99]
    values = [NAN] * 10 + [INF, -INF, -5.0, 150.0] + list(range(86))
    profiles = {"x": profile_numerical(np.linspace(0.0, 99.0, 1_000_000))}  # large: says little
    results = _by_key(analyze_features(pd.DataFrame({"x": values}), {"x": "numerical"}, profiles))
    missing = results["quality", "missing_share", "x"]
    assert (missing.value, missing.threshold, missing.status) == (0.1, 0.05, Status.WARNING)
    assert missing.details["critical"] == pytest.approx(0.2)
    assert missing.message == "x: missing share 10% > 5% (warning)"
    out = results["quality", "out_of_range_share", "x"]
    assert out.value == pytest.approx(2 / 88)
    assert (out.threshold, out.status) == (engine.OUT_OF_RANGE_SHARE.warning, Status.WARNING)
    assert (out.details["below"], out.details["above"]) == (1, 1)
    nonfinite = results["quality", "nonfinite_count", "x"]
    assert (nonfinite.value, nonfinite.status, nonfinite.details) == (2.0, Status.WARNING, {"pos_inf": 1, "neg_inf": 1})
    assert results["drift", "ks", "x"].details["n"] == 88


def test_missing_share_is_relative_to_the_reference_null_share():
    profiles = {"x": profile_numerical([NAN] * 30 + list(range(70)))}  # reference null share 0.3
    assert (engine.MISSING_SHARE.warning, engine.MISSING_SHARE.critical) == (0.05, 0.20)
    for nulls, status, level in [(3499, Status.OK, 0.35), (3500, Status.WARNING, 0.35), (5000, Status.CRITICAL, 0.5)]:
        df = pd.DataFrame({"x": [NAN] * nulls + [1.0] * (10_000 - nulls)})
        missing = _by_key(analyze_features(df, {"x": "numerical"}, profiles))["quality", "missing_share", "x"]
        assert missing.threshold == pytest.approx(level)
        assert missing.status is status, nulls


def test_shares_are_judged_against_what_the_reference_shows_at_the_window_size():
    # reference null share 0.3: 36 nulls in 100 rows is within noise (the binomial 99.9th percentile is 45)
    profiles = {"x": profile_numerical([NAN] * 30 + list(range(70)))}
    df = pd.DataFrame({"x": [NAN] * 36 + [1.0] * 64})
    missing = _by_key(analyze_features(df, {"x": "numerical"}, profiles))["quality", "missing_share", "x"]
    assert missing.status is Status.OK and missing.details["noise_level"] == pytest.approx(0.45)
    assert missing.threshold == pytest.approx(0.45)
    # a 20-value reference: a new value outside its range has probability 2/21; 3 in 50 is noise
    small = {"x": profile_numerical(np.arange(20.0))}
    values = pd.DataFrame({"x": [25.0, -3.0, 30.0] + [5.0] * 47})
    out = _by_key(analyze_features(values, {"x": "numerical"}, small))["quality", "out_of_range_share", "x"]
    assert out.value == pytest.approx(0.06) and out.status is Status.OK
    # a reference with categories seen once: new ones are expected at that rate (Good-Turing)
    cats = {"c": profile_categorical([f"k{i}" for i in range(10)] + ["a"] * 90)}  # 10 singletons in 100
    window = pd.DataFrame({"c": ["a"] * 180 + [f"new{i}" for i in range(20)]})
    unseen = _by_key(analyze_features(window, {"c": "categorical"}, cats))["quality", "unseen_category_share", "c"]
    assert unseen.value == pytest.approx(0.1) and unseen.status is Status.OK


def test_unseen_categories_are_listed_most_frequent_first(small_profiles):
    unseen = [f"new{i:02d}" for i in range(12) for _ in range(i + 1)]  # new11 x12, new10 x11, ...
    df = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 500 + unseen + [None] * 5})
    result = _by_key(analyze_features(df, {"c": "categorical"}, small_profiles))[
        "quality", "unseen_category_share", "c"
    ]
    assert result.value == pytest.approx(78 / 1078)
    assert (result.threshold, result.status) == (0.05, Status.CRITICAL)
    assert result.details["unseen"] == [f"new{i:02d}" for i in range(11, 1, -1)]
    assert result.details["unseen_counts"] == list(range(12, 2, -1))
    assert (result.details["unseen_categories"], result.details["unseen_rows"]) == (12, 78)
    assert result.message.endswith(
        "(new11, new10, new09, new08, new07, new06, new05, new04, new03, new02 and 2 more) (critical)"
    )


def test_a_few_unseen_values_warn(small_profiles):
    df = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 490 + ["zz"] * 10})
    result = _by_key(analyze_features(df, {"c": "categorical"}, small_profiles))[
        "quality", "unseen_category_share", "c"
    ]
    assert (result.value, result.status, result.details["unseen"]) == (0.01, Status.WARNING, ["zz"])
    assert result.message == "c: 1% of values in categories unseen in the reference (zz) (warning)"


@pytest.mark.parametrize("dtype", ["object", "str", "string", "category"])
def test_categorical_dtypes_give_the_same_results(small_profiles, dtype):
    values = ["a"] * 30 + ["b"] * 60 + ["q"] * 5 + [None] * 5
    expected = analyze_features(
        pd.DataFrame({"c": pd.Series(values, dtype=object)}), {"c": "categorical"}, small_profiles
    )
    df = pd.DataFrame({"c": pd.Series(values, dtype=dtype)})
    results = analyze_features(df, {"c": "categorical"}, small_profiles)
    assert [r.as_dict() for r in results] == [r.as_dict() for r in expected]


def test_nullable_numeric_dtypes_are_converted(small_profiles):
    df = pd.DataFrame({"x": pd.array([1, None, 3, 200], dtype="Int64")})
    results = _by_key(analyze_features(df, {"x": "numerical"}, small_profiles))
    assert results["quality", "missing_share", "x"].value == 0.25
    assert results["quality", "out_of_range_share", "x"].value == pytest.approx(1 / 3)


def test_the_window_is_not_modified(small_profiles):
    df = pd.DataFrame({"x": [5.0, 1.0, NAN, 3.0], "c": ["b", "a", None, "a"]})
    before = df.copy()
    analyze_features(df, {"x": "numerical", "c": "categorical"}, small_profiles)
    pd.testing.assert_frame_equal(df, before)


# --- engine: empty, null and unusable data ----------------------------------------------------------


def test_column_entirely_null_in_window(small_profiles):
    df = pd.DataFrame({"x": [NAN] * 4, "c": pd.Series([None] * 4, dtype=object)})
    results = _by_key(analyze_features(df, {"x": "numerical", "c": "categorical"}, small_profiles))
    for subject, metric in [("x", "ks"), ("c", "chisquare")]:
        drift = results["drift", metric, subject]
        assert (drift.status, drift.value) == (Status.SKIPPED, None)
        assert drift.message == f"{subject}: no non-null values in window"
        missing = results["quality", "missing_share", subject]
        assert (missing.value, missing.status) == (1.0, Status.CRITICAL)
    assert results["quality", "out_of_range_share", "x"].status is Status.SKIPPED
    assert results["quality", "unseen_category_share", "c"].status is Status.SKIPPED
    assert results["quality", "nonfinite_count", "x"].status is Status.OK


def test_only_infinite_values_in_window(small_profiles):
    results = _by_key(analyze_features(pd.DataFrame({"x": [INF, -INF]}), {"x": "numerical"}, small_profiles))
    assert results["drift", "ks", "x"].message == "x: no finite values in window"
    assert results["quality", "nonfinite_count", "x"].status is Status.WARNING


def test_empty_window_skips_everything(small_profiles):
    df = pd.DataFrame({"x": pd.Series([], dtype="float64"), "c": pd.Series([], dtype=object)})
    results = analyze_features(df, {"x": "numerical", "c": "categorical"}, small_profiles)
    assert len(results) == 7
    assert all(r.status is Status.SKIPPED for r in results)
    assert {r.message for r in results if r.check == "drift"} == {"x: no data in window", "c: no data in window"}


def test_reference_without_values_skips_drift_instead_of_crashing():
    profiles = {"x": profile_numerical([NAN, NAN]), "c": profile_categorical([None, None])}
    df = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    results = _by_key(analyze_features(df, {"x": "numerical", "c": "categorical"}, profiles))
    assert results["drift", "ks", "x"].status is Status.SKIPPED
    assert results["drift", "chisquare", "c"].message == "c: reference has no non-null values"
    assert results["quality", "missing_share", "x"].status is Status.OK  # 0% missing vs 100% in reference
    assert results["quality", "out_of_range_share", "x"].status is Status.SKIPPED


def test_constant_reference_flags_any_other_value():
    profiles = {"x": profile_numerical([2.0] * 2000)}
    same = analyze_features(pd.DataFrame({"x": [2.0] * 2000}), {"x": "numerical"}, profiles)[0]
    assert (same.metric, same.value, same.status) == ("psi", 0.0, Status.OK)
    other = analyze_features(pd.DataFrame({"x": [2.0] * 1000 + [1.5] * 1000}), {"x": "numerical"}, profiles)[0]
    assert other.status is Status.CRITICAL


# --- engine: errors ---------------------------------------------------------------------------------


def test_missing_feature_column_names_it_and_the_available_ones(small_profiles):
    df = pd.DataFrame({"x": [1.0], "c": ["a"]})
    with pytest.raises(DataError) as excinfo:
        analyze_features(df, {"x": "numerical", "amount": "numerical"}, small_profiles)
    assert str(excinfo.value) == "feature column(s) 'amount' not in the window data; available columns: x, c"


def test_duplicated_feature_column_is_a_data_error(small_profiles):
    df = pd.DataFrame([[1.0, 2.0]], columns=["x", "x"])
    with pytest.raises(DataError, match=r"^feature column\(s\) 'x' appear more than once in the window data$"):
        analyze_features(df, {"x": "numerical"}, small_profiles)


def test_non_numeric_values_in_a_numerical_feature(small_profiles):
    with pytest.raises(DataError, match=r"^numerical feature 'x' has dtype object and non-numeric values"):
        analyze_features(
            pd.DataFrame({"x": pd.Series(["1.5", "abc"], dtype=object)}), {"x": "numerical"}, small_profiles
        )


def test_method_errors(small_profiles):
    df = pd.DataFrame({"x": [1.0], "c": ["a"]})
    with pytest.raises(UnknownNameError, match=r"^No drift test named 'kl'\. Available drift tests: chisquare, "):
        analyze_features(df, {"x": "numerical"}, small_profiles, methods={"x": "kl"})
    with pytest.raises(ConfigError) as excinfo:
        analyze_features(df, {"c": "categorical"}, small_profiles, methods={"c": "ks"})
    assert str(excinfo.value) == (
        "drift test 'ks' does not apply to categorical feature 'c'; use auto or one of: chisquare, jensenshannon, psi"
    )
    with pytest.raises(ConfigError, match=r"^drift methods given for columns that are not features: y$"):
        analyze_features(df, {"x": "numerical"}, small_profiles, methods={"y": "psi"})
    with pytest.raises(ConfigError, match=r"^feature 'x' has kind 'text'; use one of: categorical, numerical$"):
        analyze_features(df, {"x": "text"}, small_profiles)


def test_threshold_errors(small_profiles):
    df = pd.DataFrame({"x": [1.0]})
    with pytest.raises(ConfigError, match=r"^drift thresholds for 'psi' must be finite with warning <= critical"):
        analyze_features(df, {"x": "numerical"}, small_profiles, thresholds={"psi": (0.3, 0.1)})
    with pytest.raises(ConfigError, match=r"^drift thresholds for typo: neither a feature nor a drift test"):
        analyze_features(df, {"x": "numerical"}, small_profiles, thresholds={"typo": (0.1, 0.2)})


def test_profile_errors(small_profiles):
    df = pd.DataFrame({"x": [1.0], "c": ["a"]})
    with pytest.raises(BaselineError, match=r"^no reference profile for feature 'x' -- rebuild the baseline$"):
        analyze_features(df, {"x": "numerical"}, {})
    with pytest.raises(BaselineError, match=r"^reference profile of 'c' is 'categorical' but the feature is numerical"):
        analyze_features(df, {"c": "numerical"}, small_profiles)


# --- engine: decisions on synthetic data ------------------------------------------------------------


def test_small_window_decision_flips_with_a_shift():
    rng = np.random.default_rng(11)
    profiles = {"x": profile_numerical(rng.normal(size=5_000))}
    same = analyze_features(pd.DataFrame({"x": rng.normal(size=300)}), {"x": "numerical"}, profiles)[0]
    shifted = analyze_features(pd.DataFrame({"x": rng.normal(1.0, size=300)}), {"x": "numerical"}, profiles)[0]
    assert (same.metric, same.details["auto"], same.status) == ("ks", True, Status.OK)
    assert (shifted.metric, shifted.status) == ("ks", Status.CRITICAL)
    assert shifted.details["p_value"] < 1e-6


def test_small_categorical_window_decision_flips():
    rng = np.random.default_rng(12)
    cats, shares = np.array(["a", "b", "c", "d"]), [0.4, 0.3, 0.2, 0.1]
    profiles = {"c": profile_categorical(rng.choice(cats, size=5_000, p=shares))}
    same = analyze_features(pd.DataFrame({"c": rng.choice(cats, size=400, p=shares)}), {"c": "categorical"}, profiles)
    moved = analyze_features(pd.DataFrame({"c": rng.choice(cats, size=400)}), {"c": "categorical"}, profiles)
    assert (same[0].metric, same[0].status) == ("chisquare", Status.OK)
    assert (moved[0].metric, moved[0].status) == ("chisquare", Status.CRITICAL)


@pytest.fixture(scope="module")
def large():
    rng = np.random.default_rng(2024)
    n = 200_000
    cats, shares = np.array([f"k{i}" for i in range(8)]), np.arange(8, 0, -1) / 36
    profiles = {
        "x": profile_numerical(rng.normal(size=n)),
        "c": profile_categorical(rng.choice(cats, size=n, p=shares)),
    }
    same = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(cats, size=n, p=shares)})
    moved = pd.DataFrame({"x": rng.normal(0.5, size=n), "c": rng.choice(cats, size=n, p=shares[::-1])})
    return profiles, same, moved


def test_large_window_from_the_same_distribution_is_not_flagged_by_auto(large):
    profiles, same, _ = large
    results = analyze_features(same, {"x": "numerical", "c": "categorical"}, profiles)
    assert [(r.metric, r.status) for r in results if r.check == "drift"] == [("psi", Status.OK), ("psi", Status.OK)]
    assert not any(r.status.is_finding for r in results)


def test_large_window_shifted_half_a_std_is_flagged_by_auto(large):
    profiles, _, moved = large
    results = analyze_features(moved, {"x": "numerical", "c": "categorical"}, profiles)
    drift = [r for r in results if r.check == "drift"]
    assert [r.metric for r in drift] == ["psi", "psi"]
    assert all(r.status.is_finding for r in drift)


@pytest.mark.parametrize("method", available_tests("numerical"))
def test_every_numerical_test_separates_same_from_shifted_at_large_n(large, method):
    profiles, same, moved = large
    for df, flagged in [(same, False), (moved, True)]:
        drift = analyze_features(df[["x"]], {"x": "numerical"}, profiles, methods={"x": method})[0]
        assert drift.metric == method
        assert drift.status.is_finding is flagged, (method, drift.message)
