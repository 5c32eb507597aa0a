"""The window profile of a ``kind: sql`` prediction log, computed inside the database.

One aggregation statement (:mod:`watchkeeper.sources.sql_aggregate`) returns, for the window's rows,
the grid-slot counts of every numerical target (features, score, class scores, regression prediction:
count, sum, sum of squares, min, max per slot; nulls, NaN, +/-inf), the value counts of every
categorical target (features, predicted class, status), the row count, the newest timestamp, the id
count and distinct id count, and the classifier confidence of a score column. Only O(bins) rows come
back, and they are folded into the :class:`~watchkeeper.profile.window.WindowProfile` exactly as the
file path would have counted the same rows.

What needs arithmetic on each row with a fitted model streams, as a narrow projection of only the
columns it reads (filtered by the same window condition, in the same transaction): the performance
estimator, the multivariate detector, the latency sketch and the confidence of class-score columns.

The profile falls back to streaming every wanted column (and says why in ``scan.pushdown_reason``)
where the database cannot answer exactly as the file path would: a numerical column without a numeric
SQL type (PostgreSQL) or holding text (SQLite), a timestamp column that is not a timestamp
(PostgreSQL), a log time zone other than UTC on SQLite, or a statement over SQLite's parameter limit.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from watchkeeper.config import SqlSource, TaskType
from watchkeeper.drift.counts import CategoricalCounts, NumericalCounts
from watchkeeper.drift.profile import category_label
from watchkeeper.exceptions import DataError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from watchkeeper.config import LoadedConfig
    from watchkeeper.profile.window import WindowProfile
    from watchkeeper.results import Window
    from watchkeeper.sources.sql_aggregate import AggregateResult

log = logging.getLogger(__name__)

#: PostgreSQL type OIDs of numbers (int2/4/8, oid, float4/8, numeric) and of times (date, timestamp, timestamptz).
PG_NUMERIC = frozenset({20, 21, 23, 26, 700, 701, 1700})
PG_TIME = frozenset({1082, 1114, 1184})
PG_NAIVE_TIME = frozenset({1082, 1114})


def pushdown_enabled(config: LoadedConfig) -> bool:
    """Whether windows of ``config``'s prediction log are profiled inside the database."""
    source = config.model.predictions.source
    return isinstance(source, SqlSource) and source.pushdown


@dataclass
class _Targets:
    """The profile's counters, each with the column it counts (present in the query's result)."""

    numeric: list[tuple[str, NumericalCounts]]
    categorical: list[tuple[str, CategoricalCounts]]
    status: str | None
    confidence: tuple[str, bool] | None
    #: Columns the row-level parts stream (empty: nothing streams): the performance estimator's, the multivariate
    #: detector's, latency, and the class-score columns (confidence without a score column, probability checks).
    streamed: list[str]
    class_confidence: bool


def profile_in_database(
    config: LoadedConfig, window: Window, profile: WindowProfile, wanted: Sequence[str], batch_rows: int
) -> dict[str, Any]:
    """Fill ``profile`` (empty) with the window's counts computed by the database; return the scan record.

    Returns ``{"pushdown": False, "pushdown_reason": ...}`` (and leaves ``profile`` empty) when the
    window must be streamed instead. Raises :class:`~watchkeeper.exceptions.SourceError` naming the
    masked URL when the database fails (a timeout, a cancelled query...).
    """
    import sqlalchemy as sa

    from watchkeeper.sources.sql import sql_engine, sql_error, sql_url

    source = config.model.predictions.source
    assert isinstance(source, SqlSource)
    url = sql_url(source)
    engine = sql_engine(url)
    try:
        with engine.connect() as conn:
            return _run(config, window, profile, conn, wanted=list(wanted), batch_rows=batch_rows, url=url)
    except sa.exc.SQLAlchemyError as exc:
        raise sql_error(url, exc) from None
    finally:
        engine.dispose()


def _run(
    config: LoadedConfig,
    window: Window,
    profile: WindowProfile,
    conn: sa.Connection,
    *,
    wanted: list[str],
    batch_rows: int,
    url: str,
) -> dict[str, Any]:
    import sqlalchemy as sa

    from watchkeeper.sources.sql_aggregate import (
        SQLITE_MAX_PARAMS,
        AggregatePlan,
        build_statement,
        collect,
        parameter_count,
        user_query,
        window_filter,
    )

    log_cfg = config.model.predictions
    source = log_cfg.source
    assert isinstance(source, SqlSource)
    dialect = conn.dialect.name
    if dialect == "sqlite" and log_cfg.timezone != "UTC":
        return _declined(f"SQLite keeps timestamps as text; the log's time zone {log_cfg.timezone} is not UTC")
    if dialect == "postgresql":
        # one snapshot for the aggregate and the streamed projection; naive timestamps in the log's zone
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.execute(sa.text("SELECT set_config('TimeZone', :zone, true)"), {"zone": log_cfg.timezone})
    params = _query_params(config, window, url)
    names, types = _probe(conn, source.query, params)
    record = _schema_record(config, wanted, names)
    reason = _type_problem(dialect, config, names, types)
    if reason:
        return _declined(reason)
    targets = _targets(profile, names)
    plan = AggregatePlan(
        timestamp=log_cfg.timestamp,
        id=log_cfg.id if log_cfg.id in names else None,
        numeric=[(column, counts.grid) for column, counts in targets.numeric],
        categorical=[c for c, _ in targets.categorical] + ([targets.status] if targets.status else []),
        confidence=targets.confidence,
        low_confidence=profile.spec.low_confidence,
    )
    if dialect == "sqlite" and parameter_count(plan) > SQLITE_MAX_PARAMS:
        return _declined(f"the statement would bind {parameter_count(plan)} parameters, over SQLite's limit")
    rows = user_query(source.query, names)
    window_rows = sa.select(rows).where(window_filter(dialect, rows.c[log_cfg.timestamp], window.start, window.end))
    filtered = window_rows.subquery("wk_w")
    result = collect(plan, conn.execute(build_statement(dialect, plan, filtered), params).all())
    mistyped = [c for (c, _), slots in zip(targets.numeric, result.numeric, strict=True) if -4 in slots]
    if mistyped:
        return _declined(f"column {mistyped[0]!r} holds values that are not numbers (text)")
    _fold(profile, targets, result, config.model.predictions.timezone)
    record["rows_read"] = result.rows
    record["naive_timestamps"] = dialect == "postgresql" and types.get(log_cfg.timestamp) in PG_NAIVE_TIME
    if targets.streamed and result.rows:
        record["streamed_columns"] = list(targets.streamed)
        record["batches"] = _stream_rows(conn, filtered, targets, profile, params=params, batch_rows=batch_rows)
    return record


def _declined(reason: str) -> dict[str, Any]:
    return {"pushdown": False, "pushdown_reason": reason}


def _query_params(config: LoadedConfig, window: Window, url: str) -> dict[str, Any]:
    """The user query's ``:start``/``:end`` exactly as the streaming path binds them."""
    from watchkeeper.sources.base import ScanRequest
    from watchkeeper.sources.sql import window_params

    log_cfg = config.model.predictions
    source = log_cfg.source
    assert isinstance(source, SqlSource)
    zone = log_cfg.timezone
    request = ScanRequest(source, config.base_dir, window=window, timestamp=log_cfg.timestamp, timezone=zone)
    return window_params(source, request, url)


def _probe(conn: sa.Connection, query: str, params: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The query's column names and the driver's type codes, from a statement that returns no row."""
    import sqlalchemy as sa

    text = query.strip().rstrip(";")
    result = conn.execute(sa.text(f"SELECT * FROM ({text}) AS wk_probe WHERE 1 = 0"), dict(params))  # noqa: S608 -- the user's own query
    names = [str(k) for k in result.keys()]
    description = result.cursor.description if result.cursor is not None else None
    result.close()
    types = {str(d[0]): d[1] for d in description or []}
    return names, types


def _schema_record(config: LoadedConfig, wanted: list[str], names: list[str]) -> dict[str, Any]:
    """What the streamed scan records about the schema (and its error when the timestamp is missing)."""
    log_cfg = config.model.predictions
    if log_cfg.timestamp not in names:
        raise DataError(
            f"{config.path}: predictions.timestamp: column {log_cfg.timestamp!r} is not in the prediction log "
            f"(columns: {', '.join(names)}) -- fix the column name"
        )
    asked = list(dict.fromkeys([log_cfg.timestamp, *wanted]))
    configured = set(log_cfg.columns()) | set(asked)
    return {
        "pushdown": True,
        "missing_columns": [c for c in asked if c not in names],
        "extra_columns": [c for c in names if c not in configured],
        "all_columns": list(names),
        "naive_timestamps": False,
        "unparseable_timestamps": 0,
        "rows_read": 0,
        "files_read": 0,
        "schema_changes": [],
    }


def _type_problem(dialect: str, config: LoadedConfig, names: list[str], types: Mapping[str, Any]) -> str | None:
    """Why PostgreSQL cannot count a column exactly like the file path (None: it can)."""
    if dialect != "postgresql":
        return None
    log_cfg = config.model.predictions
    if types.get(log_cfg.timestamp) not in PG_TIME:
        oid = types.get(log_cfg.timestamp)
        return f"timestamp column {log_cfg.timestamp!r} is not a date or timestamp (type oid {oid})"
    numeric = [n for n, kind in log_cfg.features.items() if str(kind) == "numerical"]
    numeric += [c for c in (log_cfg.score, log_cfg.latency) if c]
    numeric += list(log_cfg.score_columns().values())
    if config.model.task is TaskType.REGRESSION:
        numeric.append(log_cfg.prediction)
    for column in dict.fromkeys(numeric):
        if column in names and types.get(column) not in PG_NUMERIC:
            return f"numerical column {column!r} does not have a numeric type (type oid {types.get(column)})"
    return None


def _targets(profile: WindowProfile, names: list[str]) -> _Targets:
    spec = profile.spec
    present = set(names)
    numeric: list[tuple[str, NumericalCounts]] = []
    categorical: list[tuple[str, CategoricalCounts]] = []
    for name, counts in profile.features.items():
        if name not in present:
            continue
        if isinstance(counts, NumericalCounts):
            numeric.append((name, counts))
        else:
            categorical.append((name, counts))
    if profile.score is not None and spec.score in present:
        numeric.append((spec.score, profile.score))
    for label, column in spec.class_scores.items():
        if column in present:
            numeric.append((column, profile.class_scores[label]))
    if profile.prediction_values is not None and spec.prediction in present:
        numeric.append((spec.prediction, profile.prediction_values))
    if profile.predicted is not None and spec.prediction in present:
        categorical.append((spec.prediction, profile.predicted))
    status = spec.status if profile.status is not None and spec.status in present else None
    confidence = None
    class_confidence = False
    if spec.task is not TaskType.REGRESSION:
        if spec.score and spec.score in present:
            confidence = (spec.score, spec.task is TaskType.BINARY_CLASSIFICATION)
        elif any(c in present for c in spec.class_scores.values()):
            class_confidence = True
    streamed: list[str] = []
    if spec.estimator is not None:
        streamed += [c for c in spec.estimator.columns if c in present]
    fitted = spec.multivariate
    if fitted is not None and all(c in present for c in (*fitted.numerical, *fitted.categorical)):
        streamed += [*fitted.numerical, *fitted.categorical]
    if spec.latency and spec.latency in present:
        streamed.append(spec.latency)
    if class_confidence or profile.probabilities is not None:
        streamed += [c for c in spec.class_scores.values() if c in present]
    return _Targets(numeric, categorical, status, confidence, list(dict.fromkeys(streamed)), class_confidence)


def _fold(profile: WindowProfile, targets: _Targets, result: AggregateResult, timezone: str) -> None:
    """Put the statement's aggregates into the (empty) profile."""
    spec = profile.spec
    rows = result.rows
    profile.rows = rows
    profile.newest = _newest(result.newest, timezone)
    for (_, counts), slots in zip(targets.numeric, result.numeric, strict=True):
        _fold_numeric(counts, slots, rows)
    for i, (_, cat_counts) in enumerate(targets.categorical):
        labels, _ = _labels(result.categorical[i], spec.error_values)
        cat_counts.add_counts(labels, rows)
    if targets.status is not None and profile.status is not None:
        labels, errors = _labels(result.categorical[len(targets.categorical)], spec.error_values)
        profile.status.add_counts(labels, rows)
        profile.status_errors += errors
    if result.confidence is not None:
        n, total, low = result.confidence
        profile.confidence_n += n
        profile.confidence_sum += total
        profile.low_confidence += low
    for name in profile.features:
        if all(name != column for column, _ in (*targets.numeric, *targets.categorical)):
            profile.absent_rows[name] = profile.absent_rows.get(name, 0) + rows
    if profile.ids is not None:
        profile.ids.close()
        profile.ids = None
    profile.id_summary = {"n": result.ids, "nulls": rows - result.ids, "duplicates": result.ids - result.distinct_ids}


def _fold_numeric(counts: NumericalCounts, slots: Mapping[int, Any], rows: int) -> None:
    from watchkeeper.sources.sql_aggregate import NEG_INF_SLOT, NULL_SLOT, POS_INF_SLOT

    counts.rows += rows
    lows: list[float] = []
    highs: list[float] = []
    for slot, row in slots.items():
        if slot == NULL_SLOT:
            counts.null_count += row.n
        elif slot == POS_INF_SLOT:
            counts.pos_inf += row.n
        elif slot == NEG_INF_SLOT:
            counts.neg_inf += row.n
        else:
            counts.counts[slot] += row.n
            counts.sums[slot] += row.total
            counts.total += row.total
            counts.total_sq += row.total_sq
            lows += [row.low] if row.low is not None else []
            highs += [row.high] if row.high is not None else []
    if lows:
        counts.min = min(lows) if counts.min is None else min(counts.min, *lows)
    if highs:
        counts.max = max(highs) if counts.max is None else max(counts.max, *highs)


def _labels(groups: Sequence[tuple[Any, int]], error_values: frozenset[str]) -> tuple[dict[str, int], int]:
    """Category labels (as the file path names them) and their counts; how many are error values."""
    labels: dict[str, int] = {}
    errors = 0
    for key, count in groups:
        value = float(key) if isinstance(key, Decimal) else key  # the streamed rows coerce decimals to floats
        if value is None or (isinstance(value, float) and math.isnan(value)) or not count:
            continue
        label = category_label(value)
        labels[label] = labels.get(label, 0) + count
        if str(value).lower() in error_values:
            errors += count
    return labels, errors


def _newest(value: Any, timezone: str) -> datetime | None:
    """The newest timestamp the database returned, in UTC like the streamed path converts it."""
    from watchkeeper.sources.base import to_utc

    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    converted, _, _ = to_utc(pd.Series([value]), timezone)
    stamp = converted.iloc[0]
    if pd.isna(stamp):
        return None
    out: datetime = pd.Timestamp(stamp).to_pydatetime(warn=False)
    return out if out.tzinfo else out.replace(tzinfo=UTC)


def _stream_rows(
    conn: sa.Connection,
    filtered: sa.Subquery,
    targets: _Targets,
    profile: WindowProfile,
    *,
    params: Mapping[str, Any],
    batch_rows: int,
) -> int:
    """Stream the row-level parts' columns of the window's rows into ``profile``; the number of batches."""
    import sqlalchemy as sa

    statement = sa.select(*(filtered.c[c] for c in targets.streamed))
    streaming = conn.execution_options(stream_results=True, max_row_buffer=batch_rows)
    result = streaming.execute(statement, dict(params))
    batches = 0
    for chunk in result.partitions(batch_rows):
        frame = pd.DataFrame.from_records(chunk, columns=targets.streamed, coerce_float=True)
        profile.add_row_level(frame, confidence=targets.class_confidence)
        batches += 1
    return batches
