"""Pure drift statistics on arrays: no profiles, no thresholds, no pandas.

Every function here is exact. Where scipy has the same statistic the result equals scipy's
(``scipy.stats.ks_2samp``, ``scipy.stats.wasserstein_distance``,
``scipy.spatial.distance.jensenshannon``, ``scipy.stats.chisquare``); the unit tests check it.
The ``*_sorted`` / ``ks_ecdf`` variants take already sorted samples so that the drift engine can
sort each column once and derive every statistic from that one sorted array.

Only ``scipy.special`` is imported here (a quarter of ``scipy.stats``' import time, paid by every check):
chi-square p-values are ``chdtrc``, what ``scipy.stats.chi2.sf`` computes; the exact KS distribution
(``scipy.stats.kstwo``) is imported when a KS p-value is first needed (windows under ``AUTO_SMALL_SAMPLE``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from watchkeeper.exceptions import DataError

#: Floor applied to bin/category proportions before a logarithm or a division (see :func:`psi`).
DEFAULT_EPS = 1e-4
#: Up to this sample size (both samples) :func:`ks_statistic` computes the exact p-value, like scipy's "auto".
KS_EXACT_MAX_N = 10_000

FloatArray = NDArray[np.float64]


def _counts(values: ArrayLike, what: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise DataError(f"{what} must be a 1-d array of counts, got shape {array.shape}")
    if array.size and (not np.all(np.isfinite(array)) or array.min() < 0):
        raise DataError(f"{what} must hold finite non-negative counts, got {array.tolist()[:10]}")
    return array


def _aligned_counts(ref_counts: ArrayLike, cur_counts: ArrayLike) -> tuple[FloatArray, FloatArray]:
    ref = _counts(ref_counts, "reference counts")
    cur = _counts(cur_counts, "current counts")
    if ref.shape != cur.shape:
        raise DataError(f"reference and current counts must be aligned, got {ref.size} and {cur.size} bins")
    if ref.sum() <= 0 or cur.sum() <= 0:
        raise DataError("both distributions need at least one count (reference and current are compared as shares)")
    return ref, cur


def psi(ref_counts: ArrayLike, cur_counts: ArrayLike, eps: float = DEFAULT_EPS) -> float:
    """Population stability index of two aligned count vectors (bins or categories).

    ``PSI = sum((q - p) * ln(q / p))`` with ``p``/``q`` the reference/current shares. Shares are
    clipped from below at ``eps`` (default 1e-4) before the logarithm, without renormalising, so an
    empty bin on either side gives a large but finite term instead of ``inf``.
    """
    ref, cur = _aligned_counts(ref_counts, cur_counts)
    p = np.maximum(ref / ref.sum(), eps)
    q = np.maximum(cur / cur.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_ecdf(ref_points: ArrayLike, cur_sorted: ArrayLike, n_ref: int | None = None) -> tuple[float, float]:
    """Two-sample KS statistic between an equally weighted reference sample and a sorted current sample.

    ``D = sup |F_ref(x) - F_cur(x)|`` is exact for the two empirical CDFs and is evaluated only at the
    reference points (both left and right limits), so it costs ``O(m log n)`` for ``m`` reference points
    whatever the size ``n`` of the current sample. Used on profiles, where ``ref_points`` are the stored
    reference quantiles. ``n_ref`` is the size of the sample the points stand for (defaults to their
    number); the p-value is scipy's asymptotic one, ``kstwo.sf(D, round(n_ref * n / (n_ref + n)))``.
    """
    ref = np.sort(np.asarray(ref_points, dtype=np.float64))
    cur = np.asarray(cur_sorted, dtype=np.float64)
    m, n = ref.size, cur.size
    if m == 0 or n == 0:
        raise DataError("the KS test needs at least one value in both samples")
    d = _ks_distance(ref, cur)
    size = m if n_ref is None else int(n_ref)
    return d, _ks_asymptotic_pvalue(d, size, n)


def _ks_distance(a: FloatArray, b: FloatArray) -> float:
    """Exact sup-distance of the ECDFs of sorted ``a`` and sorted ``b``, evaluated at the points of ``a``.

    Between two consecutive points of ``a`` the ECDF of ``a`` is flat and the ECDF of ``b`` is monotone,
    so the supremum is reached at a point of ``a`` (right limit) or just before one (left limit).
    """
    m, n = a.size, b.size
    fa_right = np.searchsorted(a, a, side="right") / m
    fa_left = np.searchsorted(a, a, side="left") / m
    fb_right = np.searchsorted(b, a, side="right") / n
    fb_left = np.searchsorted(b, a, side="left") / n
    return float(max(np.max(np.abs(fa_right - fb_right)), np.max(np.abs(fa_left - fb_left))))


def ks_pvalue(d: float, n_ref: int, n: int) -> float:
    """Asymptotic p-value of a two-sample KS distance ``d`` between samples of ``n_ref`` and ``n`` values."""
    if n_ref <= 0 or n <= 0:
        return 1.0
    return _ks_asymptotic_pvalue(d, n_ref, n)


def two_sample_chi_square(ref_counts: ArrayLike, cur_counts: ArrayLike) -> tuple[float, float]:
    """Chi-square test of homogeneity of two aligned count vectors: ``(chi2, p_value)``.

    The 2 x k contingency table of reference and current counts (bins or categories empty on both
    sides dropped), as ``scipy.stats.chi2_contingency(..., correction=False)``; ``p = 1`` with fewer
    than two non-empty bins.
    """
    ref, cur = _aligned_counts(ref_counts, cur_counts)
    keep = (ref + cur) > 0
    ref, cur = ref[keep], cur[keep]
    if ref.size < 2:
        return 0.0, 1.0
    n_ref, n_cur = float(ref.sum()), float(cur.sum())
    total = n_ref + n_cur
    column = ref + cur
    exp_ref, exp_cur = column * n_ref / total, column * n_cur / total
    chi2 = float(np.sum((ref - exp_ref) ** 2 / exp_ref) + np.sum((cur - exp_cur) ** 2 / exp_cur))
    return chi2, chi2_sf(chi2, ref.size - 1)


def chi2_sf(statistic: float, df: int) -> float:
    """The chi-square survival function (the p-value of ``statistic`` with ``df`` degrees of freedom), as
    ``scipy.stats.chi2.sf``."""
    return float(special.chdtrc(df, statistic))


def _ks_asymptotic_pvalue(d: float, n1: int, n2: int) -> float:
    from scipy import stats  # the exact KS distribution: only for small windows (see the module docstring)

    en = float(n1) * float(n2) / (float(n1) + float(n2))
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def ks_statistic(ref: ArrayLike, cur: ArrayLike) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test: ``(D, p_value)``, equal to ``scipy.stats.ks_2samp``.

    Like scipy's default ``method="auto"``, the p-value is exact (lattice-path count, ``O(m n)``) when
    both samples have at most :data:`KS_EXACT_MAX_N` values and asymptotic otherwise. NaN must be
    removed by the caller.
    """
    a = np.sort(np.asarray(ref, dtype=np.float64))
    b = np.sort(np.asarray(cur, dtype=np.float64))
    m, n = a.size, b.size
    if m == 0 or n == 0:
        raise DataError("the KS test needs at least one value in both samples")
    d = _ks_distance(a, b) if m <= n else _ks_distance(b, a)
    if max(m, n) <= KS_EXACT_MAX_N:
        return d, _ks_exact_pvalue(d, m, n)
    return d, _ks_asymptotic_pvalue(d, m, n)


def _ks_exact_pvalue(d: float, m: int, n: int) -> float:
    """``P(D_{m,n} >= d)`` under the null: share of monotone lattice paths leaving the band ``|i/m - j/n| < d``."""
    g = math.gcd(m, n)
    lcm = (m // g) * n
    h = int(np.round(d * lcm))  # as scipy: D is a multiple of 1/lcm(m, n) up to rounding
    if h == 0:
        return 1.0
    bound = h * g  # |i/m - j/n| >= d  <=>  |i*n - j*m| >= h*g, in integers
    if m > n:
        m, n = n, m
    i = np.arange(m + 1)
    inside = np.zeros(m + 1)
    inside[0] = 1.0
    # Walk the anti-diagonals k = i + j; ``inside[i]`` is the probability that a uniformly random path
    # reaches (i, k - i) without having left the band. From there it steps to i + 1 with
    # probability (m - i) / (m + n - k), else to j + 1.
    for k in range(m + n):
        remaining = m + n - k
        j = k - i
        step_i = inside * ((m - i) / remaining)
        step_j = inside * (np.clip(n - j, 0, None) / remaining)
        nxt = step_j
        nxt[1:] += step_i[:-1]
        nxt[np.abs(i * n - (k + 1 - i) * m) >= bound] = 0.0
        inside = nxt
    return float(np.clip(1.0 - inside[m], 0.0, 1.0))


def wasserstein_sorted(a_sorted: ArrayLike, b_sorted: ArrayLike) -> float:
    """Exact 1-Wasserstein distance between two equally weighted samples given sorted.

    Uses the quantile form ``W1 = integral over u in [0, 1] of |Q_a(u) - Q_b(u)|``: one pass over ``b``
    pairing each value with the ``a`` value covering the same quantile range, plus a correction for the
    ``a`` steps that fall inside one of ``b``'s ranges. ``O(n + m)``, no merge or re-sort.
    """
    a = np.asarray(a_sorted, dtype=np.float64)
    b = np.asarray(b_sorted, dtype=np.float64)
    m, n = a.size, b.size
    if m == 0 or n == 0:
        raise DataError("the Wasserstein distance needs at least one value in both samples")
    # b value i covers u in [i/n, (i+1)/n); a value j covers [j/m, (j+1)/m). Pair b_i with the a value
    # covering i/n: a_j is used by i in [ceil(j n / m), ceil((j + 1) n / m)).
    starts = -((-np.arange(m + 1, dtype=np.int64) * n) // m)
    paired = np.repeat(a, np.diff(starts))
    diff = b - paired
    np.abs(diff, out=diff)
    total = float(diff.sum()) / n
    # An a step at u = k/m strictly inside b's range i: from k/m to (i+1)/n the pair is (b_i, a_k), not
    # (b_i, a_{k-1}). Several steps in one range telescope.
    k = np.arange(1, m, dtype=np.int64)
    i = (k * n) // m
    strict = (k * n) % m != 0
    k, i = k[strict], i[strict]
    if k.size:
        width = ((i + 1) * m - k * n) / (float(n) * float(m))
        b_i = b[i]
        total += float(np.sum((np.abs(b_i - a[k]) - np.abs(b_i - a[k - 1])) * width))
    return total


def reference_scale(std: float | None, iqr: float | None) -> float:
    """Scale used to normalise the Wasserstein distance: ``std``, else the IQR when std is 0/NaN/None, else 1."""
    for candidate in (std, iqr):
        if candidate is not None and math.isfinite(candidate) and candidate > 0:
            return float(candidate)
    return 1.0


def wasserstein_normalized(ref: ArrayLike, cur: ArrayLike, scale: float | None = None) -> float:
    """``scipy.stats.wasserstein_distance(ref, cur) / scale``: the distance in units of the reference spread.

    ``scale`` defaults to :func:`reference_scale` of the reference: its standard deviation (ddof=0),
    falling back to its interquartile range when the std is 0 or NaN, then to 1.
    """
    a = np.sort(np.asarray(ref, dtype=np.float64))
    b = np.sort(np.asarray(cur, dtype=np.float64))
    if scale is None:
        if a.size == 0:
            raise DataError("the Wasserstein distance needs at least one value in both samples")
        q25, q75 = np.quantile(a, [0.25, 0.75])
        scale = reference_scale(float(np.std(a)), float(q75 - q25))
    elif not (math.isfinite(scale) and scale > 0):
        raise DataError(f"the Wasserstein scale must be a finite positive number, got {scale!r}")
    return wasserstein_sorted(a, b) / scale


def jensen_shannon(p_counts: ArrayLike, q_counts: ArrayLike) -> float:
    """Jensen-Shannon **distance** (square root of the divergence), base 2, of two aligned count vectors.

    Equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)``; lies in [0, 1]; zero counts are fine.
    """
    ref, cur = _aligned_counts(p_counts, q_counts)
    p = ref / ref.sum()
    q = cur / cur.sum()
    mid = (p + q) / 2.0
    divergence = (np.sum(_rel_entr(p, mid)) + np.sum(_rel_entr(q, mid))) / (2.0 * math.log(2.0))
    return float(min(1.0, math.sqrt(max(0.0, float(divergence)))))


def _rel_entr(x: FloatArray, y: FloatArray) -> FloatArray:
    out = np.zeros_like(x)
    pos = x > 0
    out[pos] = x[pos] * np.log(x[pos] / y[pos])
    return out


def chi_square(ref_counts: ArrayLike, cur_counts: ArrayLike, eps: float = DEFAULT_EPS) -> tuple[float, float, float]:
    """Goodness of fit of current category counts to the reference shares: ``(chi2, p_value, cramers_v)``.

    Expected counts are the reference shares times the current total, so with every category present
    in the reference the result equals ``scipy.stats.chisquare(cur, f_exp=expected)``. Categories the
    reference never saw (count 0) would have an expected count of 0 and an infinite statistic: their
    reference share is set to ``eps`` (default 1e-4, as in :func:`psi`) and all shares are renormalised
    to sum to 1. Categories absent from both sides are dropped. Cramér's V is
    ``sqrt(chi2 / (n * (k - 1)))`` for ``k`` categories and ``n`` current values, capped at 1 (for a
    goodness-of-fit test it can exceed 1 when expected shares are tiny); with one category it is 0.
    """
    ref, cur = _aligned_counts(ref_counts, cur_counts)
    keep = (ref > 0) | (cur > 0)
    ref, cur = ref[keep], cur[keep]
    k = ref.size
    n = float(cur.sum())
    shares = ref / ref.sum()
    if np.any(ref == 0):
        shares = np.where(ref == 0, eps, shares)
        shares = shares / shares.sum()
    expected = shares * n
    statistic = float(np.sum((cur - expected) ** 2 / expected))
    if k < 2:
        return statistic, 1.0, 0.0
    p_value = chi2_sf(statistic, k - 1)
    cramers_v = min(1.0, math.sqrt(statistic / (n * (k - 1))))
    return statistic, p_value, cramers_v
