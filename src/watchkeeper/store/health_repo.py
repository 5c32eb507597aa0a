"""The model-health summary: one small row per model with what the overview shows (issue 9).

The latest window and its status, the open alert keys and the key metric with its last
:data:`SPARK_WINDOWS` values are recomputed for one model inside every transaction that writes its
results, runs or alerts (:func:`refresh_health`), from bounded, indexed queries -- so a write costs the
same after years of windows, and pages read one row per model instead of scanning the history.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, NamedTuple

from sqlalchemy import Connection, Text, and_, cast, delete, func, insert, select, union
from sqlalchemy.orm import Session

from watchkeeper.catalogs.monitor import DRIFT_TESTS
from watchkeeper.results import Status, Window
from watchkeeper.store.common import StoreBase, _finite, _now, _serialize
from watchkeeper.store.schema import Alert, AlertState, Metric, ModelHealth, Run

#: Windows of the key metric kept for the overview's sparkline.
SPARK_WINDOWS = 30
#: Performance metrics that make a model's key metric, in order of preference.
PERFORMANCE_KEYS = ("recall", "accuracy", "mae", "rmse", "f1", "macro_f1")
#: Alert-state values that count as open.
OPEN_STATES = ("open", "ongoing")
#: Most models filtered in SQL (bound parameters); longer lists are filtered after reading the table.
_IN_LIMIT = 400


@dataclass(frozen=True)
class HealthRow:
    """The stored health summary of one model. Datetimes are aware UTC."""

    model: str
    window_start: datetime | None
    window_end: datetime | None
    status: str | None
    run_id: str | None
    n_rows: int | None
    perf_window_start: datetime | None
    perf_window_end: datetime | None
    open_alerts: int
    key_check: str | None
    key_metric: str | None
    key_label: str | None
    key_value: float | None
    key_status: str | None
    key_baseline: float | None
    #: ``[window start ISO, value]`` of the key metric's last windows, oldest first, as stored (empty when
    #: read with ``spark=False``).
    spark_json: tuple[Any, ...] = ()

    @property
    def window(self) -> Window | None:
        """The latest window, None when the model has only alerts."""
        if self.window_start is None or self.window_end is None:
            return None
        return Window(self.window_start, self.window_end)

    @cached_property
    def spark(self) -> list[tuple[datetime, float | None]]:
        """``(window start, value)`` of the key metric's last windows, oldest first (parsed on first use)."""
        return [(datetime.fromisoformat(p[0]), None if p[1] is None else float(p[1])) for p in self.spark_json]

    @property
    def performance_window(self) -> Window | None:
        """The latest window with performance results, None before labels arrive."""
        if self.perf_window_start is None or self.perf_window_end is None:
            return None
        return Window(self.perf_window_start, self.perf_window_end)


def compute_health(session: Session | Connection, model: str) -> dict[str, Any] | None:
    """The summary values of ``model`` computed from its history (bounded, indexed queries); None when
    nothing but baselines is stored for it."""
    values: dict[str, Any] = {"model": model, **_latest(session, model), **_latest_performance(session, model)}
    values["open_alerts"] = int(
        session.execute(
            select(func.count())
            .select_from(AlertState)
            .where(AlertState.model == model, AlertState.state.in_(OPEN_STATES))
        ).scalar_one()
    )
    window = Window(values["window_start"], values["window_end"]) if values["window_start"] is not None else None
    key = _key_metric(session, model, window) if window is not None else {}
    for name in ("check", "metric", "label", "value", "status", "baseline"):
        values[f"key_{name}"] = key.get(name)
    values["spark"] = [[start.isoformat(), value] for start, value in key.get("spark", [])]
    if window is None and values["open_alerts"] == 0 and not _has_alerts(session, model):
        return None
    return values


def refresh_health(session: Session, model: str) -> None:
    """Recompute the summary row of ``model`` in the caller's transaction (idempotent)."""
    _serialize(session, "health", model)  # after every other lock of the write: never a lock cycle
    _write(session, model, compute_health(session, model))


def rebuild_health(connection: Session | Connection, models: Iterable[str] | None = None) -> int:
    """Recompute the summary rows of ``models`` (default: every model with runs, results or alerts).

    Models without anything left lose their row. Returns the number of rows written.
    """
    if models is None:
        stmt = union(select(Run.model), select(Metric.model), select(Alert.model), select(AlertState.model))
        wanted = sorted(set(connection.execute(stmt).scalars()) | set(_summarized(connection)))
    else:
        wanted = sorted(set(models))
    written = 0
    for model in wanted:
        values = compute_health(connection, model)
        _write(connection, model, values)
        written += values is not None
    return written


def health_row(values: Mapping[str, Any]) -> HealthRow:
    """A :class:`HealthRow` from a ``model_health`` row (a mapping of its columns)."""
    return HealthRow(
        model=values["model"],
        window_start=values["window_start"],
        window_end=values["window_end"],
        status=values["status"],
        run_id=values["run_id"],
        n_rows=values["n_rows"],
        perf_window_start=values["perf_window_start"],
        perf_window_end=values["perf_window_end"],
        open_alerts=int(values["open_alerts"] or 0),
        key_check=values["key_check"],
        key_metric=values["key_metric"],
        key_label=values["key_label"],
        key_value=values["key_value"],
        key_status=values["key_status"],
        key_baseline=values["key_baseline"],
        spark_json=tuple(values.get("spark") or ()),
    )


class SummaryResult(NamedTuple):
    """A stored result of a window the summary names (see :meth:`HealthRepository.summary_results`)."""

    model: str
    check: str
    metric: str
    subject: str
    value: float | None
    threshold: float | None
    status: str
    #: ``details.get(key)`` for each requested key, in order, as stored (numbers keep their digits).
    picked: tuple[Any, ...]


class HealthRepository(StoreBase):
    """The model-health summary (a mixin of :class:`~watchkeeper.store.store.MetricStore`)."""

    def health(self, models: Collection[str] | None = None, *, spark: bool = True) -> dict[str, HealthRow]:
        """The health summary of ``models`` (default: every summarized model), keyed by model; without the
        sparkline points when ``spark`` is False (less to decode for a reader that needs none).

        One query on a table with one row per model: cost grows with models, never with windows.
        """
        table = ModelHealth.__table__
        columns = [c for c in table.c if spark or c.name != "spark"]
        stmt = select(*columns).order_by(ModelHealth.model)
        if models is not None and len(models) <= _IN_LIMIT:
            stmt = stmt.where(ModelHealth.model.in_(sorted(models)))

        def work(session: Session) -> dict[str, HealthRow]:
            rows = (health_row(dict(r)) for r in session.execute(stmt).mappings())
            return {r.model: r for r in rows if models is None or r.model in models}

        return self._transact("read the model health summary", work, write=False)

    def summary_results(
        self, models: Collection[str], *, performance: bool = False, keys: Sequence[str] = ()
    ) -> list[SummaryResult]:
        """The stored results of each of ``models``' latest window -- with ``performance``, the model-wide
        performance results of its latest window with performance results -- ordered by model, check, metric
        and subject. With ``keys``, each row carries those keys of its details, picked by the database (large
        details such as current bin counts are neither sent nor decoded).

        One query joining the summary to the results' unique index: cost grows with models, never with windows.
        """
        start, end = (
            (ModelHealth.perf_window_start, ModelHealth.perf_window_end)
            if performance
            else (ModelHealth.window_start, ModelHealth.window_end)
        )
        columns = (Metric.model, Metric.check, Metric.metric, Metric.subject, Metric.value, Metric.threshold)
        on = and_(Metric.model == ModelHealth.model, Metric.window_start == start, Metric.window_end == end)
        if performance:
            on = and_(on, Metric.check == "performance", Metric.subject == "")
        order = (Metric.model, Metric.check, Metric.metric, Metric.subject)

        def work(session: Session) -> list[SummaryResult]:
            # An outer join keeps the summary the outer loop: with an inner join SQLite may drive from
            # ``metrics`` through another index and walk every row of each model (its whole history).
            stmt = (
                select(*columns, Metric.status, _picked(session, keys))
                .select_from(ModelHealth)
                .outerjoin(Metric, on)
                .order_by(*order)
            )
            if len(models) <= _IN_LIMIT:
                stmt = stmt.where(ModelHealth.model.in_(sorted(models)))
            n_keys = len(keys)
            return [
                SummaryResult(m, c, n, s or "", v, t, str(status), tuple(json.loads(p)[:n_keys]) if n_keys else ())
                for m, c, n, s, v, t, status, p in session.execute(stmt)
                if m is not None and m in models
            ]

        return self._transact("read the results of the summarized windows", work, write=False)

    def rebuild_health(self, models: Iterable[str] | None = None) -> int:
        """Recompute the health summary from the stored history (all models by default); returns the rows
        written. Only needed after writing to the tables without the store (bulk loads, manual fixes)."""
        wanted = None if models is None else list(models)
        return self._transact("rebuild the model health summary", lambda session: rebuild_health(session, wanted))


# -- computation -----------------------------------------------------------------------------------


def _latest(session: Session | Connection, model: str) -> dict[str, Any]:
    """The latest window with a run (its status, run id, rows); else the latest window with results.

    Latest = latest start, then latest end: the order of the ``(model, window_start, window_end)`` unique
    indexes, so the database reads one index entry however long the history (a model's windows follow each
    other, so this is also the latest end).
    """
    run = session.execute(
        select(Run.window_start, Run.window_end, Run.status, Run.run_id, Run.n_rows)
        .where(Run.model == model)
        .order_by(Run.window_start.desc(), Run.window_end.desc())
        .limit(1)
    ).first()
    if run is not None:
        return dict(zip(("window_start", "window_end", "status", "run_id", "n_rows"), run, strict=True))
    last = session.execute(
        select(Metric.window_start, Metric.window_end)
        .where(Metric.model == model)
        .order_by(Metric.window_start.desc(), Metric.window_end.desc())
        .limit(1)
    ).first()
    if last is None:
        return {"window_start": None, "window_end": None, "status": None, "run_id": None, "n_rows": None}
    statuses = session.execute(
        select(Metric.status).where(Metric.model == model, Metric.window_start == last[0], Metric.window_end == last[1])
    ).scalars()
    worst = max((Status(s) for s in statuses), key=lambda s: s.rank, default=Status.OK)
    return {"window_start": last[0], "window_end": last[1], "status": str(worst), "run_id": None, "n_rows": None}


def _latest_performance(session: Session | Connection, model: str) -> dict[str, Any]:
    """The latest window with performance results (walks the model's unique index backwards, stops at once)."""
    last = session.execute(
        select(Metric.window_start, Metric.window_end)
        .where(Metric.model == model, Metric.check == "performance")
        .order_by(Metric.window_start.desc(), Metric.window_end.desc())
        .limit(1)
    ).first()
    return {"perf_window_start": last[0] if last else None, "perf_window_end": last[1] if last else None}


def _key_metric(session: Session | Connection, model: str, window: Window) -> dict[str, Any]:
    """A performance metric (recall, accuracy, mae...) when the last windows have labels, else the largest
    feature-drift statistic per window -- with its values over the last :data:`SPARK_WINDOWS` windows."""
    since = window.end - (window.end - window.start) * SPARK_WINDOWS
    perf = session.execute(
        select(Metric.metric, Metric.window_start, Metric.value, Metric.status, Metric.details)
        .where(
            Metric.model == model,
            Metric.metric.in_(PERFORMANCE_KEYS),
            Metric.check == "performance",
            Metric.subject == "",
            Metric.window_start >= since,
        )
        .order_by(Metric.window_start, Metric.window_end)
    ).all()
    by_metric: dict[str, list[Any]] = defaultdict(list)
    for metric, start, value, status, details in perf:
        by_metric[metric].append((start, value, status, details))
    name = next((k for k in PERFORMANCE_KEYS if k in by_metric), None)
    if name is not None:
        rows = by_metric[name]
        _, value, status, details = rows[-1]
        details = details if isinstance(details, dict) else {}
        reference = details.get("baseline", details.get("reference"))
        baseline = float(reference) if isinstance(reference, int | float) and not isinstance(reference, bool) else None
        return {
            "check": "performance",
            "metric": name,
            "label": name,
            "value": value,
            "status": str(status),
            "baseline": _finite(baseline),
            "spark": [(r[0], r[1]) for r in rows],
        }
    drift = session.execute(
        select(Metric.window_start, func.max(Metric.value), func.max(Metric.threshold))
        .where(
            Metric.model == model,
            Metric.metric.in_(DRIFT_TESTS),
            Metric.check == "drift",
            Metric.window_start >= since,
        )
        .group_by(Metric.window_start)
        .order_by(Metric.window_start)
    ).all()
    if not drift:
        return {}
    _, value, threshold = drift[-1]
    status = ""
    if value is not None and threshold is not None:
        status = "warning" if value >= threshold else "ok"
    return {
        "check": "drift",
        "metric": "drift",
        "label": "worst drift",
        "value": value,
        "status": status,
        "baseline": threshold,
        "spark": [(p[0], p[1]) for p in drift],
    }


def _picked(session: Session, keys: Sequence[str]) -> Any:
    """JSON text of ``[details.get(key) for key in keys]`` (one more item with a single key on SQLite), built by
    the database from the stored text: numbers keep their stored digits and booleans stay booleans (SQLite's
    one-path ``json_extract`` returns a REAL, printed with 15 digits by ``json_quote``, and ``true`` as 1)."""
    if not keys:
        return cast(None, Text)
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.jsonb_build_array(*(Metric.details[k] for k in keys)), Text)
    paths = [f'$."{k}"' for k in keys]
    # with two paths or more, json_extract returns a JSON array (one path would return the bare value)
    return func.json_extract(Metric.details, *paths, *paths[:1] * (len(paths) == 1))


def _has_alerts(session: Session | Connection, model: str) -> bool:
    for table in (Alert, AlertState):
        if session.execute(select(table.id).where(table.model == model).limit(1)).first() is not None:
            return True
    return False


def _summarized(session: Session | Connection) -> list[str]:
    return list(session.execute(select(ModelHealth.model)).scalars())


def _write(session: Session | Connection, model: str, values: Mapping[str, Any] | None) -> None:
    session.execute(
        delete(ModelHealth).where(ModelHealth.model == model), execution_options={"synchronize_session": False}
    )
    if values is not None:
        session.execute(insert(ModelHealth), [{**values, "updated_at": _now()}])
