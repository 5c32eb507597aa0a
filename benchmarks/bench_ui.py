"""Web UI latency on a large metric store: N models x W daily windows x ~21 metrics (default 200 x 365).

Populates a fresh SQLite store with bulk inserts (runs, metrics with drift/quality/prediction/service
and performance rows, a baseline, alert states), then times the server side of the overview, one model
page, the model list API and a run report through FastAPI's TestClient. Prints a table with the
timings and PASS/FAIL against the target (default: every page under 1 s).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
    return total


def time_get(client: Any, path: str, repeat: int) -> tuple[float, float, int]:
    """(first request, median of the next ``repeat``) in seconds, and the status code."""
    t0 = time.perf_counter()
    response = client.get(path)
    first = time.perf_counter() - t0
    if response.status_code != 200:
        return first, first, response.status_code
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        client.get(path)
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times) if times else first, response.status_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--windows", type=int, default=365, help="daily windows per model")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions after the first request")
    parser.add_argument("--target-seconds", type=float, default=1.0)
    parser.add_argument("--db", help="SQLite file to (re)use; populated when missing (default: a temporary one)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="wk-bench-ui-")
    os.environ.setdefault("WATCHKEEPER_HOME", tmp)
    os.environ["WATCHKEEPER_CONFIG_DIR"] = str(Path(tmp) / "no-configs")
    db = Path(args.db) if args.db else Path(tmp) / "bench.db"
    url = f"sqlite:///{db}"
    if not db.exists():
        t0 = time.perf_counter()
        rows = populate(url, args.models, args.windows)
        print(
            f"populated {db}: {args.models} models x {args.windows} windows, {rows:,} metric rows "
            f"in {time.perf_counter() - t0:.1f} s ({db.stat().st_size / 1e6:.0f} MB)"
        )

    from fastapi.testclient import TestClient

    from watchkeeper.store import MetricStore
    from watchkeeper.ui.app import create_app

    store = MetricStore(url)
    client = TestClient(create_app(store=store))
    model = "model_000"
    last = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=args.windows - 1)
    report = f"/models/{model}/report?start={last.date()}T00:00:00%2B00:00&end={(last + timedelta(days=1)).date()}"
    paths = [
        ("overview", "/"),
        ("model page", f"/models/{model}"),
        ("API model list", "/api/models"),
        ("run report", report),
        ("API metrics (1 series)", f"/api/models/{model}/metrics?check=performance&metric=recall"),
        ("API latest window", f"/api/models/{model}/windows/latest"),
        ("Prometheus /api/metrics", "/api/metrics"),
    ]
    t0 = time.perf_counter()
    client.get(f"/api/models/{model}/retraining")  # imports, store migration check, app startup
    import watchkeeper.drift.registry  # noqa: F401  (the overview's drift key metric needs the registry)

    print(f"cold start (imports, migration check): {time.perf_counter() - t0:.2f} s, not counted below")
    print(f"\n{'page':<24} {'first (s)':>10} {'median (s)':>11} {'status':>7}  result")
    failed = False
    for name, path in paths:
        first, median, code = time_get(client, path, args.repeat)
        ok = code == 200 and max(first, median) < args.target_seconds
        failed |= not ok
        print(f"{name:<24} {first:>10.3f} {median:>11.3f} {code:>7}  {'PASS' if ok else 'FAIL'}")
    print(f"\ntarget: every page < {args.target_seconds:g} s (server side, TestClient, SQLite)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
