"""Fleet throughput on the distributed deployment: N small models, one window each, through the real
scheduler and two Celery workers, with the CPU each component spent.

Starts ``deploy/celery/launch.py``'s deployment (PostgreSQL metadata DB and metric store, a private Redis
broker, API server, scheduler, DAG processor, triggerer, two Celery workers) on the generated fleet of
``tests/integration/celery_fleet.py`` (every model one due window), waits until every DAG is parsed,
unpauses them and times until every run has finished. CPU per component is read from ``/proc`` (user +
system of each live process of the component's tree plus what they reaped: the task processes a worker
forked are counted in it). Bare reference, measured in the same run: the same windows checked,
recorded, reported and alerted (log sink) by Watchkeeper's core in one process, one after the other, on a
SQLite store (what the checks themselves cost without Airflow).

    python benchmarks/bench_celery.py [--models 60] [--concurrency 4] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

sys.path.insert(0, str(ROOT / "benchmarks"))

from benchkit import measure_ok, process_cpu  # noqa: E402
from celery_fleet import generate, load_launcher, mirror_dag_files  # noqa: E402


def tree_cpu(launch: Any, pid: int | None) -> float:
    if not pid:
        return 0.0
    return sum(process_cpu(p) for p in (pid, *launch._descendants(pid)))


#: The bare reference: every model's window checked and recorded in one process (no Airflow).
BARE = """
import sys
from pathlib import Path
from watchkeeper.checks import run_checks
from watchkeeper.config import load_config
from watchkeeper.publish import publish_window
from watchkeeper.results import Window
from watchkeeper.store import MetricStore
from celery_fleet import window_bounds
store = MetricStore(sys.argv[2])
store.migrate()
window = Window(*window_bounds())
for path in sorted(Path(sys.argv[1]).glob("*.yaml")):
    config = load_config(path)
    report = run_checks(config, window, store)
    publish_window(config, window, report.results, store, run_id="bare", dag_id="bare", source="bench",
                   n_rows=report.n_rows).raise_for_failure()
"""


def bare_reference(fleet: Any, work: Path) -> dict[str, Any]:
    """CPU and wall of :data:`BARE` over the fleet's configs (results recorded, report written, alerts to the
    log sink: what the monitor's tasks do for a window)."""
    env = {**os.environ, "WATCHKEEPER_HOME": str(work / "bare"), "PYTHONPATH": str(ROOT / "tests" / "integration")}
    env["WATCHKEEPER_ALERT_SINK"] = "log"
    env.pop("WATCHKEEPER_DATABASE_URL", None)
    url = f"sqlite:///{work / 'bare.db'}"
    return measure_ok([sys.executable, "-c", BARE, str(fleet.config_dir), url], env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=8, help="task slots per worker")
    parser.add_argument(
        "--families-every",
        type=int,
        default=1,
        help="every N-th model in the 'families' task layout (8 tasks per run), the others 'compact' (2); "
        "1: all families, 0: all compact",
    )
    parser.add_argument(
        "--pg", default=os.environ.get("WATCHKEEPER_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and databases")
    args = parser.parse_args(argv)
    launch = load_launcher()
    import psycopg

    work = Path(tempfile.mkdtemp(prefix="wk-bench-celery-"))
    fleet = generate(work, args.models, families_every=args.families_every)
    mirror_dag_files(ROOT / "dags", fleet.dags_folder)
    tag = uuid.uuid4().hex[:8]
    settings = launch.Settings(
        state_dir=work / "state",
        dags_folder=fleet.dags_folder,
        port=launch.free_port(),
        pg_url=args.pg,
        airflow_db=f"wk_bench_{tag}_airflow",
        store_db=f"wk_bench_{tag}_store",
        redis_port=launch.free_port(),
        concurrency=args.concurrency,
        reset_databases=True,
        use_template=True,
    )
    deployment = launch.Deployment(settings)
    meta_url = settings.db_url(settings.airflow_db, "psycopg").replace("+psycopg", "")

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(meta_url, autocommit=True) as conn:
            return list(conn.execute(sql).fetchall())

    n = len(fleet.names)
    bare = bare_reference(fleet, work)
    try:
        deployment.start()
        t0 = time.monotonic()
        while len(rows("SELECT dag_id FROM dag WHERE dag_id LIKE 'monitor__fleet%' AND NOT is_stale")) < n:
            if time.monotonic() - t0 > 600:
                raise SystemExit("the DAG processor did not parse every model within 600 s")
            time.sleep(1)
        parse_s = time.monotonic() - t0
        names = list(deployment.components)
        before = {name: tree_cpu(launch, deployment.components[name].pid) for name in names}
        with psycopg.connect(meta_url, autocommit=True) as conn:
            conn.execute("UPDATE dag SET is_paused = false WHERE dag_id LIKE 'monitor__fleet%'")
        t1 = time.monotonic()
        while True:
            done = rows(
                "SELECT state, count(*) FROM dag_run WHERE dag_id LIKE 'monitor__fleet%' "
                "AND state IN ('success', 'failed') GROUP BY state"
            )
            finished = sum(c for _, c in done)
            if finished >= n:
                break
            if time.monotonic() - t1 > 3600:
                raise SystemExit(f"only {finished} of {n} runs finished within an hour")
            time.sleep(1)
        runs_s = time.monotonic() - t1
        after = {name: tree_cpu(launch, deployment.components[name].pid) for name in names}
        tis = rows("SELECT count(*) FROM task_instance WHERE dag_id LIKE 'monitor__fleet%'")[0][0]
        failed = dict(done).get("failed", 0)
    finally:
        deployment.stop()
        if not args.keep:
            deployment.drop_databases()
    spent = {name: after[name] - before[name] for name in names}
    total = sum(spent.values())
    print(f"{n} models (every {args.families_every or 'no'} in the families layout, concurrency {args.concurrency})")
    print(f"{n} models, {tis} task instances, {failed} failed runs; parsed in {parse_s:.0f} s")
    print(f"runs: {runs_s:.0f} s wall, {n / runs_s * 60:.1f} runs/min, {tis / runs_s:.2f} task instances/s")
    print(f"deployment CPU during the runs: {total:.0f} s = {total / n:.2f} s per run, {total / tis:.2f} s per task")
    for name in sorted(spent, key=spent.get, reverse=True):  # type: ignore[arg-type]
        print(f"  {name:<14} {spent[name]:7.1f} s  {spent[name] / n:5.2f} s per run")
    print(
        f"bare reference, the same {n} windows checked, recorded and alerted in one process: "
        f"{bare['wall']:.1f} s wall, {bare['cpu']:.1f} s CPU = {bare['cpu'] / n:.2f} s per window (imports included)"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
