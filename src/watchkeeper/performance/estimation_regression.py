"""Estimated MAE and RMSE of a regression model while its labels are pending (direct loss estimation, DLE).

Two gradient-boosted models are fitted on the labelled reference, from the model's inputs and its prediction
to the error it made: one to the absolute error ``|y - y_hat|``, one to the squared error. Their mean
prediction over a window estimates its MAE, and the square root of the second one its RMSE. Like CBPE for
classifiers it follows **covariate shift** -- rows moving to regions where the model is known to err more --
and cannot see **concept drift** (the same inputs now meaning a different target): it never sees a label.

The boosted trees (scikit-learn ``HistGradientBoostingRegressor``, one thread) are stored with the baseline as
plain JSON arrays and evaluated with numpy (:class:`Forest`); the tests check the result against
scikit-learn's own ``predict``. Categorical inputs are coded by reference frequency (unseen values are missing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from watchkeeper.exceptions import BaselineError, DataError
from watchkeeper.performance.metrics import FloatArray

#: Fewer labelled reference rows than this and no loss model is fitted (estimation is skipped, with the reason).
MIN_REFERENCE_ROWS = 200
#: The loss models learn from at most this many reference rows (a seeded sample).
MAX_TRAINING_ROWS = 100_000
#: Categorical inputs keep their most frequent categories; the others count as missing.
MAX_CATEGORIES = 100
#: Names of the estimates.
ESTIMATED_REGRESSION = ("estimated_mae", "estimated_rmse")
_TREE_FIELDS = ("feature", "threshold", "missing_left", "left", "right", "leaf", "value")


@dataclass(frozen=True)
class Forest:
    """A fitted boosted-tree regressor as arrays: ``baseline + sum over trees of the leaf value``."""

    baseline: float
    trees: tuple[dict[str, np.ndarray], ...]

    @classmethod
    def from_sklearn(cls, model: Any) -> Forest:
        """Read the trees of a fitted ``HistGradientBoostingRegressor`` (squared-error loss)."""
        try:
            baseline = float(np.asarray(model._baseline_prediction).ravel()[0])
            trees = []
            for (predictor,) in model._predictors:
                nodes = predictor.nodes
                if np.any(nodes["is_categorical"]):
                    raise DataError("native categorical splits are not supported -- code categories as numbers")
                trees.append(
                    {
                        "feature": nodes["feature_idx"].astype(np.int64),
                        "threshold": nodes["num_threshold"].astype(np.float64),
                        "missing_left": nodes["missing_go_to_left"].astype(bool),
                        "left": nodes["left"].astype(np.int64),
                        "right": nodes["right"].astype(np.int64),
                        "leaf": nodes["is_leaf"].astype(bool),
                        "value": nodes["value"].astype(np.float64),
                    }
                )
        except (AttributeError, KeyError, ValueError, TypeError) as exc:  # a scikit-learn without these internals
            raise DataError(f"cannot read the fitted loss model ({exc}) -- check the scikit-learn version") from exc
        return cls(baseline, tuple(trees))

    def predict(self, x: FloatArray) -> FloatArray:
        """Predictions for the rows of ``x`` (NaN is a missing value, routed as the tree learned)."""
        out = np.full(x.shape[0], self.baseline)
        rows = np.arange(x.shape[0])
        for tree in self.trees:
            node = np.zeros(x.shape[0], dtype=np.int64)
            active = ~tree["leaf"][node]
            while active.any():
                idx, cur = rows[active], node[active]
                values = x[idx, tree["feature"][cur]]
                go_left = np.where(np.isnan(values), tree["missing_left"][cur], values <= tree["threshold"][cur])
                node[idx] = np.where(go_left, tree["left"][cur], tree["right"][cur])
                active[idx] = ~tree["leaf"][node[idx]]
            out += tree["value"][node]
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "baseline": self.baseline,
            "trees": [{k: tree[k].tolist() for k in _TREE_FIELDS} for tree in self.trees],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Forest:
        """Inverse of :meth:`to_dict`."""
        dtypes = {"feature": np.int64, "left": np.int64, "right": np.int64, "missing_left": bool, "leaf": bool}
        trees = tuple(
            {k: np.asarray(tree[k], dtype=dtypes.get(k, np.float64)) for k in _TREE_FIELDS} for tree in data["trees"]
        )
        return cls(float(data["baseline"]), trees)


def _fit_forest(x: FloatArray, target: FloatArray, seed: int) -> Forest:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    model = HistGradientBoostingRegressor(
        max_iter=200,
        learning_rate=0.1,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=x.shape[0] >= 1000,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=seed,
    )
    # one thread: OpenMP threads spin-wait on a busy machine (measured 25x slower on a loaded 2-core host)
    with threadpool_limits(1, user_api="openmp"):
        model.fit(x, target)
    return Forest.from_sklearn(model)


@dataclass(frozen=True)
class LossModel:
    """The fitted loss estimators of a regression model, with the input coding they expect."""

    columns: tuple[str, ...]
    categories: dict[str, tuple[str, ...]]
    absolute: Forest
    squared: Forest
    n: int
    reference: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        reference: pd.DataFrame,
        *,
        features: Mapping[str, str],
        prediction: str,
        label: str,
        seed: int = 0,
    ) -> LossModel:
        """Fit on the labelled reference: ``features`` (``{column: "numerical" | "categorical"}``) and the
        ``prediction`` column to the absolute and squared error against ``label``.

        :class:`DataError` with fewer than :data:`MIN_REFERENCE_ROWS` rows with a finite label and prediction.
        """
        truth = pd.to_numeric(reference[label], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        pred = pd.to_numeric(reference[prediction], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        keep = np.isfinite(truth) & np.isfinite(pred)
        if int(keep.sum()) < MIN_REFERENCE_ROWS:
            raise DataError(
                f"only {int(keep.sum())} reference rows have a numeric label and prediction; the loss model needs "
                f"{MIN_REFERENCE_ROWS} -- add labelled rows to the reference"
            )
        rows = reference.loc[keep]
        if len(rows) > MAX_TRAINING_ROWS:
            rows = rows.sample(MAX_TRAINING_ROWS, random_state=seed)
        categories = {
            name: tuple(str(v) for v in rows[name].astype("string").value_counts().index[:MAX_CATEGORIES])
            for name, kind in features.items()
            if str(kind) == "categorical" and name in rows.columns
        }
        columns = (*[f for f in features if f in rows.columns], prediction)
        model = cls(columns, categories, Forest(0.0, ()), Forest(0.0, ()), len(rows))
        x = model.design(rows)
        error = pd.to_numeric(rows[label]).to_numpy(np.float64) - pd.to_numeric(rows[prediction]).to_numpy(np.float64)
        absolute, squared = _fit_forest(x, np.abs(error), seed), _fit_forest(x, error**2, seed)
        ref = {"mae": float(np.abs(error).mean()), "rmse": float(math.sqrt(float((error**2).mean())))}
        return cls(columns, categories, absolute, squared, len(rows), ref)

    def design(self, df: pd.DataFrame) -> FloatArray:
        """The input matrix of ``df``: numbers as floats, categories as their reference codes, else NaN."""
        x = np.full((len(df), len(self.columns)), np.nan)
        for j, name in enumerate(self.columns):
            if name not in df.columns:
                continue
            if name in self.categories:
                codes = {c: i for i, c in enumerate(self.categories[name])}
                mapped = df[name].astype("string").map(codes)
                x[:, j] = pd.to_numeric(mapped, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                x[:, j] = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        x[~np.isfinite(x)] = np.nan
        return x

    def predict(self, df: pd.DataFrame) -> tuple[FloatArray, FloatArray]:
        """Expected absolute and squared error of each row (rows without a numeric prediction: NaN)."""
        x = self.design(df)
        absolute = np.clip(self.absolute.predict(x), 0.0, None)
        squared = np.clip(self.squared.predict(x), 0.0, None)
        missing = np.isnan(x[:, -1])
        absolute[missing] = np.nan
        squared[missing] = np.nan
        return absolute, squared

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, to store with the baseline."""
        return {
            "columns": list(self.columns),
            "categories": {k: list(v) for k, v in self.categories.items()},
            "absolute": self.absolute.to_dict(),
            "squared": self.squared.to_dict(),
            "n": self.n,
            "reference": self.reference,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LossModel:
        """Inverse of :meth:`to_dict`; :class:`BaselineError` when the dict is not one."""
        try:
            return cls(
                tuple(data["columns"]),
                {k: tuple(v) for k, v in data["categories"].items()},
                Forest.from_dict(data["absolute"]),
                Forest.from_dict(data["squared"]),
                int(data["n"]),
                dict(data.get("reference") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BaselineError(f"stored loss model is incomplete ({exc!r}) -- rebuild the baseline") from exc


@dataclass
class RegressionAccumulator:
    """Running sums of the expected errors over a window's batches (mergeable)."""

    model: LossModel
    n: int = 0
    sum_absolute: float = 0.0
    sum_squared: float = 0.0

    def update(self, df: pd.DataFrame) -> None:
        """Add one batch of window rows."""
        absolute, squared = self.model.predict(df)
        keep = np.isfinite(absolute) & np.isfinite(squared)
        self.n += int(keep.sum())
        self.sum_absolute += float(absolute[keep].sum())
        self.sum_squared += float(squared[keep].sum())

    def merge(self, other: RegressionAccumulator) -> None:
        """Add another accumulator of the same window."""
        self.n += other.n
        self.sum_absolute += other.sum_absolute
        self.sum_squared += other.sum_squared

    def estimates(self) -> dict[str, float | None]:
        """``estimated_mae`` and ``estimated_rmse`` (None without rows)."""
        if self.n == 0:
            return dict.fromkeys(ESTIMATED_REGRESSION)
        return {
            "estimated_mae": self.sum_absolute / self.n,
            "estimated_rmse": math.sqrt(self.sum_squared / self.n),
        }


def estimate_regression(model: LossModel, df: pd.DataFrame) -> dict[str, float | None]:
    """Estimated MAE and RMSE of one window (all at once)."""
    acc = RegressionAccumulator(model)
    acc.update(df)
    return acc.estimates()
