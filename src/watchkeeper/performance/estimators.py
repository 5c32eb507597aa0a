"""Estimated performance of a window while its labels are pending, for every kind of model, in one pass.

One estimator per task, each a small class in :data:`ESTIMATORS` holding how it is fitted on the labelled
reference (stored with the baseline as plain JSON), which window columns it reads, and a mergeable running
state that a batch stream updates:

- ``binary``: calibrated scores, expected confusion matrix, soft-label ROC AUC (:mod:`.estimation`);
- ``multiclass``: per-class calibrated probabilities from ``predictions.scores`` (:mod:`.estimation_multiclass`);
- ``regression``: direct loss estimation of MAE and RMSE (:mod:`.estimation_regression`).

A model that cannot be estimated gets an explicit ``skipped`` result that says why (no labelled reference, no
per-class probabilities, a reference of one class...), never silence.

Entry points::

    est = window_estimator(config, baseline)  # from the stored baseline; est.columns: what it reads
    for batch in batches:
        est.update(batch)  # DataFrame batches of the window (any split; merge() combines)
    rows = est.results(reference_metrics)  # CheckResult rows: estimated_<metric>, or one skipped row
    state = est.state()  # plain JSON of the running sums (e.g. in a window profile)
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from watchkeeper.config import TaskType
from watchkeeper.exceptions import BaselineError, DataError
from watchkeeper.performance.estimation import BinaryAccumulator, Calibrator, auc_edges
from watchkeeper.performance.estimation_multiclass import MulticlassAccumulator, MulticlassCalibrator, probabilities
from watchkeeper.performance.estimation_regression import LossModel, RegressionAccumulator
from watchkeeper.results import CheckResult, Status

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig

log = logging.getLogger(__name__)

CHECK = "prediction"
#: Metric of the row that says estimation was not done, and why.
SKIPPED_METRIC = "estimated_performance"


class Accumulator(Protocol):
    """The running state of an estimator: what :class:`Estimator` delegates ``merge``, ``estimates`` and ``n`` to."""

    n: int

    def merge(self, other: Any) -> None:
        """Add another accumulator of the same kind."""

    def estimates(self) -> dict[str, float | None]:
        """``estimated_<metric>`` values."""
        raise NotImplementedError


class Estimator:
    """Base of the estimators: class attributes, :meth:`fit` (reference -> payload) and a running state
    (``acc``, set by the subclass) that ``merge``, ``estimates`` and ``n`` delegate to."""

    #: Stored as ``kind`` in the payload.
    kind: ClassVar[str]
    #: The task it estimates.
    task: ClassVar[TaskType]
    #: The running state.
    acc: Accumulator

    def __init__(self, config: LoadedConfig, payload: Mapping[str, Any]) -> None:
        self.config = config
        self.payload = payload

    @classmethod
    def fit(cls, config: LoadedConfig, reference: pd.DataFrame) -> dict[str, Any]:
        """The JSON payload fitted on the labelled reference; :class:`DataError` (a reason) when it cannot be."""
        raise NotImplementedError

    @property
    def columns(self) -> tuple[str, ...]:
        """Window columns the estimator reads."""
        raise NotImplementedError

    def update(self, batch: pd.DataFrame) -> None:
        """Add a batch of the window's rows."""
        raise NotImplementedError

    def merge(self, other: Estimator) -> None:
        """Add the state of another estimator of the same window and baseline."""
        assert isinstance(other, type(self))
        self.acc.merge(other.acc)

    def fresh(self) -> Estimator:
        """An estimator with the same fitted model and an empty state (cheap: nothing is re-read)."""
        new = copy.copy(self)
        new._reset()
        return new

    def _reset(self) -> None:
        raise NotImplementedError

    def estimates(self) -> dict[str, float | None]:
        """``estimated_<metric>`` values (None when undefined)."""
        return self.acc.estimates()

    @property
    def n(self) -> int:
        """Rows estimated so far."""
        return self.acc.n

    def state(self) -> dict[str, Any]:
        """The running sums as plain JSON."""
        raise NotImplementedError

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Replace the running sums by a stored :meth:`state`."""
        raise NotImplementedError

    def notes(self) -> list[str]:
        """What was left out or looked wrong (shown in the results' details)."""
        return [str(n) for n in self.payload.get("notes") or ()]

    def results(self, reference: Mapping[str, float] | None = None) -> list[CheckResult]:
        """One ``estimated_<metric>`` row per defined estimate; a skipped row when the window had no usable rows."""
        reference = reference or {}
        if self.n == 0:
            return [_skipped("no rows of the window could be estimated (no usable scores or predictions)", self.kind)]
        out = []
        notes = self.notes()
        for name, value in self.estimates().items():
            if value is None:  # e.g. precision when nothing is predicted positive
                continue
            plain = name.removeprefix("estimated_")
            ref = reference.get(plain)
            msg = f"estimated {plain} {value:.4g}" + (f" (reference {ref:.4g})" if ref is not None else "")
            details: dict[str, Any] = {"reference": ref, "n": self.n, "estimator": self.kind}
            if notes:
                details["notes"] = notes
            out.append(CheckResult(CHECK, name, "", value, None, Status.OK, msg, details))
        return out


class BinaryEstimator(Estimator):
    """Calibrated scores of a binary classifier (CBPE)."""

    kind = "binary"
    task = TaskType.BINARY_CLASSIFICATION
    acc: BinaryAccumulator

    def __init__(self, config: LoadedConfig, payload: Mapping[str, Any]) -> None:
        super().__init__(config, payload)
        model = config.model
        edges = payload.get("auc_edges")
        self.acc = BinaryAccumulator(
            Calibrator.from_dict(payload["calibrator"]),
            np.asarray(edges, dtype=np.float64) if edges else np.linspace(0.0, 1.0, 1001),
            positive_label=model.prediction_checks.positive_class,
        )

    @classmethod
    def fit(cls, config: LoadedConfig, reference: pd.DataFrame) -> dict[str, Any]:
        model = config.model
        score = model.predictions.score
        if not score or score not in reference.columns:
            raise DataError(f"the reference has no score column {score!r} (predictions.score) to calibrate")
        assert model.performance is not None
        scores = pd.to_numeric(reference[score], errors="coerce")
        calibrator = Calibrator.fit(
            scores, reference[model.performance.labels.label], positive_label=model.prediction_checks.positive_class
        )
        return {"calibrator": calibrator.to_dict(), "auc_edges": auc_edges(scores).tolist()}

    @property
    def columns(self) -> tuple[str, ...]:
        log_cfg = self.config.model.predictions
        return tuple(c for c in (log_cfg.score, log_cfg.prediction) if c)

    def update(self, batch: pd.DataFrame) -> None:
        log_cfg = self.config.model.predictions
        assert log_cfg.score is not None
        if log_cfg.score not in batch.columns:
            return
        preds = batch[log_cfg.prediction] if log_cfg.prediction in batch.columns else None
        self.acc.update(batch[log_cfg.score], preds)

    def _reset(self) -> None:
        a = self.acc
        self.acc = BinaryAccumulator(a.calibrator, a.edges, positive_label=a.positive_label, threshold=a.threshold)

    def state(self) -> dict[str, Any]:
        a = self.acc
        assert a.pos_bins is not None and a.neg_bins is not None
        return {
            "n": a.n,
            "tp": a.tp,
            "fp": a.fp,
            "fn": a.fn,
            "tn": a.tn,
            "predicted_positive": a.predicted_positive,
            "pos_bins": a.pos_bins.tolist(),
            "neg_bins": a.neg_bins.tolist(),
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        a = self.acc
        a.n, a.predicted_positive = int(state["n"]), int(state["predicted_positive"])
        a.tp, a.fp, a.fn, a.tn = (float(state[k]) for k in ("tp", "fp", "fn", "tn"))
        a.pos_bins = np.asarray(state["pos_bins"], dtype=np.float64)
        a.neg_bins = np.asarray(state["neg_bins"], dtype=np.float64)


class MulticlassEstimator(Estimator):
    """Per-class calibrated probabilities of a multiclass classifier (multiclass CBPE)."""

    kind = "multiclass"
    task = TaskType.MULTICLASS_CLASSIFICATION
    acc: MulticlassAccumulator

    def __init__(self, config: LoadedConfig, payload: Mapping[str, Any]) -> None:
        super().__init__(config, payload)
        self.calibrator = MulticlassCalibrator.from_dict(dict(payload["calibrator"]))
        self.acc = MulticlassAccumulator(self.calibrator)

    @staticmethod
    def _score_columns(config: LoadedConfig) -> dict[str, str]:
        return dict(getattr(config.model.predictions, "scores", None) or {})

    @classmethod
    def fit(cls, config: LoadedConfig, reference: pd.DataFrame) -> dict[str, Any]:
        scores = cls._score_columns(config)
        if not scores:
            raise DataError(
                "multiclass estimation needs each class's probability -- name them in predictions.scores "
                "({class: column})"
            )
        missing = [c for c in scores.values() if c not in reference.columns]
        if missing:
            raise DataError(f"the reference lacks the probability column(s) {missing} of predictions.scores")
        assert config.model.performance is not None
        probs = probabilities(reference, list(scores.values()))
        calibrator = MulticlassCalibrator.fit(probs, reference[config.model.performance.labels.label], list(scores))
        return {"calibrator": calibrator.to_dict(), "notes": list(calibrator.notes)}

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self._score_columns(self.config).values(), self.config.model.predictions.prediction)

    def update(self, batch: pd.DataFrame) -> None:
        columns = list(self._score_columns(self.config).values())
        if not all(c in batch.columns for c in columns):
            return
        prediction = self.config.model.predictions.prediction
        preds = batch[prediction] if prediction in batch.columns else None
        self.acc.update(probabilities(batch, columns), preds)

    def _reset(self) -> None:
        self.acc = MulticlassAccumulator(self.calibrator)

    def notes(self) -> list[str]:
        return [*super().notes(), *self.acc.notes()]

    def state(self) -> dict[str, Any]:
        a = self.acc
        return {
            "n": a.n,
            "correct": a.correct,
            "tp": a.tp.tolist(),
            "fp": a.fp.tolist(),
            "fn": a.fn.tolist(),
            "dropped": a.dropped,
            "off_sum": a.off_sum,
            "out_of_range": a.out_of_range,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        a = self.acc
        a.n, a.correct = int(state["n"]), float(state["correct"])
        a.tp, a.fp, a.fn = (np.asarray(state[k], dtype=np.float64) for k in ("tp", "fp", "fn"))
        a.dropped, a.off_sum, a.out_of_range = (int(state[k]) for k in ("dropped", "off_sum", "out_of_range"))


class RegressionEstimator(Estimator):
    """Direct loss estimation of a regression model's MAE and RMSE."""

    kind = "regression"
    task = TaskType.REGRESSION
    acc: RegressionAccumulator

    def __init__(self, config: LoadedConfig, payload: Mapping[str, Any]) -> None:
        super().__init__(config, payload)
        self.model = LossModel.from_dict(payload["loss_model"])
        self.acc = RegressionAccumulator(self.model)

    @classmethod
    def fit(cls, config: LoadedConfig, reference: pd.DataFrame) -> dict[str, Any]:
        model = config.model
        assert model.performance is not None
        if model.predictions.prediction not in reference.columns:
            raise DataError(f"the reference has no prediction column {model.predictions.prediction!r}")
        loss = LossModel.fit(
            reference,
            features={k: str(v) for k, v in model.predictions.features.items()},
            prediction=model.predictions.prediction,
            label=model.performance.labels.label,
        )
        return {"loss_model": loss.to_dict()}

    @property
    def columns(self) -> tuple[str, ...]:
        return self.model.columns

    def update(self, batch: pd.DataFrame) -> None:
        if self.model.columns[-1] in batch.columns:
            self.acc.update(batch)

    def _reset(self) -> None:
        self.acc = RegressionAccumulator(self.model)

    def state(self) -> dict[str, Any]:
        return {"n": self.acc.n, "sum_absolute": self.acc.sum_absolute, "sum_squared": self.acc.sum_squared}

    def load_state(self, state: Mapping[str, Any]) -> None:
        self.acc.n = int(state["n"])
        self.acc.sum_absolute, self.acc.sum_squared = float(state["sum_absolute"]), float(state["sum_squared"])


#: Every estimator, one per task.
ESTIMATORS: tuple[type[Estimator], ...] = (BinaryEstimator, MulticlassEstimator, RegressionEstimator)
_BY_TASK = {cls.task: cls for cls in ESTIMATORS}
_BY_KIND = {cls.kind: cls for cls in ESTIMATORS}


class SkippedEstimator(Estimator):
    """A model (or setting) without estimation: reads nothing, reports one ``skipped`` row with the reason."""

    kind = "skipped"

    def __init__(self, config: LoadedConfig, reason: str) -> None:
        super().__init__(config, {})
        self.reason = reason

    @property
    def columns(self) -> tuple[str, ...]:
        return ()

    def update(self, batch: pd.DataFrame) -> None:
        return None

    def merge(self, other: Estimator) -> None:
        return None

    def _reset(self) -> None:
        return None

    def estimates(self) -> dict[str, float | None]:
        return {}

    @property
    def n(self) -> int:
        return 0

    def state(self) -> dict[str, Any]:
        return {}

    def load_state(self, state: Mapping[str, Any]) -> None:
        return None

    def results(self, reference: Mapping[str, float] | None = None) -> list[CheckResult]:
        return [_skipped(self.reason, str(self.config.model.task))]


def _skipped(reason: str, kind: str) -> CheckResult:
    message = f"performance not estimated: {reason}"
    return CheckResult(CHECK, SKIPPED_METRIC, "", None, None, Status.SKIPPED, message, {"reason": reason, "kind": kind})


def fit_estimator(config: LoadedConfig, reference: pd.DataFrame) -> dict[str, Any]:
    """The estimator of ``config``'s task fitted on the labelled reference, as JSON for the baseline:
    ``{"kind": ..., ...}``, or ``{"kind": ..., "skipped": reason}`` when it cannot be fitted."""
    model = config.model
    cls = _BY_TASK[model.task]
    perf = model.performance
    if perf is None:
        return {"kind": cls.kind, "skipped": "the model has no performance section"}
    if perf.labels.label not in reference.columns:
        return {
            "kind": cls.kind,
            "skipped": f"the reference has no label column {perf.labels.label!r} (performance.labels.label): "
            "estimation learns from labelled reference rows -- add the true labels to the reference data",
        }
    try:
        return {"kind": cls.kind, **cls.fit(config, reference)}
    except (DataError, ValueError) as exc:
        log.warning("model=%s: no performance estimation (%s)", model.name, exc)
        return {"kind": cls.kind, "skipped": str(exc)}


def window_estimator(config: LoadedConfig, baseline: Mapping[str, Any]) -> Estimator:
    """A fresh estimator of one window from the stored baseline (a :class:`SkippedEstimator` saying why when
    the model has none)."""
    perf = baseline.get("performance")
    label = config.model.performance.labels.label if config.model.performance else "label"
    if not isinstance(perf, Mapping):
        return SkippedEstimator(
            config,
            f"the baseline has no reference performance: the reference needs the label column {label!r} "
            "(and the prediction column) -- add them and rebuild the baseline (watchkeeper baseline MODEL)",
        )
    payload = perf.get("estimator")
    if payload is None and "calibrator" in perf:  # a baseline stored before the estimator registry
        payload = {"kind": "binary", "calibrator": perf["calibrator"]}
    if payload is None:
        return SkippedEstimator(
            config, "the baseline predates this estimator -- rebuild it (watchkeeper baseline MODEL)"
        )
    if payload.get("skipped"):
        return SkippedEstimator(config, str(payload["skipped"]))
    cls = _BY_KIND.get(str(payload.get("kind")))
    if cls is None or cls.task is not config.model.task:
        return SkippedEstimator(
            config,
            f"the baseline's estimator {payload.get('kind')!r} does not fit a {config.model.task} model -- "
            "rebuild the baseline",
        )
    try:
        return cls(config, payload)
    except (BaselineError, KeyError, TypeError, ValueError) as exc:
        return SkippedEstimator(config, f"the stored estimator is unusable ({exc}) -- rebuild the baseline")


def estimated_results(config: LoadedConfig, df: pd.DataFrame, baseline: Mapping[str, Any]) -> list[CheckResult]:
    """``estimated_*`` rows of one window held in one DataFrame (or one ``skipped`` row with the reason)."""
    est = window_estimator(config, baseline)
    if df.empty and not isinstance(est, SkippedEstimator):
        return [_skipped("no rows in the window", est.kind)]
    est.update(df)
    return est.results((baseline.get("performance") or {}).get("metrics") or {})
