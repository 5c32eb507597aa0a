"""Web UI latency on a large metric store: N models x W daily windows x ~21 metrics (default 200 x 365),
on SQLite and on PostgreSQL.

Populates a fresh store per backend with bulk inserts (runs, metrics with drift/quality/prediction/service
and performance rows, a baseline, alert states) and builds the health summary from that history
(``MetricStore.rebuild_health``, as migration 0006 does on upgrade). Then, for each backend, times the server
side of every page through FastAPI's TestClient: median wall time and the process's CPU time (the database
server's own CPU is not in it) -- beside a bare reference measured in the same run: the queries the overview
and ``/api/models`` ran before the summary (model list from every history table, latest run per model,
open alerts, key-metric series over the history). Prints PASS/FAIL against the target (default: every
page under 0.5 s). PostgreSQL runs in a throw-away database on ``--pg-admin-url``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PG_ADMIN_URL = os.environ.get("WATCHKEEPER_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

FEATURES = ["amount", "hour", "account_age_days", "txn_count_24h", "merchant_category", "country"]
NUMERICAL = FEATURES[:4]


def _metric_rows(model: str, start: datetime, end: datetime, *, run_fk: int, i: int, rng: random.Random) -> list[Any]:
    rows: list[dict[str, Any]] = []

    def add(
        check: str, metric: str, subject: str, value: float, threshold: float | None, *, status: str = "ok"
    ) -> None:
        rows.append(
            {
                "model": model,
                "window_start": start,
                "window_end": end,
                "check": check,
                "metric": metric,
                "subject": subject,
                "value": value,
                "threshold": threshold,
                "status": status,
                "message": f"{metric} {subject} {value:.3g}",
                "details": {"method": "psi", "n": 2000} if check == "drift" else {},
                "run_fk": None if check == "performance" else run_fk,
            }
        )

    add("quality", "row_count", "", 2000 + rng.random() * 100, 1000)
    for feature in FEATURES:
        add("quality", "missing_share", feature, rng.random() * 0.01, 0.05)
    for feature in FEATURES:
        psi = abs(rng.gauss(0.03, 0.02)) + (0.3 if feature == "amount" and i > 300 else 0.0)
        add("drift", "psi", feature, psi, 0.1, status="critical" if psi >= 0.25 else "warning" if psi >= 0.1 else "ok")
    add("prediction", "score_psi", "score", abs(rng.gauss(0.02, 0.01)), 0.1)
    add("prediction", "mean_confidence", "", 0.8 + rng.random() * 0.02, None)
    for metric, base in (("latency_p50_ms", 60), ("latency_p95_ms", 120), ("latency_p99_ms", 200)):
        add("service", metric, "", base * (1 + rng.random() * 0.1), base * 2)
    add("service", "error_rate", "", rng.random() * 0.002, 0.01)
    rows[-1]["details"] = {"errors": 2, "requests": 2000}
    recall = 0.6 - 0.0005 * i + rng.gauss(0, 0.01)
    rows.append(
        {
            **rows[-1],
            "check": "performance",
            "metric": "recall",
            "value": recall,
            "threshold": 0.54,
            "status": "warning" if recall < 0.54 else "ok",
            "message": f"recall {recall:.3f}",
            "details": {"ci": [recall - 0.03, recall + 0.03], "baseline": 0.6, "higher_is_better": True, "n": 300},
            "run_fk": None,
        }
    )
    return rows


def populate(url: str, models: int, windows: int, seed: int = 0) -> int:
    """Fill the store at ``url``; returns the number of metric rows."""
    from sqlalchemy import insert

    from watchkeeper.store import MetricStore
    from watchkeeper.store.schema import AlertState, Metric, Run

    store = MetricStore(url)
    store.migrate()
    rng = random.Random(seed)
    baseline = {
        "n_rows": 100_000,
        "features": {
            **{
                f: {"kind": "numerical", "n": 100_000, "edges": [1.0, 2.0, 3.0], "counts": [1, 2, 3, 4]}
                for f in NUMERICAL
            },
            "merchant_category": {"kind": "categorical", "n": 100_000, "counts": {"grocery": 5, "travel": 3}},
            "country": {"kind": "categorical", "n": 100_000, "counts": {"FR": 5, "DE": 3}},
        },
        "performance": {"metrics": {"recall": 0.6}},
    }
    engine = store._writer()
    day0 = datetime(2025, 1, 1, tzinfo=UTC)
    total = 0
    now = datetime.now(UTC)
    run_id = 0
    for m in range(models):
        model = f"model_{m:03d}"
        store.save_baseline(model, f"hash{m}", baseline)
        runs, metrics = [], []
        for i in range(windows):
            start = day0 + timedelta(days=i)
            end = start + timedelta(days=1)
            run_id += 1
            batch = _metric_rows(model, start, end, run_fk=run_id, i=i, rng=rng)
            worst = max(
                (r["status"] for r in batch if r["check"] != "performance"), key=["ok", "warning", "critical"].index
            )
            runs.append(
                {
                    "id": run_id,
                    "model": model,
                    "window_start": start,
                    "window_end": end,
                    "run_id": f"scheduled__{start:%Y-%m-%d}",
                    "source": "airflow",
                    "status": worst,
                    "n_rows": 2000,
                    "started_at": now,
                    "finished_at": now,
                    "summary": {},
                }
            )
            metrics += batch
        last = day0 + timedelta(days=windows - 1)
        with engine.begin() as conn:
            conn.execute(insert(Run), runs)
            conn.execute(insert(Metric), metrics)
            conn.execute(
                insert(AlertState),
                [
                    {
                        "model": model,
                        "check": "drift",
                        "subject": "amount",
                        "state": "open" if m % 3 == 0 else "resolved",
                        "severity": "critical",
                        "findings": [],
                        "opened_at": last,
                        "window_start": last,
                        "window_end": last + timedelta(days=1),
                        "updated_at": now,
                    }
                ],
            )
        total += len(metrics)
    store.rebuild_health()  # bulk inserts bypass the store: summarize the history as migration 0006 does
    store.close()
    return total


@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """URL of a new PostgreSQL database, dropped on exit."""
    import sqlalchemy as sa

    name = f"wk_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- the bare reference: what the overview and /api/models queried before the health summary -------------


def reference_overview(store: Any, windows: int = 30) -> int:
    """The pre-summary overview queries (full-history scans); returns the number of models with a key metric."""
    from sqlalchemy import and_, func, or_, select, union

    from watchkeeper.catalogs.monitor import DRIFT_TESTS
    from watchkeeper.store.health_repo import OPEN_STATES, PERFORMANCE_KEYS
    from watchkeeper.store.schema import Alert, AlertState, Baseline, Metric, Run

    def work(session: Any) -> int:
        models = union(select(Run.model), select(Metric.model), select(Baseline.model), select(Alert.model))
        sorted(session.scalars(models))
        last = select(Run.model, func.max(Run.window_end).label("end")).group_by(Run.model).subquery()
        latest = {
            model: (start, end)
            for model, start, end in session.execute(
                select(Run.model, Run.window_start, Run.window_end).join(
                    last, and_(Run.model == last.c.model, Run.window_end == last.c.end)
                )
            )
        }
        dict(
            session.execute(
                select(AlertState.model, func.count())
                .where(AlertState.state.in_(OPEN_STATES))
                .group_by(AlertState.model)
            ).all()
        )
        groups: dict[datetime, list[str]] = defaultdict(list)
        for model, (start, end) in latest.items():
            groups[end - (end - start) * windows].append(model)
        recent = or_(*(and_(Metric.model.in_(ms), Metric.window_start >= since) for since, ms in groups.items()))
        keyed = {
            model
            for (model,) in session.execute(
                select(Metric.model, Metric.metric, Metric.window_start, Metric.value, Metric.details).where(
                    Metric.model.in_(sorted(latest)),
                    Metric.metric.in_(PERFORMANCE_KEYS),
                    Metric.check == "performance",
                    Metric.subject == "",
                    recent,
                )
            ).columns(0)
        }
        rest = sorted(set(latest) - keyed)
        if rest:
            session.execute(
                select(Metric.model, Metric.window_start, func.max(Metric.value))
                .where(Metric.model.in_(rest), Metric.metric.in_(DRIFT_TESTS), Metric.check == "drift", recent)
                .group_by(Metric.model, Metric.window_start)
            ).all()
        return len(keyed) + len(rest)

    return int(store._transact("reference overview", work, write=False))


def reference_model_series(store: Any, model: str) -> int:
    """The model page's service and drift series read the pre-summary way (full rows, JSON details decoded)."""
    rows = store.metrics(model, check="service", subject="")
    for feature in FEATURES[:4]:
        rows += store.metrics(model, check="drift", metric="psi", subject=feature)
    return len(rows)


# -- timing ---------------------------------------------------------------------------------------------


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """(first wall, median wall, median CPU) in seconds over ``repeat`` calls after the first, and its result."""
    t0 = time.perf_counter()
    result = call()
    first = time.perf_counter() - t0
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        call()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    if not walls:
        return first, first, 0.0, result
    return first, statistics.median(walls), statistics.median(cpus), result


def bench_store(label: str, url: str, args: argparse.Namespace) -> tuple[bool, list[str]]:
    """Populate (when empty), then time the reference and every page; returns (all passed, table lines)."""
    from fastapi.testclient import TestClient

    from watchkeeper.store import MetricStore
    from watchkeeper.ui.app import create_app

    store = MetricStore(url)
    store.migrate()
    if not store.models():
        t0 = time.perf_counter()
        rows = populate(url, args.models, args.windows)
        print(
            f"[{label}] populated {args.models} models x {args.windows} windows, {rows:,} metric rows "
            f"in {time.perf_counter() - t0:.0f} s"
        )
    t0 = time.perf_counter()
    rebuilt = store.rebuild_health()
    print(f"[{label}] rebuild_health (what migration 0006 runs): {rebuilt} models in {time.perf_counter() - t0:.2f} s")
    client = TestClient(create_app(store=store))
    model = "model_000"
    last = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=args.windows - 1)
    report = f"/models/{model}/report?start={last.date()}T00:00:00%2B00:00&end={(last + timedelta(days=1)).date()}"
    paths = [
        ("overview", "/"),
        ("API model list", "/api/models"),
        ("model page", f"/models/{model}"),
        ("run report", report),
        ("API metrics (1 series)", f"/api/models/{model}/metrics?check=performance&metric=recall"),
        ("API latest window", f"/api/models/{model}/windows/latest"),
        ("API alerts", f"/api/models/{model}/alerts"),
        ("Prometheus /api/metrics", "/api/metrics"),
    ]
    client.get(f"/api/models/{model}/retraining")  # imports, store migration check, app startup
    import watchkeeper.report.run_report  # noqa: F401

    lines = [f"{label:<11} {'page':<40} {'first (s)':>9} {'median (s)':>10} {'CPU (s)':>8}  result"]
    first, wall, cpu, n = timed(lambda: reference_overview(store), args.repeat)
    lines.append(
        f"{label:<11} {'reference: pre-summary overview queries':<40} {first:>9.3f} {wall:>10.3f} {cpu:>8.3f}  "
        f"({n} models, not a page)"
    )
    first, wall, cpu, n = timed(lambda: reference_model_series(store, model), args.repeat)
    lines.append(
        f"{label:<11} {'reference: pre-change model-page series':<40} {first:>9.3f} {wall:>10.3f} {cpu:>8.3f}  "
        f"({n} rows, not a page)"
    )
    passed = True
    for name, path in paths:

        def get(path: str = path) -> int:
            return int(client.get(path).status_code)

        first, wall, cpu, code = timed(get, args.repeat)
        ok = code == 200 and wall < args.target_seconds
        passed &= ok
        lines.append(
            f"{label:<11} {name:<40} {first:>9.3f} {wall:>10.3f} {cpu:>8.3f}  {code} {'PASS' if ok else 'FAIL'}"
        )
    store.close()
    return passed, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--windows", type=int, default=365, help="daily windows per model")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions after the first request")
    parser.add_argument("--target-seconds", type=float, default=0.5, help="target for the median of every page")
    parser.add_argument("--stores", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--db", help="SQLite file to (re)use; populated when empty (default: a temporary one)")
    parser.add_argument("--pg-url", help="PostgreSQL database to (re)use instead of a throw-away one")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="server where a throw-away database is created")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="wk-bench-ui-")
    os.environ.setdefault("WATCHKEEPER_HOME", tmp)
    os.environ["WATCHKEEPER_CONFIG_DIR"] = str(Path(tmp) / "no-configs")
    passed, lines = True, []
    for backend in [b.strip() for b in args.stores.split(",") if b.strip()]:
        if backend == "sqlite":
            ok, out = bench_store("SQLite", f"sqlite:///{Path(args.db) if args.db else Path(tmp) / 'bench.db'}", args)
        elif args.pg_url:
            ok, out = bench_store("PostgreSQL", args.pg_url, args)
        else:
            with pg_database(args.pg_admin_url) as url:
                ok, out = bench_store("PostgreSQL", url, args)
        passed &= ok
        lines += out + [""]
    print(f"\n{args.models} models x {args.windows} daily windows; median of {args.repeat} requests after the first")
    print("\n".join(lines))
    print(f"target: every page's median < {args.target_seconds:g} s (server side, TestClient; CPU of this process)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
