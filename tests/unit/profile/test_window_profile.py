"""The window profile: merge == one-shot (property-based), codec round trip, statistics from counts vs scipy,
the latency sketch's accuracy, exact duplicate ids in bounded memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from support import TinyModel, make_rows
from watchkeeper.baseline import build_baseline
from watchkeeper.drift.counts import CategoricalCounts, NumericalCounts, ks_from_counts, wasserstein_from_counts
from watchkeeper.drift.profile import profile_categorical, profile_numerical
from watchkeeper.drift.stats import ks_ecdf, wasserstein_sorted
from watchkeeper.profile.codec import from_payload, to_payload
from watchkeeper.profile.sketch import DuplicateCounter, QuantileSketch
from watchkeeper.profile.window import ProfileSpec, WindowProfile

REF = np.random.default_rng(0).normal(size=2_000)
NUM_PROFILE = profile_numerical(np.round(REF, 1))  # rounded: ties on grid points are exercised too
CAT_PROFILE = profile_categorical(["a"] * 50 + ["b"] * 30 + ["c"] * 20)

floats = st.one_of(
    st.floats(min_value=-5, max_value=5, allow_nan=False),
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 0.0, 0.1, -3.3]),
)
labels = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "new1", "new2", "z"]), st.text(max_size=3))


def _split(values: list, cuts: list[int]) -> list[list]:
    points = sorted({min(c, len(values)) for c in cuts})
    parts, start = [], 0
    for point in [*points, len(values)]:
        parts.append(values[start:point])
        start = point
    return parts


def _numerical_state(c: NumericalCounts) -> tuple:
    return (c.rows, c.null_count, c.pos_inf, c.neg_inf, c.counts.tolist(), c.min, c.max)


@settings(max_examples=150, deadline=None)
@given(st.lists(floats, max_size=60), st.lists(st.integers(0, 60), max_size=4))
def test_numerical_counts_of_batches_merge_to_the_counts_of_the_whole(values, cuts):
    whole = NumericalCounts.empty(NUM_PROFILE)
    whole.add(np.asarray(values, dtype=float))
    merged = NumericalCounts.empty(NUM_PROFILE)
    for part in _split(values, cuts):
        batch = NumericalCounts.empty(NUM_PROFILE)
        batch.add(np.asarray(part, dtype=float))
        merged = merged.merge(batch)
    assert _numerical_state(merged) == _numerical_state(whole)
    np.testing.assert_allclose(merged.sums, whole.sums, rtol=1e-12, atol=1e-9)
    assert merged.total == pytest.approx(whole.total, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(st.lists(labels, max_size=60), st.lists(st.integers(0, 60), max_size=4), st.integers(1, 3))
def test_categorical_counts_merge_exactly_even_past_the_cap(values, cuts, cap):
    whole = CategoricalCounts(tuple(CAT_PROFILE["counts"]), max_unseen=cap)
    whole.add(pd.Series(values, dtype=object))
    parts = [CategoricalCounts(tuple(CAT_PROFILE["counts"]), max_unseen=cap) for _ in _split(values, cuts)]
    for counts, part in zip(parts, _split(values, cuts), strict=True):
        counts.add(pd.Series(part, dtype=object))
    # associativity: left fold and right fold agree with the one-shot counts
    left = parts[0]
    for counts in parts[1:]:
        left = left.merge(counts)
    right = parts[-1]
    for counts in reversed(parts[:-1]):
        right = counts.merge(right)
    for merged in (left, right):
        assert (merged.rows, merged.null_count, merged.counts.tolist()) == (
            whole.rows,
            whole.null_count,
            whole.counts.tolist(),
        )
        assert (merged.unseen, merged.other_count) == (whole.unseen, whole.other_count)


@pytest.fixture
def spec(tiny: TinyModel) -> ProfileSpec:
    config = tiny.config()
    return ProfileSpec.from_config(config, build_baseline(config), "h")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 400), st.lists(st.integers(0, 400), max_size=3), st.integers(0, 1000))
def test_window_profile_of_batches_equals_the_profile_of_the_whole(spec, n, cuts, seed):
    df = make_rows(400, "2026-10-01", seed=seed).iloc[:n].copy()
    df.loc[df.index[::7], "pid"] = df["pid"].iloc[0] if n else None  # some duplicate ids
    whole = WindowProfile.empty(spec)
    whole.add_batch(df)
    merged = WindowProfile.empty(spec)
    start = 0
    for point in [*sorted({min(c, n) for c in cuts}), n]:
        batch = WindowProfile.empty(spec)
        batch.add_batch(df.iloc[start:point])
        merged = merged.merge(batch)
        start = point
    a, b = to_payload(whole.finish()), to_payload(merged.finish())
    for payload in (a, b):
        payload["confidence"]["sum"] = round(payload["confidence"]["sum"], 6)
        for counts in [*payload["features"].values(), payload["score"]]:
            if counts["kind"] == "numerical":
                for key in ("total", "total_sq", "mean", "std", "grid_sums"):
                    counts.pop(key)
        for key in ("tp", "fp", "fn", "tn", "pos", "neg"):
            (payload.get("estimation") or {}).pop(key, None)
    assert a == b
    assert whole.duplicate_ids == merged.duplicate_ids


def test_payload_round_trip_gives_the_same_results(tiny: TinyModel, spec: ProfileSpec) -> None:
    profile = WindowProfile.empty(spec)
    profile.add_batch(make_rows(1000, "2026-10-01", seed=5))
    payload = to_payload(profile.finish())
    import json

    again = from_payload(json.loads(json.dumps(payload, allow_nan=False)), spec)
    assert to_payload(again) == payload


def test_ks_from_counts_equals_the_exact_ks_on_the_quantile_sample():
    rng = np.random.default_rng(1)
    profile = profile_numerical(rng.lognormal(size=20_000))
    window = rng.lognormal(0.1, 1.1, size=50_000)
    counts = NumericalCounts.empty(profile)
    counts.add(window)
    quantiles = np.asarray(profile["quantiles"])
    assert ks_from_counts(quantiles, counts) == pytest.approx(ks_ecdf(quantiles, np.sort(window))[0], abs=1e-12)


@pytest.mark.parametrize(
    ("make_ref", "make_cur"),
    [
        (lambda r: r.normal(size=200_000), lambda r: r.normal(0.2, 1.1, size=100_000)),
        (lambda r: r.lognormal(3, 0.5, size=200_000), lambda r: r.lognormal(3, 0.5, size=100_000) * 1.8),
        (lambda r: r.integers(0, 24, size=200_000).astype(float), lambda r: r.integers(0, 20, size=100_000) * 1.0),
        (lambda r: r.exponential(size=200_000), lambda r: r.exponential(size=100_000)),  # no drift
    ],
)
def test_ks_and_wasserstein_from_counts_are_within_the_documented_tolerance_of_scipy(make_ref, make_cur):
    rng = np.random.default_rng(7)
    ref, cur = make_ref(rng), make_cur(rng)
    profile = profile_numerical(ref)
    counts = NumericalCounts.empty(profile)
    for part in np.array_split(cur, 5):
        counts.add(part)
    quantiles = np.asarray(profile["quantiles"])
    exact_ks = sps.ks_2samp(ref, cur).statistic
    assert abs(ks_from_counts(quantiles, counts) - exact_ks) <= 2e-3  # docs/drift.md: within 2/1000
    w, bound = wasserstein_from_counts(quantiles, counts)
    on_quantiles = wasserstein_sorted(quantiles, np.sort(cur))
    assert abs(w - on_quantiles) <= bound + 1e-9  # the reported error bound holds
    scale = np.std(ref)
    assert abs(w - sps.wasserstein_distance(ref, cur)) / scale <= 1e-2  # docs/drift.md: within 0.01 std


def test_latency_sketch_quantiles_are_within_its_relative_accuracy():
    rng = np.random.default_rng(3)
    values = rng.lognormal(4.0, 0.6, size=100_000)
    sketch = QuantileSketch()
    other = QuantileSketch()
    sketch.add(values[:60_000])
    other.add(np.r_[values[60_000:], np.nan])
    merged = sketch.merge(other)
    assert merged.count == 100_000 and merged.nulls == 1
    for q in (0.5, 0.95, 0.99):
        assert merged.quantile(q) == pytest.approx(np.percentile(values, q * 100), rel=merged.accuracy)
    assert QuantileSketch.from_dict(merged.to_dict()) == merged
    assert QuantileSketch().quantile(0.5) is None


def test_duplicate_ids_are_exact_and_spill_to_disk_beyond_the_buffer():
    ids = np.r_[np.arange(10_000), np.arange(0, 10_000, 4)]  # 2,500 repeats
    counter = DuplicateCounter(buffer_hashes=1_000)
    for part in np.array_split(np.random.default_rng(0).permutation(ids), 13):
        counter.add(pd.Series(part))
    assert counter._spill.used  # spilled: memory stays bounded by the buffer
    assert counter.duplicates() == 2_500
    counter.close()
    # strings and whole floats hash like ints would in every batch; nulls are not duplicates
    mixed = DuplicateCounter()
    mixed.add(pd.Series([1.0, 2.0, None]))
    mixed.add(pd.Series([1, 3], dtype="int64"))
    mixed.add(pd.Series(["x", "x", None], dtype=object))
    assert (mixed.duplicates(), mixed.nulls) == (2, 2)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50),
    st.lists(st.floats(-2e6, 2e6, allow_nan=False), max_size=200),
)
@example([0.0, 1.1125369292536007e-308], [0.0, 5e-309, 1.0])  # a subnormal span: the bucket table would overflow
def test_grid_locator_equals_searchsorted(points, values):
    from watchkeeper.drift.counts import GridLocator

    grid = np.unique(np.asarray(points))
    x = np.asarray(values + points, dtype=float)  # values on the grid points themselves too
    np.testing.assert_array_equal(GridLocator(grid).locate(x), np.searchsorted(grid, x, side="left"))


@pytest.mark.parametrize("seed", range(5))
def test_grid_locator_on_skewed_and_discrete_grids(seed):
    from watchkeeper.drift.counts import GridLocator

    rng = np.random.default_rng(seed)
    for ref, values in [
        (rng.lognormal(0, 2, 5_000), np.r_[rng.lognormal(0, 2.5, 50_000), 0.0, -1.0, 1e-300, 1e300]),
        (rng.integers(0, 24, 5_000) * 1.0, rng.integers(-3, 30, 50_000) * 1.0),
        (rng.pareto(1.5, 5_000), rng.pareto(1.2, 50_000)),
    ]:
        grid = np.unique(np.quantile(ref, np.linspace(0, 1, 1001)))
        x = np.r_[values, grid, np.nextafter(grid, np.inf), np.nextafter(grid, -np.inf)]
        idx, equal = GridLocator(grid).slots(x)
        expected = np.searchsorted(grid, x, side="left")
        np.testing.assert_array_equal(idx, expected)
        np.testing.assert_array_equal(equal, np.r_[grid, np.inf][expected] == x)
