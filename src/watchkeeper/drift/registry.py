"""Drift tests registered by name, and the automatic choice of a test for a feature.

A drift test is a small class with a few attributes and one method, :meth:`DriftTest.compute`, which
compares a reference profile (see :mod:`watchkeeper.drift.profile`) with the current window. It is
registered with :func:`register_drift_test` and looked up with :func:`get_drift_test`.

Decisions are made on effect sizes, never on bare p-values: with a million rows every p-value is tiny
and a p-value rule would flag everything. Every test also requires a significance test at
``p < SIGNIFICANCE_LEVEL`` so that small windows (or a small reference) do not flag noise: ``ks`` and
``chisquare`` their own p-value, ``psi`` and ``jensenshannon`` the two-sample chi-square test of the
same counts, ``wasserstein`` the KS test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import NDArray

from watchkeeper.drift import stats
from watchkeeper.drift.counts import (
    CategoricalCounts,
    FeatureCounts,
    NumericalCounts,
    ks_from_counts,
    wasserstein_from_counts,
)
from watchkeeper.drift.profile import CATEGORICAL, KINDS, NUMERICAL, reference_counts
from watchkeeper.exceptions import ConfigError, UnknownNameError
from watchkeeper.results import Status

#: p-value below which a test that has one (ks, chisquare) counts its effect size as real.
SIGNIFICANCE_LEVEL = 0.05
#: Below this many current values the automatic choice takes a test with a p-value (ks, chisquare).
AUTO_SMALL_SAMPLE = 1000


@dataclass(frozen=True)
class DriftStat:
    """What a drift test measured: the judged statistic (an effect size), its p-value if any, and extras."""

    statistic: float
    p_value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


class DriftTest:
    """Base of drift tests. Subclasses set the class attributes and implement :meth:`compute`.

    ``current`` is the window's counts of the feature (:mod:`watchkeeper.drift.counts`): for a
    numerical feature the counts on the reference grid, for a categorical feature the counts of the
    reference categories and of the categories the reference never saw.
    """

    #: Registry key, used in configs and as the ``metric`` of the drift result.
    name: ClassVar[str]
    #: Feature kinds the test applies to (``numerical``, ``categorical``).
    kinds: ClassVar[frozenset[str]]
    #: ``(warning, critical)``: the statistic at or above which the drift is reported.
    default_thresholds: ClassVar[tuple[float, float]]
    #: One line for docs and messages.
    description: ClassVar[str]
    #: Whether a finding also needs ``p < SIGNIFICANCE_LEVEL``.
    needs_significance: ClassVar[bool] = False

    def compute(self, profile: dict[str, Any], current: FeatureCounts) -> DriftStat:
        """Compare the window's counts with the reference profile."""
        raise NotImplementedError

    def decide(self, stat: DriftStat, warning: float, critical: float) -> Status:
        """``critical``/``warning`` when the statistic reaches the threshold (and, if needed, p is significant)."""
        if not math.isfinite(stat.statistic) or stat.statistic < warning:
            return Status.OK
        if self.needs_significance and stat.p_value is not None and not stat.p_value < SIGNIFICANCE_LEVEL:
            return Status.OK
        return Status.CRITICAL if stat.statistic >= critical else Status.WARNING


_REGISTRY: dict[str, DriftTest] = {}
_T = TypeVar("_T", bound=type[DriftTest])


def register_drift_test(cls: _T) -> _T:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(
            f"a drift test named {cls.name!r} is already registered ({type(_REGISTRY[cls.name]).__name__})"
        )
    if not cls.kinds or not cls.kinds <= KINDS:
        raise ValueError(f"drift test {cls.name!r} has kinds {sorted(cls.kinds)}; use a subset of {sorted(KINDS)}")
    _REGISTRY[cls.name] = cls()
    return cls


def get_drift_test(name: str) -> DriftTest:
    """The registered drift test called ``name``; :class:`UnknownNameError` lists the available ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError(
            f"No drift test named {name!r}. Available drift tests: {', '.join(available_tests())}"
        ) from None


def available_tests(kind: str | None = None) -> list[str]:
    """Sorted names of the registered drift tests, optionally only those applying to ``kind``."""
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"unknown feature kind {kind!r}; use one of: {', '.join(sorted(KINDS))}")
    return sorted(name for name, test in _REGISTRY.items() if kind is None or kind in test.kinds)


def auto_method(kind: str, n_current: int) -> str:
    """The drift test used when a feature's method is ``auto``. The one place this rule lives.

    Small windows (fewer than :data:`AUTO_SMALL_SAMPLE` current values) get a test with a p-value that
    guards against noise: ``ks`` for numerical, ``chisquare`` for categorical features. Larger windows
    get ``psi`` on the stored bins / categories, which is cheap and stable at any size.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown feature kind {kind!r}; use one of: {', '.join(sorted(KINDS))}")
    if n_current < AUTO_SMALL_SAMPLE:
        return "ks" if kind == NUMERICAL else "chisquare"
    return "psi"


def _aligned_counts(profile: dict[str, Any], current: FeatureCounts) -> tuple[NDArray[np.float64], NDArray[Any]]:
    """Reference and current counts on the same bins (numerical) or categories (categorical)."""
    if isinstance(current, NumericalCounts):
        return np.asarray(profile["counts"], dtype=np.float64), current.bin_counts(profile["edges"])
    vector, _ = current.aligned()
    return reference_counts(profile, vector.size), vector


def _ks(profile: dict[str, Any], current: FeatureCounts) -> tuple[float, float]:
    assert isinstance(current, NumericalCounts)
    quantiles = np.asarray(profile["quantiles"], dtype=np.float64)
    d = ks_from_counts(quantiles, current)
    return d, stats.ks_pvalue(d, int(profile["n"]), current.n)


@register_drift_test
class PSI(DriftTest):
    """Population stability index on the reference bins (numerical) or categories (categorical)."""

    name = "psi"
    kinds = frozenset({NUMERICAL, CATEGORICAL})
    default_thresholds = (0.1, 0.25)
    description = (
        "Population stability index of the current shares against the reference bins or categories "
        "(needs the two-sample chi-square test of the same counts at p < 0.05)."
    )
    needs_significance = True

    def compute(self, profile: dict[str, Any], current: FeatureCounts) -> DriftStat:
        """PSI of the current bin/category counts against the reference ones."""
        ref, cur = _aligned_counts(profile, current)
        _, p_value = stats.two_sample_chi_square(ref, cur)
        return DriftStat(stats.psi(ref, cur), p_value, {"bins": int(ref.size)})


@register_drift_test
class KolmogorovSmirnov(DriftTest):
    """Two-sample KS statistic D against the stored reference quantiles."""

    name = "ks"
    kinds = frozenset({NUMERICAL})
    default_thresholds = (0.1, 0.2)
    description = "Kolmogorov-Smirnov distance D between the reference and current CDFs (needs p < 0.05)."
    needs_significance = True

    def compute(self, profile: dict[str, Any], current: FeatureCounts) -> DriftStat:
        """D and its asymptotic p-value, the reference quantiles standing for a sample of ``profile['n']``."""
        d, p_value = _ks(profile, current)
        return DriftStat(d, p_value, {})


@register_drift_test
class Wasserstein(DriftTest):
    """1-Wasserstein distance in units of the reference standard deviation."""

    name = "wasserstein"
    kinds = frozenset({NUMERICAL})
    default_thresholds = (0.1, 0.2)
    description = (
        "Wasserstein (earth mover's) distance divided by the reference std (IQR, then 1, if std is 0); "
        "needs the KS test at p < 0.05."
    )
    needs_significance = True

    def compute(self, profile: dict[str, Any], current: FeatureCounts) -> DriftStat:
        """Distance between the reference quantiles and the current values, divided by the reference scale."""
        assert isinstance(current, NumericalCounts)
        quantiles = np.asarray(profile["quantiles"], dtype=np.float64)
        distance, bound = wasserstein_from_counts(quantiles, current)
        scale = stats.reference_scale(profile["std"], profile["iqr"])
        _, p_value = _ks(profile, current)
        return DriftStat(distance / scale, p_value, {"distance": distance, "scale": scale, "max_error": bound / scale})


@register_drift_test
class JensenShannon(DriftTest):
    """Jensen-Shannon distance (base 2) of the binned/categorical shares."""

    name = "jensenshannon"
    kinds = frozenset({NUMERICAL, CATEGORICAL})
    default_thresholds = (0.1, 0.2)
    description = (
        "Jensen-Shannon distance (base 2, in [0, 1]) of the current shares against the reference ones "
        "(needs the two-sample chi-square test of the same counts at p < 0.05)."
    )
    needs_significance = True

    def compute(self, profile: dict[str, Any], current: FeatureCounts) -> DriftStat:
        """JS distance of the current bin/category counts against the reference ones."""
        ref, cur = _aligned_counts(profile, current)
        _, p_value = stats.two_sample_chi_square(ref, cur)
        return DriftStat(stats.jensen_shannon(ref, cur), p_value, {"bins": int(ref.size)})


@register_drift_test
class ChiSquare(DriftTest):
    """Chi-square goodness of fit of the current categories, judged on Cramér's V."""

    name = "chisquare"
    kinds = frozenset({CATEGORICAL})
    default_thresholds = (0.1, 0.2)
    description = "Chi-square goodness of fit to the reference shares; the value is Cramér's V (needs p < 0.05)."
    needs_significance = True

    def compute(self, profile: dict[str, Any], current: FeatureCounts) -> DriftStat:
        """Cramér's V as the statistic, with the chi-square statistic and degrees of freedom in details."""
        assert isinstance(current, CategoricalCounts)
        vector, _ = current.aligned()
        ref = reference_counts(profile, vector.size)
        chi2, p_value, cramers_v = stats.chi_square(ref, vector)
        categories = int(np.count_nonzero((ref > 0) | (vector > 0)))
        return DriftStat(cramers_v, p_value, {"chi2": chi2, "dof": max(categories - 1, 0)})
