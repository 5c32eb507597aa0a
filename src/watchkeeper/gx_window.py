"""The state a chunked window keeps for its whole-column GX expectations, and their outcomes.

:class:`WindowColumns` folds each chunk into spilled value hashes (uniqueness, distinct counts), merged
value counts (distinct-value sets, modes), spilled values with merged statistics (median, quantiles,
z-scores) and the last value of each sequence column (increasing/decreasing); the building blocks are in
:mod:`watchkeeper.gx_columns`. Memory does not grow with the window's rows (see ``docs/quality.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np  # noqa: TID253 -- task-side module, imported only by GxRunner while it runs
import pandas as pd  # noqa: TID253

from watchkeeper.gx_columns import (
    OrderStatistics,
    ValueCounts,
    considered_rows,
    row_hashes,
    value_hashes,
)
from watchkeeper.gx_runner import ColumnStats, Handling, NotMergeable, _Outcome, expectation_columns, judge_value
from watchkeeper.profile.sketch import DuplicateCounter

Validate = Callable[[list[int], pd.DataFrame], dict[int, _Outcome]]
_QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


class WindowColumns:
    """Bounded state of a window's whole-column expectations, fed chunk by chunk (see the module docstring)."""

    def __init__(self, expectations: list[dict[str, Any]], handling: list[Handling], memory_values: int) -> None:
        self.expectations = expectations
        self.memory_values = memory_values
        self.by_how: dict[Handling, list[int]] = {}
        for i, how in enumerate(handling):
            self.by_how.setdefault(how, []).append(i)
        self.rows = 0
        self.seen: set[str] = set()
        self.counters: dict[tuple[str, ...], DuplicateCounter] = {}
        self.carry: dict[str, pd.Series] = {}
        self.values: dict[str, ValueCounts] = {}
        self.order: dict[str, OrderStatistics] = {}
        self.stats: dict[str, ColumnStats] = {}

    def _columns(self, i: int) -> list[str]:
        return expectation_columns(self.expectations[i]) or []

    def _key(self, i: int) -> tuple[str, ...]:
        """The hash counter an expectation reads: one column's values, or rows of a column list."""
        kwargs = self.expectations[i].get("kwargs") or {}
        if "column_list" in kwargs:
            return (*self._columns(i), f"ignore_row_if={kwargs.get('ignore_row_if') or 'all_values_are_missing'}")
        return tuple(self._columns(i))

    def add(self, chunk: pd.DataFrame) -> None:
        """Fold one chunk into the hash counters, value counts and order statistics."""
        self.rows += len(chunk)
        self.seen.update(str(c) for c in chunk.columns)
        for i in self.by_how.get(Handling.REPEATS, []) + self.by_how.get(Handling.DISTINCT, []):
            key = self._key(i)
            if key in self.counters and self.counters[key].ids + self.counters[key].nulls >= self.rows:
                continue  # already folded for another expectation on the same key
            counter = self.counters.setdefault(key, DuplicateCounter(self.memory_values))
            self._add_hashes(counter, key, chunk)
        for i in self.by_how.get(Handling.VALUES, []):
            column = self._columns(i)[0]
            counts = self.values.setdefault(column, ValueCounts())
            if counts.rows < self.rows:
                counts.add(chunk[column] if column in chunk.columns else pd.Series([None] * len(chunk), dtype=object))
                counts.rows = self.rows
        for i in self.by_how.get(Handling.ZSCORES, []):
            column = self._columns(i)[0]
            stats = self.stats.setdefault(column, ColumnStats(column))
            if stats.rows < self.rows:
                stats.add(chunk[column] if column in chunk.columns else None, len(chunk))
        for i in self.by_how.get(Handling.ORDER, []) + self.by_how.get(Handling.ZSCORES, []):
            column = self._columns(i)[0]
            order = self.order.setdefault(column, OrderStatistics(self.memory_values))
            if order.rows < self.rows:
                if column in chunk.columns:
                    order.add(chunk[column])
                order.rows = self.rows

    def _add_hashes(self, counter: DuplicateCounter, key: tuple[str, ...], chunk: pd.DataFrame) -> None:
        columns = [c for c in key if not c.startswith("ignore_row_if=")]
        if not all(c in chunk.columns for c in columns):
            counter.nulls += len(chunk)  # GX reports the missing column for this chunk
            return
        if len(columns) < len(key):
            rows = considered_rows(chunk, columns, key[-1].split("=", 1)[1])
            counter.nulls += len(chunk) - len(rows)
            counter.add_hashes(row_hashes(rows, columns))
            return
        present = chunk[columns[0]].notna().to_numpy(dtype=bool)
        counter.add_hashes(value_hashes(chunk[columns[0]])[present], int(len(chunk) - present.sum()))

    def sequence_frames(self, chunk: pd.DataFrame) -> list[tuple[list[int], pd.DataFrame, bool]]:
        """Per column of the increasing/decreasing expectations: the frame GX judges for this chunk (the
        previous chunk's last non-null value first, when there is one) and whether that value was added."""
        frames = []
        by_column: dict[str, list[int]] = {}
        for i in self.by_how.get(Handling.SEQUENCE, []):
            by_column.setdefault(self._columns(i)[0], []).append(i)
        for column, indices in by_column.items():
            if column not in chunk.columns:  # GX reports the missing column for this chunk
                frames.append((indices, pd.DataFrame(index=pd.RangeIndex(len(chunk))), False))
                continue
            values = chunk[column].reset_index(drop=True)
            carry = self.carry.get(column)
            frame = values if carry is None else pd.concat([carry, values], ignore_index=True)
            frames.append((indices, pd.DataFrame({column: frame}), carry is not None))
            present = values.dropna()
            if len(present):
                self.carry[column] = present.iloc[-1:].reset_index(drop=True)
        return frames

    # ------------------------------------------------------------------ outcomes

    def outcomes(self, validate: Validate, parameters: dict[str, Any]) -> dict[int, _Outcome]:
        """Outcomes of the VALUES, DISTINCT and ORDER expectations; REPEATS' unexpected counts in ``repeats``."""
        out: dict[int, _Outcome] = {}
        pending = [i for how in (Handling.VALUES, Handling.DISTINCT, Handling.ORDER) for i in self.by_how.get(how, [])]
        unseen = [i for i in pending if not all(c in self.seen for c in self._columns(i))]
        out.update(validate(unseen, pd.DataFrame(index=pd.RangeIndex(self.rows))))  # GX names the missing column
        pending = [i for i in pending if i not in unseen]
        by_column: dict[str, list[int]] = {}
        for i in pending:
            kind = str(self.expectations[i].get("type"))
            column = self._columns(i)[0]
            if i in self.by_how.get(Handling.VALUES, []):
                by_column.setdefault(column, []).append(i)
            elif i in self.by_how.get(Handling.DISTINCT, []):
                out[i] = self._distinct(i, kind, parameters)
            else:
                out[i] = self._order(i, kind, parameters, validate)
        for column, indices in by_column.items():
            counts = self.values[column]
            if counts.error is not None:  # values pandas cannot count: GX fails on the whole window the same way
                for i in indices:
                    kwargs = dict(self.expectations[i].get("kwargs") or {})
                    out[i] = _Outcome(str(self.expectations[i].get("type")), kwargs, False, {}, None, counts.error)
                continue
            out.update(validate(indices, counts.frame(column)))
        return out

    def repeated_rows(self, i: int) -> int:
        """Rows of a uniqueness expectation whose value (or row of values) occurs more than once."""
        return self.counters[self._key(i)].group_counts()[1]

    def z_score_unexpected(self, i: int, parameters: dict[str, Any]) -> int | str:
        """Non-null rows whose z-score against the window's mean and standard deviation (merged statistics)
        is not under the threshold, as GX's condition judges them; a reason when they cannot be judged."""
        from great_expectations.core.suite_parameters import build_suite_parameters

        column = self._columns(i)[0]
        order, stats = self.order[column], self.stats[column]
        kwargs, _ = build_suite_parameters(dict(self.expectations[i].get("kwargs") or {}), parameters)
        try:
            mean, std = stats.metric("column.mean"), stats.metric("column.standard_deviation")
        except (NotMergeable, TypeError) as exc:
            return f"the z-scores of this column are not computed across chunks: {exc}"
        if order.unsupported is not None:
            return f"the z-scores of a {order.unsupported} column are not computed across chunks"
        if std is None or std == 0 or math.isnan(std) or order.neg_inf or order.pos_inf:
            return 0  # undefined z-scores meet the expectation (GX treats NaN as under the threshold)
        threshold = float(kwargs["threshold"])
        double_sided = bool(kwargs.get("double_sided", True))
        unexpected = 0
        dtype = np.int64 if order.integer else np.float64
        for block in order._blocks():
            with np.errstate(all="ignore"):
                z = (block.astype(dtype) - mean) / std
                under = np.abs(z) < abs(threshold) if double_sided else z < threshold
            unexpected += int(np.count_nonzero(~(under | np.isnan(z))))
        return unexpected

    def _distinct(self, i: int, kind: str, parameters: dict[str, Any]) -> _Outcome:
        counter = self.counters[self._key(i)]
        distinct = counter.group_counts()[0]
        if kind == "expect_column_unique_value_count_to_be_between":
            return judge_value(self.expectations[i], "column.distinct_values.count", distinct, parameters)
        non_null = self.rows - counter.nulls
        proportion = distinct / non_null if self.rows > 0 and non_null else 0
        return judge_value(self.expectations[i], "column.unique_proportion", proportion, parameters)

    def _order(self, i: int, kind: str, parameters: dict[str, Any], validate: Validate) -> _Outcome:
        from great_expectations.core.suite_parameters import build_suite_parameters

        exp = self.expectations[i]
        column = self._columns(i)[0]
        order = self.order[column]
        if order.unsupported is not None:
            if order.sample is not None:  # text, dates...: where GX fails on them, it fails on a few of them alike
                tried = validate([i], pd.DataFrame({column: order.sample}))[i]
                if tried.error is not None or tried.metric_error is not None:
                    return tried
            reason = f"order statistics of a {order.unsupported} column are not computed across chunks"
            return _Outcome(kind, dict(exp.get("kwargs") or {}), True, {}, skipped=reason)
        if kind == "expect_column_median_to_be_between":
            with np.errstate(all="ignore"):
                return judge_value(exp, "column.median", order.median(), parameters)
        kwargs, _ = build_suite_parameters(dict(exp.get("kwargs") or {}), parameters)
        method = kwargs.get("allow_relative_error") or "nearest"
        quantiles = list((kwargs.get("quantile_ranges") or {}).get("quantiles") or [])
        if method not in _QUANTILE_METHODS:
            reason = (
                "If specified for pandas, allow_relative_error must be one an allowed value for the 'interpolation'"
                f"parameter of .quantile() (one of {_QUANTILE_METHODS})"
            )
            return _Outcome(kind, kwargs, False, {}, None, reason)
        with np.errstate(all="ignore"):
            values = order.quantiles([float(q) for q in quantiles], str(method))
        return judge_value(exp, "column.quantile_values", values, parameters)

    def close(self) -> None:
        """Delete every spill file."""
        for counter in self.counters.values():
            counter.close()
        for order in self.order.values():
            order.close()
