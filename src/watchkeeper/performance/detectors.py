"""Change detection on a metric's history: flag a slow decline long before a fixed threshold would.

A detector reads a metric's window values, oldest first (``None`` for missing windows, which are
skipped). The series is first **standardised against its warm-up**: the mean and standard deviation
(ddof=1) of the first ``warmup`` usable values (default :data:`DEFAULT_WARMUP`), so thresholds are in
units of the window-to-window noise whatever the metric or window size. The caller may pass ``mean``
and/or ``std`` instead (e.g. learned from the reference's chunks, see :mod:`watchkeeper.performance.trend`);
with both given the warm-up may be 0: alarms from the first window. The standardised series is oriented
so that a degradation is positive: ``direction="decrease"`` for accuracy-like metrics, ``"increase"`` for
error-like ones (mae, log_loss). Alarms are only raised after the warm-up.

Detectors are registered by name (:func:`get_detector`, :func:`available_detectors`):

- ``cusum`` (one-sided tabular CUSUM): ``S_t = max(0, S_{t-1} + z_t - k)`` from the end of the warm-up;
  alarm when ``S_t > h`` (defaults ``k=1``, ``h=8``). ``k`` is half the shift worth detecting quickly,
  ``h`` the threshold. With an estimated warm-up level a small ``k`` alarms often on stationary noise.
- ``page_hinkley``: ``m_t = sum_i (z_i - mean(z_1..z_i) - delta)`` over the whole series, statistic
  ``m_t - min_i m_i``; alarm when it exceeds ``threshold`` (defaults ``delta=0.5``, ``threshold=12``).
  ``delta`` is the tolerated deviation from the running mean per window. Because its
  mean is a running one it needs no known in-control level, and adapts (slowly) to a new level.

Defaults are chosen for daily windows over 18 months (see ``benchmarks/bench_degradation.py``): on
stationary noise few series ever alarm, and a steady decline is flagged months before a 10 % relative
drop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np

from watchkeeper.exceptions import ConfigError, UnknownNameError
from watchkeeper.performance.metrics import FloatArray

#: Windows used to estimate the in-control mean and noise of the series.
DEFAULT_WARMUP = 20
#: Directions of a degradation.
DIRECTIONS = ("decrease", "increase")
#: A warm-up standard deviation below this share of ``max(1, |mean|)`` is raised to it (constant series).
STD_FLOOR = 1e-6


@dataclass(frozen=True)
class ChangeResult:
    """Outcome of a detector on one series.

    ``index`` is the position in the input series (``None`` entries included) of the first window that
    raised the alarm; ``statistic`` the detector statistic there (its maximum after the warm-up when there
    is no alarm; ``None`` when the series is too short); ``threshold`` the alarm level.
    """

    alarm: bool
    index: int | None
    statistic: float | None
    threshold: float
    message: str
    method: str = ""
    direction: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class Detector:
    """Base of change detectors: class attributes plus :meth:`path`."""

    #: Registry key (``method=`` of :func:`detect`).
    name: ClassVar[str]
    #: One line for docs and messages.
    description: ClassVar[str]
    #: Parameters and their defaults, in units of the warm-up standard deviation.
    defaults: ClassVar[dict[str, float]]
    #: The parameter that is the alarm threshold.
    threshold_param: ClassVar[str]

    def path(self, z: FloatArray, start: int, params: dict[str, float]) -> FloatArray:
        """The statistic after each value of the oriented standardised series ``z`` (degradation positive);
        ``start`` is the first monitored position (the end of the warm-up)."""
        raise NotImplementedError


_REGISTRY: dict[str, Detector] = {}
_D = TypeVar("_D", bound=type[Detector])


def register_detector(cls: _D) -> _D:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"a detector named {cls.name!r} is already registered ({type(_REGISTRY[cls.name]).__name__})")
    if cls.threshold_param not in cls.defaults:
        raise ValueError(f"detector {cls.name!r}: threshold_param {cls.threshold_param!r} has no default")
    _REGISTRY[cls.name] = cls()
    return cls


def available_detectors() -> list[str]:
    """Sorted names of the registered detectors."""
    return sorted(_REGISTRY)


def get_detector(name: str) -> Detector:
    """The detector called ``name``; :class:`UnknownNameError` lists the available ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError(
            f"No change detector named {name!r}. Available detectors: {', '.join(available_detectors())}"
        ) from None


@register_detector
class Cusum(Detector):
    """One-sided tabular CUSUM against the warm-up level."""

    name = "cusum"
    description = "One-sided tabular CUSUM of the standardised series: S = max(0, S + z - k), alarm when S > h."
    defaults: ClassVar[dict[str, float]] = {"k": 1.0, "h": 8.0}
    threshold_param = "h"

    def path(self, z: FloatArray, start: int, params: dict[str, float]) -> FloatArray:
        k = params["k"]
        out = np.zeros(z.size)
        s = 0.0
        for i in range(start, z.size):
            s = max(0.0, s + float(z[i]) - k)
            out[i] = s
        return out


@register_detector
class PageHinkley(Detector):
    """Page-Hinkley test on the deviations from the running mean."""

    name = "page_hinkley"
    description = "Page-Hinkley: m = cumulative sum of (z - running mean - delta), alarm when m - min(m) > threshold."
    defaults: ClassVar[dict[str, float]] = {"delta": 0.5, "threshold": 12.0}
    threshold_param = "threshold"

    def path(self, z: FloatArray, start: int, params: dict[str, float]) -> FloatArray:
        running = np.cumsum(z) / np.arange(1, z.size + 1)
        m = np.cumsum(z - running - params["delta"])
        result: FloatArray = m - np.minimum.accumulate(m)
        return result


def detect(
    series: Sequence[float | None],
    *,
    method: str = "page_hinkley",
    direction: str = "decrease",
    warmup: int = DEFAULT_WARMUP,
    mean: float | None = None,
    std: float | None = None,
    **params: float,
) -> ChangeResult:
    """Run detector ``method`` on a metric's history (oldest first) for a degradation in ``direction``.

    ``params`` override the detector's :attr:`Detector.defaults` (unknown names raise :class:`ConfigError`).
    """
    detector = get_detector(method)
    if direction not in DIRECTIONS:
        raise ConfigError(
            f"direction {direction!r} is not one of {', '.join(DIRECTIONS)} -- use 'decrease' "
            "for accuracy-like metrics and 'increase' for error-like ones"
        )
    unknown = sorted(set(params) - set(detector.defaults))
    if unknown:
        raise ConfigError(
            f"detector {method!r} has no parameter(s) {unknown} -- its parameters are "
            f"{', '.join(f'{k}={v:g}' for k, v in detector.defaults.items())}"
        )
    # known level and noise (e.g. learned from the reference's chunks): alarms may come from the first window
    minimum = 0 if std is not None and mean is not None else 1 if std is not None else 2
    if warmup < minimum:
        raise ConfigError(
            f"warmup={warmup} is too short to estimate the noise -- use at least {max(minimum, 2)} windows "
            "(or pass std, and mean too for no warm-up)"
        )
    settings = {**detector.defaults, **{k: float(v) for k, v in params.items()}}
    threshold = settings[detector.threshold_param]
    positions = [i for i, v in enumerate(series) if v is not None and math.isfinite(v)]
    values = np.array([series[i] for i in positions], dtype=np.float64)
    details: dict[str, Any] = {"params": settings, "warmup": warmup, "n_used": len(positions)}
    common = {"threshold": threshold, "method": method, "direction": direction}
    if values.size <= warmup:
        message = f"not enough windows for {method}: {values.size} usable, {warmup + 1} needed"
        return ChangeResult(False, None, None, message=message, details=details, **common)  # type: ignore[arg-type]
    head = values[:warmup]
    level = float(head.mean()) if mean is None else float(mean)
    noise = float(head.std(ddof=1)) if std is None else float(std)  # std is None implies warmup >= 2
    noise = max(noise, STD_FLOOR * max(1.0, abs(level)))
    details.update({"mean": level, "std": noise})
    z = (values - level) / noise
    oriented = -z if direction == "decrease" else z
    path = detector.path(oriented, warmup, settings)
    monitored = path[warmup:]
    over = np.flatnonzero(monitored > threshold)
    if over.size:
        k = warmup + int(over[0])
        index = positions[k]
        details["alarm_value"] = float(values[k])
        message = (
            f"{method} alarm at window {index}: sustained {direction} from the warm-up level {level:.4g} "
            f"(statistic {path[k]:.3g} > {threshold:g}, in units of the noise std {noise:.3g})"
        )
        return ChangeResult(True, index, float(path[k]), message=message, details=details, **common)  # type: ignore[arg-type]
    top = float(monitored.max())
    message = f"no {direction} detected by {method} (statistic at most {top:.3g} <= {threshold:g})"
    return ChangeResult(False, None, top, message=message, details=details, **common)  # type: ignore[arg-type]
