"""Pure drift statistics on tiny hand-built data, checked by hand and against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from watchkeeper.drift.stats import (
    DEFAULT_EPS,
    chi_square,
    jensen_shannon,
    ks_ecdf,
    ks_statistic,
    psi,
    reference_scale,
    wasserstein_normalized,
    wasserstein_sorted,
)
from watchkeeper.exceptions import DataError

SAMPLES = [
    ([1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]),
    ([0.1, 0.4, 0.4, 0.9], [0.4, 0.4, 0.5]),  # ties inside and across samples
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),  # identical
    ([5.0], [1.0, 2.0, 3.0, 4.0]),
    ([-1.5, 0.0, 2.5, 3.0, 7.0, 7.0, 8.0], [-3.0, -2.0, 0.5, 0.5, 1.0, 9.0, 12.0, 12.5]),
    (list(np.arange(20.0)), list(np.arange(10.0, 40.0))),  # equal-size-free, many steps
    (list(np.arange(30.0) / 3), list(np.arange(30.0) / 3 + 2.5)),  # equal sizes
]


# --- psi --------------------------------------------------------------------------------------------


def test_psi_by_hand():
    # p = (.5, .5), q = (.25, .75): (-.25) ln(.5) + (.25) ln(1.5) = .25 ln 3
    assert psi([50, 50], [25, 75]) == pytest.approx(0.25 * math.log(3.0))
    assert psi([10, 20, 30, 40], [10, 20, 30, 40]) == 0.0
    assert psi([1, 1, 2], [2, 2, 4]) == pytest.approx(0.0, abs=1e-15)  # only shares matter


def test_psi_is_symmetric():
    assert psi([5, 10, 85], [20, 30, 50]) == pytest.approx(psi([20, 30, 50], [5, 10, 85]))


def test_psi_clips_empty_bins_at_eps():
    # The empty reference bin has share 0, clipped to eps (no renormalisation).
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - DEFAULT_EPS) * math.log(0.5 / DEFAULT_EPS)
    assert psi([100, 0], [50, 50]) == pytest.approx(expected)
    assert math.isfinite(psi([100, 0], [0, 100]))
    assert psi([100, 0], [50, 50], eps=1e-2) == pytest.approx(-0.5 * math.log(0.5) + 0.49 * math.log(50.0))


def test_psi_rejects_misaligned_or_empty_counts():
    with pytest.raises(DataError, match=r"^reference and current counts must be aligned, got 2 and 3 bins$"):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(DataError, match=r"^both distributions need at least one count"):
        psi([0, 0], [1, 2])
    with pytest.raises(DataError, match=r"^current counts must hold finite non-negative counts"):
        psi([1, 2], [1, -2])


# --- Kolmogorov-Smirnov -----------------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "cur"), SAMPLES)
def test_ks_statistic_equals_scipy(ref, cur):
    expected = sps.ks_2samp(ref, cur)
    d, p_value = ks_statistic(ref, cur)
    assert d == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)


def test_ks_statistic_by_hand():
    # ECDFs of {1,2,3,4,5} and {3..8}: at x=2 they are 2/5 and 0 -> at x=5: 1 and 3/6; max gap is at 2: 0.4...
    # the largest is just below 3 (2/5 vs 0) or at 5 (1 vs 1/2): D = 0.5
    d, _ = ks_statistic([1, 2, 3, 4, 5], [3, 4, 5, 6, 7, 8])
    assert d == pytest.approx(0.5)
    assert ks_statistic([1, 2, 3], [1, 2, 3]) == (0.0, 1.0)


def test_ks_statistic_large_sample_uses_asymptotic_pvalue_like_scipy():
    rng = np.random.default_rng(3)
    ref, cur = rng.normal(size=10_001), rng.normal(0.3, size=40)
    expected = sps.ks_2samp(ref, cur)  # method="auto" switches to "asymp" above 10000
    d, p_value = ks_statistic(ref, cur)
    assert d == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize(("ref", "cur"), SAMPLES)
def test_ks_ecdf_equals_scipy_statistic_and_asymptotic_pvalue(ref, cur):
    expected = sps.ks_2samp(ref, cur, method="asymp")
    d, p_value = ks_ecdf(ref, np.sort(cur))
    assert d == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_ks_ecdf_pvalue_uses_the_represented_reference_size():
    ref, cur = [0.0, 1.0, 2.0, 3.0], np.array([1.5, 2.5, 3.5, 4.5])
    d, p_value = ks_ecdf(ref, cur, n_ref=1_000_000)
    assert d == pytest.approx(0.5)
    assert p_value == pytest.approx(sps.kstwo.sf(0.5, round(1_000_000 * 4 / 1_000_004)))


def test_ks_rejects_empty_samples():
    with pytest.raises(DataError, match=r"^the KS test needs at least one value in both samples$"):
        ks_statistic([], [1.0])
    with pytest.raises(DataError, match=r"^the KS test needs at least one value in both samples$"):
        ks_ecdf([1.0], np.array([]))


# --- Wasserstein ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "cur"), SAMPLES)
def test_wasserstein_sorted_equals_scipy(ref, cur):
    expected = sps.wasserstein_distance(ref, cur)
    assert wasserstein_sorted(np.sort(ref), np.sort(cur)) == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert wasserstein_sorted(np.sort(cur), np.sort(ref)) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_wasserstein_sorted_by_hand():
    # Shifting every value by 2 moves all the mass by 2.
    assert wasserstein_sorted([0.0, 1.0, 5.0], [2.0, 3.0, 7.0]) == pytest.approx(2.0)
    # Q_a = 0 on [0, 1/2), 1 on [1/2, 1); Q_b = 0 on [0, 1/3), 3 on [1/3, 1): |.| = 3 on [1/3, 1/2), 2 on [1/2, 1)
    assert wasserstein_sorted([0.0, 1.0], [0.0, 3.0, 3.0]) == pytest.approx(3 / 6 + 2 / 2)


def test_wasserstein_normalized_divides_by_the_reference_std():
    ref, cur = [1.0, 2.0, 3.0, 4.0, 10.0], [2.0, 2.5, 6.0]
    expected = sps.wasserstein_distance(ref, cur) / np.std(ref)
    assert wasserstein_normalized(ref, cur) == pytest.approx(expected)
    assert wasserstein_normalized(ref, cur, scale=2.0) == pytest.approx(sps.wasserstein_distance(ref, cur) / 2.0)


def test_wasserstein_normalized_constant_reference_falls_back_to_one():
    # std 0 and IQR 0: the distance is not scaled.
    assert wasserstein_normalized([5.0, 5.0, 5.0], [6.0, 7.0]) == pytest.approx(1.5)


def test_reference_scale_fallbacks():
    assert reference_scale(3.0, 2.0) == 3.0
    assert reference_scale(0.0, 2.0) == 2.0
    assert reference_scale(math.nan, 2.0) == 2.0
    assert reference_scale(None, 0.5) == 0.5
    assert reference_scale(0.0, 0.0) == 1.0
    assert reference_scale(None, None) == 1.0


def test_wasserstein_normalized_rejects_bad_scale():
    with pytest.raises(DataError, match=r"^the Wasserstein scale must be a finite positive number, got 0\.0$"):
        wasserstein_normalized([1.0], [2.0], scale=0.0)


# --- Jensen-Shannon ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "q"),
    [([1, 2, 3, 0], [0, 3, 3, 4]), ([10, 10], [1, 3]), ([5, 0, 0], [0, 0, 9]), ([1, 1, 1], [2, 2, 2])],
)
def test_jensen_shannon_equals_scipy(p, q):
    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)


def test_jensen_shannon_bounds_by_hand():
    assert jensen_shannon([3, 7], [3, 7]) == 0.0
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)  # disjoint supports: distance 1 in base 2
    # p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4): JSD = (log2(4/3) + (1/2) log2(2/3) + (1/2) log2(2)) / 2
    divergence = (math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5) / 2
    assert jensen_shannon([4, 0], [2, 2]) == pytest.approx(math.sqrt(divergence))


# --- chi-square -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "cur"), [([10, 20, 30], [12, 18, 30]), ([500, 300, 200], [40, 40, 20]), ([1, 1], [9, 1])]
)
def test_chi_square_equals_scipy(ref, cur):
    ref_arr, cur_arr = np.array(ref, dtype=float), np.array(cur, dtype=float)
    expected = sps.chisquare(cur_arr, f_exp=ref_arr / ref_arr.sum() * cur_arr.sum())
    statistic, p_value, cramers_v = chi_square(ref, cur)
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)
    assert cramers_v == pytest.approx(min(1.0, math.sqrt(expected.statistic / (cur_arr.sum() * (len(ref) - 1)))))


def test_chi_square_by_hand():
    # expected (10, 20, 30) vs observed (12, 18, 30): 4/10 + 4/20 + 0 = 0.6, V = sqrt(0.6 / (60 * 2)) = sqrt(0.005)
    statistic, p_value, cramers_v = chi_square([10, 20, 30], [12, 18, 30])
    assert statistic == pytest.approx(0.6)
    assert p_value == pytest.approx(math.exp(-0.3))  # chi2 with 2 dof: sf(x) = exp(-x/2)
    assert cramers_v == pytest.approx(math.sqrt(0.005))


def test_chi_square_unseen_category_is_smoothed_not_infinite():
    statistic, p_value, cramers_v = chi_square([50, 50, 0], [45, 45, 10])
    shares = np.array([0.5, 0.5, DEFAULT_EPS]) / (1 + DEFAULT_EPS)
    expected = sps.chisquare([45, 45, 10], f_exp=shares * 100)
    assert math.isfinite(statistic)
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)
    assert cramers_v == 1.0  # capped: sqrt(chi2 / (100 * 2)) is far above 1


def test_chi_square_drops_categories_absent_on_both_sides_and_handles_one_category():
    assert chi_square([10, 0, 20], [5, 0, 10]) == pytest.approx(chi_square([10, 20], [5, 10]))
    assert chi_square([7], [3]) == (0.0, 1.0, 0.0)


def test_binomial_quantile_and_chi2_p_values_equal_scipy_stats() -> None:
    """The drift path avoids importing ``scipy.stats`` (its import is a quarter of a small check); the
    replacements built on ``scipy.special`` give scipy.stats' answers."""
    from watchkeeper.drift.engine import REFERENCE_QUANTILE, binom_quantile
    from watchkeeper.drift.stats import chi2_sf

    rng = np.random.default_rng(0)
    rates = [1e-9, 1e-6, 1e-4, 0.001, 0.01, 0.05, 0.1, 0.3, 0.5, 0.9, 0.999999, *rng.random(10)]
    for n in (1, 2, 3, 10, 999, 12_345, 10**6, 10**7):
        for p in rates:
            # the quantile the engine uses: equal everywhere; any quantile: equal up to float ties (one count)
            assert binom_quantile(REFERENCE_QUANTILE, n, p) == sps.binom.ppf(REFERENCE_QUANTILE, n, p)
            for q in (0.01, 0.5, 0.95):
                assert abs(binom_quantile(q, n, p) - sps.binom.ppf(q, n, p)) <= 1
    for statistic, df in zip(rng.random(100) * 80, rng.integers(1, 300, 100), strict=True):
        assert chi2_sf(float(statistic), int(df)) == pytest.approx(sps.chi2.sf(statistic, df), rel=1e-12)


def test_the_drift_path_does_not_import_scipy_stats_for_a_large_window() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import numpy as np, pandas as pd\n"
        "from watchkeeper.drift.engine import analyze_features\n"
        "from watchkeeper.drift.profile import profile_numerical, profile_categorical\n"
        "rng = np.random.default_rng(1)\n"
        "profiles = {'x': profile_numerical(rng.normal(size=5000)), 'c': profile_categorical(list('aab') * 900)}\n"
        "df = pd.DataFrame({'x': rng.normal(size=6000), 'c': list('abb') * 2000})\n"
        "results = analyze_features(df, {'x': 'numerical', 'c': 'categorical'}, profiles)\n"
        "assert results\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "False"
