"""A window profile as plain JSON, to store with the run, and back.

The payload is readable without the baseline for what the report and the UI draw: per numerical
feature its counts on the reference bins (``bins``) and summary statistics; per categorical feature
its category counts (``counts``, ``other_count``); the score histogram, predicted-class counts,
confidence, latency quantiles, status counts, ids and what the reader saw. The fine-grid counts and
sums that KS and Wasserstein need are stored compressed (``grid_counts``/``grid_sums``: zlib +
base64 of little-endian arrays) and decoded against the baseline they were counted on.
"""

from __future__ import annotations

import base64
import logging
import math
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from watchkeeper.detection.multivariate import ReconstructionError
from watchkeeper.drift.counts import CategoricalCounts, FeatureCounts, NumericalCounts, grid_digest
from watchkeeper.exceptions import BaselineError
from watchkeeper.profile.probabilities import ProbabilityCounts
from watchkeeper.profile.sketch import QuantileSketch
from watchkeeper.profile.window import ProfileSpec, WindowProfile

if TYPE_CHECKING:
    from watchkeeper.performance.estimators import Estimator

log = logging.getLogger(__name__)

#: Version of the payload layout.
PAYLOAD_VERSION = 1
#: Latency quantiles written into the payload's summary.
LATENCY_QUANTILES = (0.5, 0.9, 0.95, 0.99)


def _encode(array: NDArray[Any]) -> dict[str, Any]:
    if array.dtype.kind in "iu":
        top = int(array.max()) if array.size else 0
        array = array.astype("<u4" if 0 <= int(array.min() if array.size else 0) and top < 2**32 else "<i8")
    else:
        array = array.astype("<f8")
    raw = zlib.compress(np.ascontiguousarray(array).tobytes(), 6)
    return {"dtype": array.dtype.str, "n": int(array.size), "data": base64.b64encode(raw).decode("ascii")}


def _decode(data: Mapping[str, Any]) -> NDArray[Any]:
    raw = zlib.decompress(base64.b64decode(data["data"]))
    array = np.frombuffer(raw, dtype=np.dtype(data["dtype"])).copy()
    if array.size != int(data["n"]):
        raise BaselineError("a stored window profile is corrupt (array length) -- re-run the window")
    return array


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def numerical_payload(counts: NumericalCounts, profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """JSON of one numerical feature's counts (``profile``: its reference profile, for ``bins``)."""
    edges = (profile or {}).get("edges") or []
    return {
        "kind": "numerical",
        "grid": grid_digest(counts.grid),
        "rows": counts.rows,
        "n": counts.n,
        "null_count": counts.null_count,
        "pos_inf": counts.pos_inf,
        "neg_inf": counts.neg_inf,
        "min": _num(counts.min),
        "max": _num(counts.max),
        "mean": _num(counts.mean()),
        "std": _num(counts.std()),
        "total": counts.total,
        "total_sq": counts.total_sq,
        "below": counts.below,
        "above": counts.above,
        "bins": [int(c) for c in counts.bin_counts(edges).tolist()] if profile else None,
        "grid_counts": _encode(counts.counts),
        "grid_sums": _encode(counts.sums),
    }


def numerical_from(data: Mapping[str, Any], profile: Mapping[str, Any]) -> NumericalCounts:
    """Decode :func:`numerical_payload` against the reference profile it was counted on."""
    empty = NumericalCounts.empty(profile)
    if data.get("grid") != grid_digest(empty.grid):
        raise BaselineError("a stored window profile was counted on another reference grid -- re-run the window")
    return NumericalCounts(
        empty.grid,
        int(data["rows"]),
        int(data["null_count"]),
        int(data["pos_inf"]),
        int(data["neg_inf"]),
        _decode(data["grid_counts"]).astype(np.int64),
        _decode(data["grid_sums"]).astype(np.float64),
        data.get("min"),
        data.get("max"),
        float(data.get("total") or 0.0),
        float(data.get("total_sq") or 0.0),
    )


def categorical_payload(counts: CategoricalCounts) -> dict[str, Any]:
    """JSON of one categorical feature's counts."""
    return {
        "kind": "categorical",
        "rows": counts.rows,
        "n": counts.n,
        "null_count": counts.null_count,
        "counts": counts.as_dict(),
        "other_count": counts.other_count,
        "unseen_rows": counts.unseen_rows,
    }


def categorical_from(data: Mapping[str, Any], reference: tuple[str, ...]) -> CategoricalCounts:
    """Decode :func:`categorical_payload` against the reference categories."""
    counts = CategoricalCounts(reference)
    for label, count in (data.get("counts") or {}).items():
        pos = counts._index.get(label)
        if pos is None:
            counts.unseen[label] = int(count)
        else:
            counts.counts[pos] = int(count)
    counts.rows = int(data["rows"])
    counts.null_count = int(data["null_count"])
    counts.other_count = int(data.get("other_count") or 0)
    return counts


def _feature_payload(counts: FeatureCounts, profile: Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(counts, NumericalCounts):
        return numerical_payload(counts, profile)
    return categorical_payload(counts)


def to_payload(profile: WindowProfile) -> dict[str, Any]:
    """The finished profile as plain JSON."""
    spec = profile.spec
    latency = profile.latency
    est = profile.estimation
    return {
        "version": PAYLOAD_VERSION,
        "baseline_hash": spec.baseline_hash,
        "rows": profile.rows,
        "newest": profile.newest.isoformat() if profile.newest else None,
        "features": {n: _feature_payload(c, spec.profiles.get(n)) for n, c in profile.features.items()},
        "mistyped": dict(profile.mistyped),
        "score": numerical_payload(profile.score, spec.score_profile) if profile.score else None,
        "class_scores": {
            c: numerical_payload(v, spec.class_score_profiles.get(c)) for c, v in profile.class_scores.items()
        },
        "prediction_values": (
            numerical_payload(profile.prediction_values, spec.prediction_profile) if profile.prediction_values else None
        ),
        "predicted": categorical_payload(profile.predicted) if profile.predicted else None,
        "confidence": {"n": profile.confidence_n, "sum": profile.confidence_sum, "low": profile.low_confidence},
        "estimation": {"kind": est.kind, "state": est.state()} if est is not None else None,
        "latency": (
            {
                **latency.to_dict(),
                "count": latency.count,
                "quantiles": {f"p{round(q * 100)}": latency.quantile(q) for q in LATENCY_QUANTILES},
            }
            if latency is not None
            else None
        ),
        "status": categorical_payload(profile.status) if profile.status else None,
        "status_errors": profile.status_errors,
        "ids": dict(profile.id_summary or {"n": profile.ids_counted, "nulls": 0, "duplicates": profile.duplicate_ids}),
        "scan": dict(profile.scan),
        "gx": profile.gx,
        "multivariate": (
            {"total": profile.multivariate.total, "rows": profile.multivariate.rows}
            if profile.multivariate is not None
            else None
        ),
        "probabilities": profile.probabilities.to_dict() if profile.probabilities is not None else None,
    }


def estimation_from(data: Any, spec: ProfileSpec) -> Estimator | None:
    """The estimator state stored by :func:`to_payload`, on a fresh copy of the spec's estimator.

    None (no estimation: the prediction family says so) when the model has no estimator, the profile was
    stored before estimator states were (no ``kind``), or under another estimator kind.
    """
    if spec.estimator is None or not isinstance(data, Mapping) or data.get("kind") != spec.estimator.kind:
        return None
    est = spec.estimator.fresh()
    try:
        est.load_state(data.get("state") or {})
    except (KeyError, TypeError, ValueError) as exc:  # the other families still load: only estimation is lost
        log.warning("a stored window profile has an unreadable estimation state (%s); re-run the window", exc)
        return None
    return est


def from_payload(payload: Mapping[str, Any], spec: ProfileSpec) -> WindowProfile:
    """Rebuild a profile from :func:`to_payload` with the spec of the baseline it was counted against."""
    if payload.get("version") != PAYLOAD_VERSION:
        raise BaselineError(f"stored window profile has layout {payload.get('version')!r} -- re-run the window")
    profile = WindowProfile(spec, rows=int(payload["rows"]))
    newest = payload.get("newest")
    profile.newest = datetime.fromisoformat(newest) if newest else None
    for name, data in (payload.get("features") or {}).items():
        ref = spec.profiles.get(name)
        if ref is None:
            continue
        if data["kind"] == "numerical":
            profile.features[name] = numerical_from(data, ref)
        else:
            profile.features[name] = categorical_from(data, tuple(ref.get("counts") or {}))
    profile.mistyped = dict(payload.get("mistyped") or {})
    if payload.get("score") and spec.score_profile:
        profile.score = numerical_from(payload["score"], spec.score_profile)
    for cls_label, data in (payload.get("class_scores") or {}).items():
        if cls_label in spec.class_score_profiles:
            profile.class_scores[cls_label] = numerical_from(data, spec.class_score_profiles[cls_label])
    if payload.get("prediction_values") and spec.prediction_profile:
        profile.prediction_values = numerical_from(payload["prediction_values"], spec.prediction_profile)
    if payload.get("predicted"):
        profile.predicted = categorical_from(payload["predicted"], spec.classes)
    conf = payload.get("confidence") or {}
    profile.confidence_n, profile.confidence_sum = int(conf.get("n", 0)), float(conf.get("sum", 0.0))
    profile.low_confidence = int(conf.get("low", 0))
    profile.estimation = estimation_from(payload.get("estimation"), spec)
    if payload.get("latency"):
        profile.latency = QuantileSketch.from_dict(payload["latency"])
    if payload.get("status"):
        profile.status = categorical_from(payload["status"], ())
    profile.status_errors = int(payload.get("status_errors") or 0)
    profile.id_summary = {k: int(v) for k, v in (payload.get("ids") or {}).items()}
    profile.ids = None
    profile.scan = dict(payload.get("scan") or {})
    profile.gx = payload.get("gx")
    if isinstance(payload.get("probabilities"), Mapping):
        profile.probabilities = ProbabilityCounts.from_dict(payload["probabilities"])
    stored = payload.get("multivariate")
    if spec.multivariate is not None and isinstance(stored, Mapping):  # absent in profiles stored before it
        profile.multivariate = ReconstructionError(float(stored.get("total") or 0.0), int(stored.get("rows") or 0))
    return profile
