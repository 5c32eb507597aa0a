"""Read model health from the metric store with a few targeted SQL queries.

The overview must stay fast with hundreds of models and years of windows, so it never scans the history:
the latest window, its status, the open alert keys and the key metric with its sparkline come from the
store's health summary (``model_health``: one row per model, rewritten by each write of the model's
results or alerts). Per-model pages read one model's rows through indexed, bounded queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from watchkeeper.results import Status, Window
from watchkeeper.store.health_repo import OPEN_STATES, PERFORMANCE_KEYS, SPARK_WINDOWS, HealthRow
from watchkeeper.store.schema import Alert, Metric, Run

if TYPE_CHECKING:
    from watchkeeper.store import AlertRow, MetricStore

T = TypeVar("T")

__all__ = ["OPEN_STATES", "PERFORMANCE_KEYS", "SPARK_WINDOWS"]

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


def latest_run(row: HealthRow) -> LatestRun | None:
    """The latest window of a summarized model and its status; None when it has only alerts."""
    window = row.window
    if window is None:
        return None
    return LatestRun(row.model, window, Status(row.status or Status.OK), row.run_id, row.n_rows)


def key_metric(row: HealthRow) -> KeyMetric | None:
    """The key metric of a summarized model with its sparkline points; None when it has none."""
    if row.key_check is None or row.key_metric is None:
        return None
    return KeyMetric(
        label=row.key_label or row.key_metric,
        check=row.key_check,
        metric=row.key_metric,
        value=row.key_value,
        status=row.key_status or "",
        baseline=row.key_baseline,
        series=[value for _, value in row.spark],
        windows=[start for start, _ in row.spark],
    )


def latest_runs(store: MetricStore) -> dict[str, LatestRun]:
    """The latest window of every model with runs or results (from the health summary)."""
    return {m: run for m, row in store.health(spark=False).items() if (run := latest_run(row)) is not None}


def latest_result_window(store: MetricStore, model: str) -> LatestRun | None:
    """The latest window of one model and its worst status (from the health summary); None if it has none."""
    row = store.health([model], spark=False).get(model)
    return None if row is None else latest_run(row)


def open_alert_counts(store: MetricStore) -> dict[str, int]:
    """Open (or ongoing) alert keys per model (from the health summary)."""
    return {m: row.open_alerts for m, row in store.health(spark=False).items() if row.open_alerts}


def key_metrics(store: MetricStore, models: Iterable[str]) -> dict[str, KeyMetric]:
    """The key metric of each of ``models`` (from the health summary): a performance metric (recall,
    accuracy, mae...) when it has labels, else the largest feature-drift statistic per window -- with its
    last :data:`SPARK_WINDOWS` values."""
    wanted = set(models)
    out: dict[str, KeyMetric] = {}
    for model, row in store.health(wanted).items():
        if (key := key_metric(row)) is not None:
            out[model] = key
    return out


def latest_performance_windows(store: MetricStore, models: Iterable[str]) -> dict[str, Window]:
    """The latest window with performance results of each of ``models`` that has one (from the health summary)."""
    health = store.health(set(models), spark=False)
    return {m: w for m, row in health.items() if (w := row.performance_window) is not None}


class Point(NamedTuple):
    """One value of a metric series, as a trend chart needs it."""

    window_start: datetime
    value: float | None
    threshold: float | None
    status: str


def series(store: MetricStore, model: str, check: str, metric: str, subject: str = "") -> list[Point]:
    """The values of one metric of ``model`` over its windows, oldest first (one indexed query, four columns:
    no JSON details are decoded, so a year of windows reads in milliseconds)."""
    stmt = (
        select(Metric.window_start, Metric.value, Metric.threshold, Metric.status)
        .where(Metric.model == model, Metric.metric == metric, Metric.check == check, Metric.subject == subject)
        .order_by(Metric.window_start, Metric.window_end)
    )
    return _read(
        store,
        f"read the {check} {metric} series of model {model!r}",
        lambda s: [Point(start, value, threshold, str(status)) for start, value, threshold, status in s.execute(stmt)],
    )


def recent_alerts(store: MetricStore, model: str, limit: int = 200) -> list[AlertRow]:
    """The model's most recent alerts (newest window first), at most ``limit``."""
    from watchkeeper.store.alerting_repo import _alert_row

    stmt = (
        select(Alert)
        .where(Alert.model == model)
        .order_by(Alert.window_start.desc(), Alert.check, Alert.metric, Alert.subject)
        .limit(limit)
    )
    return _read(store, f"read recent alerts of model {model!r}", lambda s: [_alert_row(a) for a in s.scalars(stmt)])


def window_count(store: MetricStore, model: str) -> int:
    """Number of windows the model has a run for."""
    stmt = select(func.count()).select_from(Run).where(Run.model == model)
    return _read(store, f"count the runs of model {model!r}", lambda s: int(s.scalar(stmt) or 0))


def model_exists(store: MetricStore, model: str) -> bool:
    """Whether anything is stored for ``model`` (cheap: indexed lookups, one row each)."""

    def work(session: Session) -> bool:
        for table in (Run, Metric, Alert):
            if session.execute(select(table.id).where(table.model == model).limit(1)).first() is not None:
                return True
        return False

    return _read(store, f"look up model {model!r}", work)


@dataclass(frozen=True)
class LatestRow:
    """One stored result, as the metrics endpoint needs it."""

    model: str
    window: Window
    check: str
    metric: str
    subject: str
    value: float | None
    threshold: float | None
    status: str
    details: dict[str, Any]


def rows_of_windows(
    store: MetricStore, windows: dict[str, Window], *, checks: Sequence[str] | None = None, model_wide: bool = False
) -> dict[str, list[LatestRow]]:
    """The stored results of one window per model (e.g. the latest), grouped by window (one query per group)."""
    groups: dict[Window, list[str]] = defaultdict(list)
    for model, window in windows.items():
        groups[window].append(model)
    out: dict[str, list[LatestRow]] = defaultdict(list)
    columns = (
        Metric.model,
        Metric.check,
        Metric.metric,
        Metric.subject,
        Metric.value,
        Metric.threshold,
        Metric.status,
        Metric.details,
    )
    for window, models in groups.items():
        for chunk in _chunks(sorted(models)):
            stmt = select(*columns).where(
                Metric.model.in_(chunk), Metric.window_start == window.start, Metric.window_end == window.end
            )
            if checks is not None:
                stmt = stmt.where(Metric.check.in_(list(checks)))
            if model_wide:
                stmt = stmt.where(Metric.subject == "")

            def work(session: Session, stmt: Any = stmt) -> list[Any]:
                return list(session.execute(stmt.order_by(Metric.model, Metric.check, Metric.metric, Metric.subject)))

            for model, check, metric, subject, value, threshold, status, details in _read(store, "read results", work):
                out[model].append(
                    LatestRow(
                        model,
                        window,
                        check,
                        metric,
                        subject or "",
                        value,
                        threshold,
                        str(status),
                        details if isinstance(details, dict) else {},
                    )
                )
    return dict(out)
