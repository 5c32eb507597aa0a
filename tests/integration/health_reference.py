"""The overview's queries before the health summary (issue 9), kept verbatim as the reference the summary
must agree with: they read the latest run, open alerts and key-metric series straight from the history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from watchkeeper.results import Status, Window
from watchkeeper.store.schema import Alert, AlertState, Metric, Run

if TYPE_CHECKING:
    from watchkeeper.store import MetricStore

T = TypeVar("T")

#: Windows shown in an overview sparkline.
SPARK_WINDOWS = 30
#: Performance metrics that make a model's key metric, in order of preference.
PERFORMANCE_KEYS = ("recall", "accuracy", "mae", "rmse", "f1", "macro_f1")
#: Alert-state values that count as open.
OPEN_STATES = ("open", "ongoing")
_PARAMS_PER_QUERY = 400  # stay below SQLite's bound-parameter limit with room for the other clauses


@dataclass(frozen=True)
class LatestRun:
    """The latest window of a model and the status of its run."""

    model: str
    window: Window
    status: Status
    run_id: str | None
    n_rows: int | None


@dataclass
class KeyMetric:
    """The metric that sums a model up on the overview, with its recent history (oldest first)."""

    label: str
    check: str
    metric: str
    value: float | None = None
    status: str = ""
    baseline: float | None = None
    series: list[float | None] = field(default_factory=list)
    windows: list[datetime] = field(default_factory=list)


def _read(store: MetricStore, action: str, work: Callable[[Session], T]) -> T:
    """Run ``work`` in a read transaction of the store (errors become StoreError like the store's own)."""
    return store._transact(action, work, write=False)


def _chunks(items: Sequence[str], size: int = _PARAMS_PER_QUERY) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def latest_runs(store: MetricStore) -> dict[str, LatestRun]:
    """The latest run (latest window end) of every model with a run, in one grouped query."""
    latest = select(Run.model, func.max(Run.window_end).label("end")).group_by(Run.model).subquery()
    stmt = (
        select(Run.model, Run.window_start, Run.window_end, Run.status, Run.run_id, Run.n_rows)
        .join(latest, and_(Run.model == latest.c.model, Run.window_end == latest.c.end))
        .order_by(Run.model, Run.window_start)
    )

    def work(session: Session) -> dict[str, LatestRun]:
        out: dict[str, LatestRun] = {}
        for model, start, end, status, run_id, n_rows in session.execute(stmt):
            out[model] = LatestRun(model, Window(start, end), Status(status), run_id, n_rows)
        return out

    return _read(store, "read the latest run of every model", work)


def latest_result_window(store: MetricStore, model: str) -> LatestRun | None:
    """For a model with results but no run (e.g. only performance rows): its latest window and worst status."""
    window = store.latest_window(model)
    if window is None:
        return None
    stmt = select(Metric.status).where(
        Metric.model == model, Metric.window_start == window.start, Metric.window_end == window.end
    )

    def work(session: Session) -> LatestRun:
        statuses = [Status(s) for s in session.scalars(stmt)]
        status = max(statuses, key=lambda s: s.rank, default=Status.OK)
        return LatestRun(model, window, status, None, None)

    return _read(store, f"read the latest results of model {model!r}", work)


def open_alert_counts(store: MetricStore) -> dict[str, int]:
    """Open (or ongoing) alert keys per model."""
    stmt = select(AlertState.model, func.count()).where(AlertState.state.in_(OPEN_STATES)).group_by(AlertState.model)
    return _read(store, "count open alerts", lambda session: {m: int(n) for m, n in session.execute(stmt)})


def _since(latest: dict[str, Window], windows: int) -> dict[datetime, list[str]]:
    """Models grouped by the start of their last ``windows`` windows (one SQL clause per group)."""
    groups: dict[datetime, list[str]] = defaultdict(list)
    for model, window in latest.items():
        length = window.end - window.start
        groups[window.end - length * windows].append(model)
    return groups


def _series_clause(latest: dict[str, Window], windows: int) -> ColumnElement[bool]:
    clauses = [
        and_(Metric.model.in_(models), Metric.window_start >= since)
        for since, models in _since(latest, windows).items()
    ]
    return or_(*clauses)


def key_metrics(store: MetricStore, latest: dict[str, Window], *, windows: int = SPARK_WINDOWS) -> dict[str, KeyMetric]:
    """Each model's key metric: a performance metric (recall, accuracy, mae...) when it has labels,
    else the largest feature-drift statistic per window -- with its last ``windows`` values."""
    from watchkeeper.drift.registry import available_tests

    out: dict[str, KeyMetric] = {}
    models = sorted(latest)
    perf_rows: dict[str, dict[str, list[tuple[datetime, float | None, str, float | None, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for chunk in _chunks(models):
        part = {m: latest[m] for m in chunk}
        stmt = select(
            Metric.model,
            Metric.metric,
            Metric.window_start,
            Metric.value,
            Metric.status,
            Metric.threshold,
            Metric.details,
        ).where(
            Metric.model.in_(chunk),
            Metric.metric.in_(PERFORMANCE_KEYS),
            Metric.check == "performance",
            Metric.subject == "",
            _series_clause(part, windows),
        )

        def perf(session: Session, stmt: Any = stmt) -> list[Any]:
            return list(session.execute(stmt))

        for model, metric, start, value, status, threshold, details in _read(store, "read key metrics", perf):
            perf_rows[model][metric].append((start, value, status, threshold, details))
    for model, by_metric in perf_rows.items():
        name = next(k for k in PERFORMANCE_KEYS if k in by_metric)
        rows = sorted(by_metric[name], key=lambda r: r[0])
        last = rows[-1]
        details = last[4] if isinstance(last[4], dict) else {}
        reference = details.get("baseline", details.get("reference"))
        out[model] = KeyMetric(
            label=name,
            check="performance",
            metric=name,
            value=last[1],
            status=last[2],
            baseline=float(reference) if isinstance(reference, int | float) else None,
            series=[r[1] for r in rows],
            windows=[r[0] for r in rows],
        )
    rest = [m for m in models if m not in out]
    drift_tests = available_tests()
    for chunk in _chunks(rest):
        part = {m: latest[m] for m in chunk}
        worst_value = func.max(Metric.value)
        stmt = (
            select(Metric.model, Metric.window_start, worst_value, func.max(Metric.threshold))
            .where(
                Metric.model.in_(chunk),
                Metric.metric.in_(drift_tests),
                Metric.check == "drift",
                _series_clause(part, windows),
            )
            .group_by(Metric.model, Metric.window_start)
            .order_by(Metric.model, Metric.window_start)
        )

        def drift(session: Session, stmt: Any = stmt) -> list[Any]:
            return list(session.execute(stmt))

        series: dict[str, list[tuple[datetime, float | None, float | None]]] = defaultdict(list)
        for model, start, value, threshold in _read(store, "read drift key metrics", drift):
            series[model].append((start, value, threshold))
        for model, points in series.items():
            value, threshold = points[-1][1], points[-1][2]
            status = ""
            if value is not None and threshold is not None:
                status = "warning" if value >= threshold else "ok"
            out[model] = KeyMetric(
                label="worst drift",
                check="drift",
                metric="drift",
                value=value,
                status=status,
                baseline=threshold,
                series=[p[1] for p in points],
                windows=[p[0] for p in points],
            )
    return out


def stored_models(store: MetricStore) -> list[str]:
    """Every model with runs, results, baselines or alerts (``MetricStore.models`` before the summary)."""
    from sqlalchemy import union

    from watchkeeper.store.schema import Baseline

    stmt = union(select(Run.model), select(Metric.model), select(Baseline.model), select(Alert.model))
    return _read(store, "list models", lambda session: sorted(session.scalars(stmt)))


def overview(store: MetricStore) -> dict[str, dict[str, Any]]:
    """Per model: what the overview showed, computed the old way."""
    latest = latest_runs(store)
    for model in stored_models(store):
        if model not in latest and (found := latest_result_window(store, model)) is not None:
            latest[model] = found
    alerts = open_alert_counts(store)
    keys = key_metrics(store, {m: r.window for m, r in latest.items()})
    out: dict[str, dict[str, Any]] = {}
    for model, run in latest.items():
        key = keys.get(model)
        out[model] = {
            "window": run.window,
            "status": str(run.status),
            "run_id": run.run_id,
            "n_rows": run.n_rows,
            "open_alerts": alerts.get(model, 0),
            "key": None
            if key is None
            else (key.label, key.check, key.metric, key.value, key.status, key.baseline, key.series, key.windows),
        }
    return out
