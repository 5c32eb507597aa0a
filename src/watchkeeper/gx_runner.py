"""Run a model's GX suite over a window fed in batches, with the results of one validation of the whole window.

:class:`GxRunner` takes the window's rows batch by batch (``add_batch``) and returns one
:class:`CheckResult` per expectation (``results``). While the rows it holds fit in one chunk
(``chunk_rows``), the suite runs once on them: exactly what GX does on the whole window. Past that,
every expectation has a defined way to reach the same answer (see ``docs/quality.md``):

- **row-level** (map) expectations run chunk by chunk; their element, missing and unexpected counts
  are summed and ``mostly`` is applied to the totals, as GX applies it to one batch;
- **row count** expectations run on a table with the window's total row count (and no columns);
- **schema** expectations (columns, column count, column types) run on the window's schema;
- **aggregate** expectations (mean, min, max, sum, stdev, non-null share) are judged by GX on metrics
  merged from per-chunk statistics;
- the expectations that compare rows with each other keep bounded state across chunks
  (:mod:`watchkeeper.gx_window`): uniqueness from spilled value hashes, increasing/decreasing with the
  previous chunk's last value carried over, distinct-value sets and modes from merged value counts,
  distinct counts from the hashes, median and quantiles from exact order statistics of spilled values;
- z-scores are judged on spilled values against the window's merged mean and standard deviation;
- outliers and KL divergence still run once on their columns, accumulated across chunks;
- anything else is ``skipped`` with the reason, never answered from part of the window.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from watchkeeper.results import CheckResult, Status

if TYPE_CHECKING:
    import pandas as pd

    from watchkeeper.config import LoadedConfig
    from watchkeeper.gx_window import WindowColumns

log = logging.getLogger(__name__)

#: Rows held before a chunk is validated; a window up to this size is validated in one piece.
DEFAULT_CHUNK_ROWS = 500_000
#: Hashes (or values) a whole-column expectation keeps in memory before spilling to disk (8 bytes each).
DEFAULT_MEMORY_VALUES = 2_000_000
_INDEX = "__watchkeeper_index__"


class Handling(StrEnum):
    """How an expectation is evaluated when the window arrives in more than one chunk."""

    ROW = "row"  # per chunk, counts summed, mostly applied to the totals
    DTYPE = "dtype"  # per chunk; equal when every chunk has the same column type
    ROWS = "rows"  # on a table with the window's total row count
    SCHEMA = "schema"  # on the window's columns and their types
    STATS = "stats"  # from statistics merged across chunks (count, sum, mean, M2, min, max), judged by GX
    REPEATS = "repeats"  # per chunk for the counts; rows in repeated groups from spilled value hashes
    SEQUENCE = "sequence"  # per chunk, with the previous chunk's last value carried over
    VALUES = "values"  # once, on a small frame with the window's distinct values and modes
    DISTINCT = "distinct"  # distinct count from spilled value hashes, judged by GX
    ORDER = "order"  # exact order statistics of spilled values (median, quantiles), judged by GX
    ZSCORES = "z-scores"  # per chunk for the counts; spilled values judged against the window's mean and stdev
    COLUMNS = "columns"  # once, on the columns it reads, accumulated across chunks
    UNSUPPORTED = "unsupported"  # skipped with the reason


#: Map expectations whose outcome for a row depends on that row alone.
ROW_LEVEL = frozenset(
    {
        "expect_column_value_lengths_to_be_between",
        "expect_column_value_lengths_to_equal",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_dateutil_parseable",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_json_parseable",
        "expect_column_values_to_be_null",
        "expect_column_values_to_match_json_schema",
        "expect_column_values_to_match_like_pattern",
        "expect_column_values_to_match_like_pattern_list",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_match_strftime_format",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_not_match_like_pattern",
        "expect_column_values_to_not_match_like_pattern_list",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_not_match_regex_list",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
        "expect_column_pair_values_to_be_in_set",
        "expect_multicolumn_sum_to_equal",
        "expect_multicolumn_values_to_be_equal",
        "expect_select_column_values_to_be_unique_within_record",
    }
)
#: Row-level expectations whose ``mostly`` counts every row (GX does not leave nulls out of them).
ALL_ROWS_CONSIDERED = frozenset({"expect_column_values_to_not_be_null", "expect_column_values_to_be_null"})
DTYPE_LEVEL = frozenset({"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"})
ROW_COUNT = frozenset({"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"})
SCHEMA_LEVEL = frozenset(
    {
        "expect_table_columns_to_match_set",
        "expect_table_columns_to_match_ordered_list",
        "expect_table_column_count_to_be_between",
        "expect_table_column_count_to_equal",
        "expect_column_to_exist",
        "expect_column_type_to_be",
    }
)
#: Aggregate expectations judged by GX on a metric computed from merged per-chunk statistics.
MERGED_METRIC = {
    "expect_column_mean_to_be_between": "column.mean",
    "expect_column_min_to_be_between": "column.min",
    "expect_column_max_to_be_between": "column.max",
    "expect_column_sum_to_be_between": "column.sum",
    "expect_column_stdev_to_be_between": "column.standard_deviation",
    "expect_column_proportion_of_non_null_values_to_be_between": "column.non_null_proportion",
}
#: Map expectations that flag every row whose value (or row of values) occurs more than once.
REPEATED = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})
#: Map expectations that compare each non-null value with the previous one.
SEQUENCE_LEVEL = frozenset({"expect_column_values_to_be_increasing", "expect_column_values_to_be_decreasing"})
#: Aggregate expectations that depend only on the column's distinct values (and its modes).
VALUE_SET = frozenset(
    {
        "expect_column_distinct_values_to_be_in_set",
        "expect_column_distinct_values_to_contain_set",
        "expect_column_distinct_values_to_equal_set",
        "expect_column_most_common_value_to_be_in_set",
    }
)
#: Aggregate expectations on the number of distinct non-null values.
DISTINCT_METRIC = {
    "expect_column_unique_value_count_to_be_between": "column.distinct_values.count",
    "expect_column_proportion_of_unique_values_to_be_between": "column.unique_proportion",
}
#: Aggregate expectations on order statistics.
ORDER_METRIC = {
    "expect_column_median_to_be_between": "column.median",
    "expect_column_quantile_values_to_be_between": "column.quantile_values",
}
#: Expectations that read whole columns at once: validated once on those columns, accumulated.
WHOLE_COLUMN = frozenset(
    {
        "expect_column_values_to_not_be_outliers",
        "expect_column_kl_divergence_to_be_less_than",
    }
)
_COLUMN_HANDLING = (
    [(k, Handling.REPEATS) for k in REPEATED]
    + [(k, Handling.SEQUENCE) for k in SEQUENCE_LEVEL]
    + [(k, Handling.VALUES) for k in VALUE_SET]
    + [(k, Handling.DISTINCT) for k in DISTINCT_METRIC]
    + [(k, Handling.ORDER) for k in ORDER_METRIC]
    + [("expect_column_value_z_scores_to_be_less_than", Handling.ZSCORES)]
    + [(k, Handling.COLUMNS) for k in WHOLE_COLUMN]
    + [(k, Handling.STATS) for k in MERGED_METRIC]
)
#: Expectations that read whole columns, and how each is evaluated.
COLUMN_HANDLING: dict[str, Handling] = dict(_COLUMN_HANDLING)
KNOWN = ROW_LEVEL | DTYPE_LEVEL | ROW_COUNT | SCHEMA_LEVEL | set(COLUMN_HANDLING)
_COLUMN_KWARGS = ("column", "column_A", "column_B")


def handling_of(expectation: dict[str, Any]) -> tuple[Handling, str]:
    """How ``expectation`` (suite JSON) is evaluated on a window of several chunks, and why when unsupported."""
    kind = str(expectation.get("type"))
    kwargs = expectation.get("kwargs") or {}
    conditioned = bool(kwargs.get("row_condition"))
    if kind in ROW_LEVEL:
        return Handling.ROW, ""
    if kind in DTYPE_LEVEL:
        return Handling.DTYPE, ""
    if conditioned:
        return Handling.UNSUPPORTED, (
            f"{kind} with a row_condition reads more than one row at a time, which a window validated in "
            "chunks cannot answer exactly -- drop the row_condition or validate smaller windows"
        )
    if kind in ROW_COUNT:
        return Handling.ROWS, ""
    if kind in SCHEMA_LEVEL:
        return Handling.SCHEMA, ""
    if kind in COLUMN_HANDLING:
        if expectation_columns(expectation) is None:
            return Handling.UNSUPPORTED, f"{kind}: its column is given as a parameter -- name the column"
        return COLUMN_HANDLING[kind], ""
    return Handling.UNSUPPORTED, (
        f"{kind} has no exact method on a window validated in chunks (see docs/quality.md) -- "
        "it is validated only when the window fits in one chunk"
    )


def expectation_columns(expectation: dict[str, Any]) -> list[str] | None:
    """Columns an expectation reads (from its kwargs); None when a column name is not a plain string."""
    kwargs = expectation.get("kwargs") or {}
    names: list[Any] = [kwargs[k] for k in _COLUMN_KWARGS if k in kwargs]
    names += list(kwargs.get("column_list") or [])
    if not all(isinstance(n, str) for n in names):
        return None
    return list(dict.fromkeys(names))


@dataclass
class _Outcome:
    """One expectation's outcome, from GX directly or merged from chunks."""

    kind: str
    kwargs: dict[str, Any]
    success: bool
    result: dict[str, Any]
    error: str | None = None  # the expectation could not run at all (ERROR)
    metric_error: str | None = None  # a metric it needs could not be computed (a failure, with the reason)
    skipped: str | None = None


@dataclass
class _MapTotals:
    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    element_count: int = 0
    unexpected_count: int = 0
    missing_count: int = 0
    has_missing: bool = False
    partial: list[Any] = field(default_factory=list)
    metric_error: str | None = None
    error: str | None = None
    counted: bool = False  # some chunk reported counts (none does when GX could not compute the metric)

    def add(self, outcome: _Outcome) -> None:
        self.kwargs = outcome.kwargs
        self.error = self.error or outcome.error
        self.metric_error = self.metric_error or outcome.metric_error
        res = outcome.result
        self.counted = self.counted or "element_count" in res
        self.element_count += int(res.get("element_count") or 0)
        self.unexpected_count += int(res.get("unexpected_count") or 0)
        if "missing_count" in res:
            self.has_missing = True
            self.missing_count += int(res.get("missing_count") or 0)
        if len(self.partial) < 20:
            self.partial += list(res.get("partial_unexpected_list") or [])[: 20 - len(self.partial)]

    def outcome(self) -> _Outcome:
        """The totals judged the way GX judges one batch (``mostly`` on the rows it considers)."""
        considered = self.element_count
        if self.kind not in ALL_ROWS_CONSIDERED and self.has_missing:
            considered = self.element_count - self.missing_count
        mostly = self.kwargs.get("mostly", 1.0)
        if self.element_count == 0 or considered == 0:
            success = True  # vacuously, as in GX
        else:
            success = (considered - self.unexpected_count) / considered >= float(mostly)
        percent = self.unexpected_count / considered * 100 if considered else None
        result: dict[str, Any] = {
            "element_count": self.element_count,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": percent,
            "partial_unexpected_list": self.partial,
        }
        if self.has_missing:
            result["missing_count"] = self.missing_count
        if not self.counted and (self.metric_error or self.error):
            result = {}  # as GX reports an expectation whose metric failed: no counts
        success = success and self.metric_error is None and self.error is None
        return _Outcome(self.kind, self.kwargs, success, result, self.error, self.metric_error)


class GxRunner:
    """The model's GX suite over one window fed in batches: ``add_batch(df)`` for each, then ``results()``.

    ``columns`` (optional) names every column of the prediction log when the batches carry only some
    of them (a reader that prunes columns): schema expectations are then judged on those names.
    Results are the same as one validation of the concatenated batches for every expectation with a
    defined method (see the module docstring); the others are ``skipped`` with the reason.
    """

    def __init__(
        self,
        config: LoadedConfig,
        baseline: dict[str, Any],
        *,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        columns: list[str] | None = None,
        memory_values: int = DEFAULT_MEMORY_VALUES,
    ) -> None:
        from watchkeeper.gx_suite import load_suite_dict, suite_parameters

        self.config = config
        self.chunk_rows = max(int(chunk_rows), 1)
        self.parameters = suite_parameters(baseline)
        self.n_rows = 0
        self.n_chunks = 0
        self._declared_columns = list(columns) if columns is not None else None
        self._schema: pd.DataFrame | None = None
        self._pending: list[pd.DataFrame] = []
        self._pending_rows = 0
        self._setup_error: str | None = None
        self.expectations: list[dict[str, Any]] = []
        try:
            suite = load_suite_dict(config)
        except Exception as exc:  # an unusable suite is one error result, not a crashed quality family
            self._setup_error = str(exc)
            suite = {"expectations": []}
        self.suite_name = config.model.quality.suite
        self.expectations = list((suite or {}).get("expectations") or [])
        self.handling = [handling_of(e) for e in self.expectations]
        self._keep = self._columns_to_keep()
        self._totals: dict[int, _MapTotals] = {}
        self._dtypes: dict[int, list[tuple[str, _Outcome]]] = {}
        self._buffers: list[pd.DataFrame] = []
        self._window_columns: WindowColumns | None = None
        self._memory_values = max(int(memory_values), 16)
        self._stats: dict[str, ColumnStats] = {}
        self._stats_chunks: dict[str, int] = {}
        self._suites: dict[tuple[int, ...], Any] = {}
        self._batch_definition: Any = None

    # ------------------------------------------------------------------ feeding

    @property
    def columns(self) -> list[str] | None:
        """Columns the suite reads (read them in the pass); None: every column of the log."""
        if self.suite_name is None or self._setup_error is not None:
            return []
        return None if self._keep is None else list(self._keep)

    def set_log_columns(self, names: list[str]) -> None:
        """Every column of the prediction log, when the batches carry only some (schema expectations use them)."""
        self._declared_columns = list(names)

    def _columns_to_keep(self) -> list[str] | None:
        """Columns the suite reads (None: all, when an expectation has a row_condition)."""
        keep: list[str] = []
        for exp, (how, _) in zip(self.expectations, self.handling, strict=True):
            if (exp.get("kwargs") or {}).get("row_condition"):
                return None
            columns = expectation_columns(exp)
            if how is Handling.UNSUPPORTED and (columns is None or exp.get("type") not in KNOWN):
                return None  # what it reads is unknown: keep every column (it only runs on one-chunk windows)
            if how not in (Handling.ROWS, Handling.SCHEMA):
                keep += columns or []
        return list(dict.fromkeys(keep))

    def _project(self, df: pd.DataFrame) -> pd.DataFrame:
        if self._keep is None:
            return df
        return df[[c for c in self._keep if c in df.columns]]

    def add_batch(self, df: pd.DataFrame) -> None:
        """Take the next rows of the window (any size; a copy of the columns the suite reads is kept)."""
        import pandas as pd

        if self.suite_name is None or self._setup_error is not None:
            return
        head = df.iloc[:0]
        self._schema = head if self._schema is None else pd.concat([self._schema, head])
        if len(df) == 0:
            return
        self.n_rows += len(df)
        self._pending.append(self._project(df))
        self._pending_rows += len(df)
        if self._pending_rows >= self.chunk_rows:
            self._flush()

    def _take_pending(self) -> pd.DataFrame:
        import pandas as pd

        frames, self._pending, self._pending_rows = self._pending, [], 0
        if len(frames) == 1:
            return frames[0].reset_index(drop=True)
        return pd.concat(frames, ignore_index=True)

    def _flush(self) -> None:
        """Validate the pending rows as one chunk of a window of several chunks."""
        chunk = self._take_pending()
        self.n_chunks += 1
        per_chunk = (Handling.ROW, Handling.DTYPE, Handling.REPEATS, Handling.ZSCORES)
        row_level = [i for i, (how, _) in enumerate(self.handling) if how in per_chunk]
        for i, outcome in self._validate(row_level, chunk).items():
            if self.handling[i][0] in (Handling.REPEATS, Handling.ZSCORES):  # GX's counts; unexpected: window-wide
                outcome.result["unexpected_count"] = 0
                outcome.result["partial_unexpected_list"] = []
            if self.handling[i][0] is not Handling.DTYPE:
                self._totals.setdefault(i, _MapTotals(outcome.kind)).add(outcome)
            else:
                column = (expectation_columns(self.expectations[i]) or [""])[0]
                dtype = str(chunk[column].dtype) if column in chunk.columns else "missing"
                self._dtypes.setdefault(i, []).append((dtype, outcome))
        for i, (how, _) in enumerate(self.handling):
            if how is Handling.STATS:
                column = (expectation_columns(self.expectations[i]) or [""])[0]
                if column not in self._stats:
                    self._stats[column] = ColumnStats(column)
                    self._stats_chunks[column] = 0
                if self._stats_chunks[column] < self.n_chunks:  # once per chunk, however many expectations
                    self._stats[column].add(chunk[column] if column in chunk.columns else None, len(chunk))
                    self._stats_chunks[column] = self.n_chunks
        self._add_window_columns(chunk)
        buffered = [i for i, (how, _) in enumerate(self.handling) if how is Handling.COLUMNS]
        columns = list(dict.fromkeys(c for i in buffered for c in expectation_columns(self.expectations[i]) or []))
        if columns:
            self._buffers.append(chunk[[c for c in columns if c in chunk.columns]].copy())

    def _add_window_columns(self, chunk: pd.DataFrame) -> None:
        """Bounded state of the whole-column expectations (hashes, value counts, order statistics, carry)."""
        from watchkeeper.gx_window import WindowColumns

        if self._window_columns is None:
            hows = [how for how, _ in self.handling]
            self._window_columns = WindowColumns(self.expectations, hows, self._memory_values)
        state = self._window_columns
        state.add(chunk)
        for indices, frame, carried in state.sequence_frames(chunk):
            for i, outcome in self._validate(indices, frame).items():
                if carried and "element_count" in outcome.result:  # the carried value was counted with its chunk
                    outcome.result["element_count"] = int(outcome.result["element_count"]) - 1
                self._totals.setdefault(i, _MapTotals(outcome.kind)).add(outcome)

    # ------------------------------------------------------------------ results

    def results(self) -> list[CheckResult]:
        """One result per expectation of the suite (none when the model has no suite)."""
        if self.suite_name is None:
            return []
        if self._setup_error is not None:
            return [CheckResult("quality", "gx_suite", self.suite_name, None, None, Status.ERROR, self._setup_error)]
        if self.n_rows == 0:
            msg = "no data in window"
            return [CheckResult("quality", "gx_suite", self.suite_name, None, None, Status.SKIPPED, msg)]
        try:
            outcomes = self._one_piece() if self.n_chunks == 0 else self._merged()
        except Exception as exc:  # GX itself failed: the suite's results are an error, the other checks stand
            log.exception("model=%s: GX suite %s could not run", self.config.model.name, self.suite_name)
            msg = f"GX suite {self.suite_name} could not run: {type(exc).__name__}: {exc}"
            return [CheckResult("quality", "gx_suite", self.suite_name, None, None, Status.ERROR, msg)]
        finally:
            if self._window_columns is not None:
                self._window_columns.close()  # spill files
        return [to_check_result(self.expectations[i], outcomes[i]) for i in range(len(self.expectations))]

    def _schema_frame(self) -> pd.DataFrame:
        import pandas as pd

        schema = self._schema if self._schema is not None else pd.DataFrame()
        if self._declared_columns is not None:
            extra = [c for c in self._declared_columns if c not in schema.columns]
            schema = pd.concat([schema, pd.DataFrame(columns=extra)], axis=1) if extra else schema
            schema = schema[[c for c in self._declared_columns if c in schema.columns]]
        return schema.iloc[:0]

    def _one_piece(self) -> dict[int, _Outcome]:
        """The whole window held in one chunk: GX on it, as one validation of the window."""
        chunk = self._take_pending()
        schema = [i for i, (how, _) in enumerate(self.handling) if how is Handling.SCHEMA]
        rest = [i for i in range(len(self.expectations)) if i not in schema]
        outcomes = self._validate(rest, chunk)
        outcomes.update(self._validate(schema, self._schema_frame()))
        return outcomes

    def _merged(self) -> dict[int, _Outcome]:
        import pandas as pd

        if self._pending:
            self._flush()
        state = self._window_columns
        skipped: dict[int, _Outcome] = {}
        for i, (how, _) in enumerate(self.handling):
            if how is Handling.REPEATS and state is not None and i in self._totals:
                self._totals[i].unexpected_count = state.repeated_rows(i)
            failed = i in self._totals and bool(self._totals[i].metric_error or self._totals[i].error)
            if how is Handling.ZSCORES and state is not None and i in self._totals and not failed:
                unexpected = state.z_score_unexpected(i, self.parameters)
                if isinstance(unexpected, str):
                    exp = self.expectations[i]
                    skipped[i] = _Outcome(str(exp.get("type")), self._totals[i].kwargs, True, {}, skipped=unexpected)
                else:
                    self._totals[i].unexpected_count = unexpected
        outcomes: dict[int, _Outcome] = {i: totals.outcome() for i, totals in self._totals.items()}
        outcomes.update(skipped)
        if state is not None:
            outcomes.update(state.outcomes(self._validate, self.parameters))
        for i, seen in self._dtypes.items():
            outcomes[i] = _merge_dtype(seen)
        by_how: dict[Handling, list[int]] = {}
        for i, (how, reason) in enumerate(self.handling):
            by_how.setdefault(how, []).append(i)
            if how is Handling.UNSUPPORTED:
                exp = self.expectations[i]
                outcomes[i] = _Outcome(str(exp.get("type")), dict(exp.get("kwargs") or {}), True, {}, skipped=reason)
        for i in by_how.get(Handling.STATS, []):
            column = (expectation_columns(self.expectations[i]) or [""])[0]
            outcomes[i] = judge_metric(self.expectations[i], self._stats[column], self.parameters)
        outcomes.update(self._validate(by_how.get(Handling.SCHEMA, []), self._schema_frame()))
        outcomes.update(self._validate(by_how.get(Handling.ROWS, []), pd.DataFrame(index=pd.RangeIndex(self.n_rows))))
        if by_how.get(Handling.COLUMNS):
            columns = pd.concat(self._buffers, ignore_index=True) if self._buffers else pd.DataFrame()
            self._buffers = []
            outcomes.update(self._validate(by_how[Handling.COLUMNS], columns))
        return outcomes

    # ------------------------------------------------------------------ GX

    def _suite_of(self, indices: list[int]) -> Any:
        key = tuple(indices)
        if key not in self._suites:
            import great_expectations as gx

            expectations = []
            for i in indices:
                exp = json.loads(json.dumps(self.expectations[i]))
                exp["meta"] = {**(exp.get("meta") or {}), _INDEX: i}
                expectations.append(exp)
            self._suites[key] = gx.ExpectationSuite(name=f"{self.suite_name}", expectations=expectations)
        return self._suites[key]

    def _validate(self, indices: list[int], df: pd.DataFrame) -> dict[int, _Outcome]:
        """GX on ``df`` for the expectations ``indices``; outcomes keyed by expectation index."""
        if not indices:
            return {}
        if self._batch_definition is None:
            self._batch_definition = pandas_batch_definition(self.config.model.name)
        suite = self._suite_of(indices)
        batch = self._batch_definition.get_batch(batch_parameters={"dataframe": df})
        validation = batch.validate(suite, expectation_parameters=self.parameters)
        return outcomes_of(validation)


def pandas_batch_definition(name: str) -> Any:
    """A GX batch definition over a pandas frame, in a quiet ephemeral context (imports GX)."""
    from watchkeeper.gx_suite import quiet_gx

    quiet_gx()
    import great_expectations as gx

    quiet_gx()  # GX configures its loggers on import
    context = gx.get_context(mode="ephemeral")
    try:
        context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    except Exception:  # older/newer GX: progress bars only cost log noise
        log.debug("cannot disable GX progress bars")
    return (
        context.data_sources.add_pandas("watchkeeper")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("window")
    )


def outcomes_of(validation: Any) -> dict[int, _Outcome]:
    """Outcomes of a GX validation result, keyed by the index stored in each expectation's meta."""
    from great_expectations.util import convert_to_json_serializable

    out: dict[int, _Outcome] = {}
    for res in validation.results:
        cfg = res.expectation_config
        index = int((cfg.meta or {})[_INDEX])
        kwargs = {k: v for k, v in dict(cfg.kwargs).items() if k != "batch_id"}
        error, metric_error = _exceptions(res.exception_info)
        result = dict(res.result or {})
        if "observed_value" in result:
            result["observed_value"] = convert_to_json_serializable(result["observed_value"])
        out[index] = _Outcome(cfg.type, kwargs, bool(res.success), result, error, metric_error)
    return out


def _exceptions(info: Any) -> tuple[str | None, str | None]:
    """(error of the expectation itself, error of a metric it needs) from GX's ``exception_info``."""
    if not isinstance(info, dict) or not info:
        return None, None
    if "raised_exception" in info:
        return (str(info.get("exception_message")) if info.get("raised_exception") else None), None
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return None, str(value.get("exception_message") or "").strip()
    return None, None


def _merge_dtype(seen: list[tuple[str, _Outcome]]) -> _Outcome:
    """Type expectations: per chunk they judge the column's type (or each value, for untyped columns)."""
    dtypes = sorted({d for d, _ in seen})
    first = seen[0][1]
    if len(dtypes) == 1 and all("unexpected_count" not in o.result for _, o in seen):
        return seen[0][1]  # one column type in every chunk: the window's type, judged once
    if all("unexpected_count" in o.result for _, o in seen):
        totals = _MapTotals(first.kind)
        for _, outcome in seen:
            totals.add(outcome)
        return totals.outcome()
    reason = (
        f"the column's type differs between chunks of the window ({', '.join(dtypes)}) -- "
        "fix the log's schema so the column has one type"
    )
    return _Outcome(first.kind, first.kwargs, True, {}, skipped=reason)


# --------------------------------------------------------------------------- merged statistics


@dataclass
class ColumnStats:
    """Statistics of one column merged across chunks: rows, non-null count, sum, mean, M2 (Chan et al.), min, max.

    A non-numeric column keeps a couple of values, so that pandas can say why it has no mean.
    """

    name: str = ""
    rows: int = 0
    rows_with_column: int = 0
    count: int = 0
    total: Any = 0
    mean: float = 0.0
    m2: float = 0.0
    min: Any = None
    max: Any = None
    missing_column: bool = False
    order_error: str | None = None
    sample: pd.Series | None = None  # a few values of a non-numeric column

    def add(self, series: pd.Series | None, rows: int) -> None:
        """Merge one chunk's values of the column (``None``: the chunk lacks the column)."""
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        self.rows += rows
        if series is None:
            self.missing_column = True
            return
        self.rows_with_column += rows
        values = series.dropna()
        if len(values) == 0:
            return
        try:
            low, high = values.min(), values.max()
            self.min = low if self.min is None or low < self.min else self.min
            self.max = high if self.max is None or high > self.max else self.max
        except TypeError as exc:  # values that do not compare (mixed types)
            self.order_error = self.order_error or str(exc)
        if not is_numeric_dtype(values.dtype) or is_bool_dtype(values.dtype):
            self.count += len(values)
            if self.sample is None:
                self.sample = values.iloc[:2]
            return
        n = len(values)
        total = values.sum()
        mean = float(total) / n
        m2 = float(((values - mean) ** 2).sum())
        delta = mean - self.mean
        merged = self.count + n
        self.m2 += m2 + delta * delta * self.count * n / merged
        self.mean += delta * n / merged
        self.total = self.total + total
        self.count = merged

    def metric(self, name: str) -> Any:
        """The GX metric ``name`` of the whole column, as pandas computes it on one frame.

        Raises TypeError (with pandas' own message) where pandas cannot compute it, and
        :class:`NotMergeable` where it can but not from merged statistics (e.g. the mean of timestamps).
        """
        if self.missing_column and self.rows_with_column == 0:
            raise TypeError(f'Error: The column "{self.name}" in BatchData does not exist.')
        if self.missing_column:
            raise NotMergeable("the column is missing from part of the window")
        if name == "column.non_null_proportion":
            return self.count / self.rows if self.rows else 0
        if name in ("column.min", "column.max"):
            if self.order_error is not None:
                raise TypeError(self.order_error)
            value = self.min if name == "column.min" else self.max
            return float("nan") if value is None else value
        if self.sample is not None:
            op = {"column.sum": "sum", "column.mean": "mean", "column.standard_deviation": "std"}[name]
            getattr(self.sample, op)()  # raises pandas' TypeError where one validation would fail too
            raise NotMergeable(f"the {op} of a {self.sample.dtype} column is not merged across chunks")
        if name == "column.sum":
            return self.total
        if name == "column.mean":
            return self.mean if self.count else float("nan")
        if name == "column.standard_deviation":
            return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else float("nan")
        raise NotMergeable(name)


class NotMergeable(Exception):
    """A statistic that merged per-chunk statistics cannot give exactly."""


def judge_metric(expectation: dict[str, Any], stats: ColumnStats, parameters: dict[str, Any]) -> _Outcome:
    """GX's own judgement of an aggregate expectation on a metric computed from merged statistics."""
    from great_expectations.core.suite_parameters import build_suite_parameters

    kind = str(expectation.get("type"))
    try:
        value = stats.metric(MERGED_METRIC[kind])
    except (NotMergeable, TypeError) as exc:
        kwargs, _ = build_suite_parameters(dict(expectation.get("kwargs") or {}), parameters)
        if isinstance(exc, TypeError):
            return _Outcome(kind, kwargs, False, {}, metric_error=str(exc))
        return _Outcome(kind, kwargs, True, {}, skipped=f"{exc} -- validate smaller windows for this expectation")
    return judge_value(expectation, MERGED_METRIC[kind], value, parameters)


def judge_value(expectation: dict[str, Any], metric: str, value: Any, parameters: dict[str, Any]) -> _Outcome:
    """GX's own judgement of an expectation given the value of the one metric it reads."""
    from great_expectations.core.suite_parameters import build_suite_parameters
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    from great_expectations.util import convert_to_json_serializable

    kind = str(expectation.get("type"))
    kwargs, _ = build_suite_parameters(dict(expectation.get("kwargs") or {}), parameters)
    impl = ExpectationConfiguration(type=kind, kwargs=kwargs).to_domain_obj()
    kwargs = {k: v for k, v in dict(impl.configuration.kwargs).items() if k != "batch_id"}
    try:
        judged = impl._validate(metrics={metric: value}, runtime_configuration={"result_format": "BASIC"})
    except Exception as exc:  # GX cannot judge the value (e.g. text against numeric bounds): as in one validation
        return _Outcome(kind, kwargs, False, {}, error=str(exc))

    result = {"observed_value": convert_to_json_serializable(judged.get("result", {}).get("observed_value"))}
    return _Outcome(kind, kwargs, bool(judged.get("success")), result)


# --------------------------------------------------------------------------- results


def severity_of(expectation: dict[str, Any]) -> str:
    """``critical``, ``warning`` or ``info``: GX 1.x's top-level ``severity``, else ``meta.severity`` (older
    suites), else ``warning``."""
    value = expectation.get("severity")
    if value is None:
        value = (expectation.get("meta") or {}).get("severity")
    text = str(value or "warning").lower()
    return text if text in ("critical", "warning", "info") else "warning"


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _short(value: Any) -> str:
    """A value for a message: floats to 6 significant digits (the exact value is in the details)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and len(value) > 10:
        return f"{value[:10]} ... ({len(value)} values)"
    return str(value)


def to_check_result(expectation: dict[str, Any], outcome: _Outcome) -> CheckResult:
    """The Watchkeeper result of one expectation's outcome (status from its severity)."""
    kwargs = outcome.kwargs
    kind = outcome.kind
    column = str(kwargs.get("column", kwargs.get("column_list", "")) or "")
    if isinstance(kwargs.get("column_list"), list) and "column" not in kwargs:
        column = ",".join(map(str, kwargs["column_list"]))
    unexpected = outcome.result.get("unexpected_percent")
    value = None if unexpected is None else float(unexpected) / 100.0
    mostly = kwargs.get("mostly")
    threshold = float(mostly) if isinstance(mostly, int | float) else None
    severity = severity_of(expectation)
    details: dict[str, Any] = {"kwargs": _jsonable(kwargs), "severity": severity}
    for key in ("element_count", "unexpected_count", "missing_count"):
        if key in outcome.result:
            details[key] = outcome.result[key]
    observed = outcome.result.get("observed_value")
    if observed is not None:
        details["observed_value"] = _jsonable(observed)
    if outcome.skipped is not None:
        status, msg = Status.SKIPPED, f"{kind} not evaluated: {outcome.skipped}"
    elif outcome.error is not None:
        status, msg = Status.ERROR, f"{kind} could not run: {outcome.error}"
    elif outcome.success:
        status, msg = Status.OK, f"{kind} passed"
    else:
        status = {"critical": Status.CRITICAL, "warning": Status.WARNING}.get(severity, Status.OK)
        detail = f" ({value:.2%} unexpected)" if value is not None else ""
        detail += f" (observed {_short(observed)})" if observed is not None and value is None else ""
        if outcome.metric_error:
            detail += f": could not be evaluated: {outcome.metric_error.splitlines()[0]}"
        msg = f"{kind} failed on {column or 'table'}{detail}"
        if severity == "info":
            msg += " (severity info: recorded, not alerted)"
    if value is not None and not math.isfinite(value):
        value = None
    return CheckResult("quality", f"gx.{kind}", column, value, threshold, status, msg, details)


def run_suite(config: LoadedConfig, batches: Iterable[pd.DataFrame], baseline: dict[str, Any]) -> list[CheckResult]:
    """The suite over a window given as batches (a convenience over :class:`GxRunner`)."""
    runner = GxRunner(config, baseline)
    for batch in batches:
        runner.add_batch(batch)
    return runner.results()
