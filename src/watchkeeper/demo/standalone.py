"""`make airflow`: the demo models and a month of history in a local `airflow standalone`, to click through.

Generates the demo data, records every day of October 2026 (monitor checks, and performance where
labels exist) with the same core functions the DAGs call, then starts `airflow standalone` (scheduler,
DAG processor, api-server, triggerer) on the embedded SQLite home. Login is disabled for this local
use (`SIMPLE_AUTH_MANAGER_ALL_ADMINS`); the "Model health" entry is in the navigation.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from watchkeeper import settings
from watchkeeper.demo.run import DEMO_MODEL, airflow, airflow_env, demo_data_dir


def seed_history(days: list[date]) -> None:
    """Record monitor and performance results of ``days`` (idempotent: re-running replaces)."""
    from watchkeeper.checks import run_checks
    from watchkeeper.config import find_config
    from watchkeeper.results import Window
    from watchkeeper.scoring import score_window
    from watchkeeper.store import MetricStore

    config = find_config(DEMO_MODEL, settings.config_dir())
    store = MetricStore()
    store.migrate()
    for day in days:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        window = Window(start, start + timedelta(days=1))
        report = run_checks(config, window, store)
        store.record_window(
            DEMO_MODEL,
            window,
            report.results,
            run_id="history",
            source="cli",
            n_rows=report.n_rows,
            summary=report.summary(),
        )
        perf = score_window(config, window, store)
        print(f"  {day}: monitor {report.status}, performance {'scored' if perf.scored else perf.reason}")


def main(argv: list[str] | None = None) -> int:
    """Seed history, then exec `airflow standalone`."""
    from watchkeeper.demo.generate import generate

    parser = argparse.ArgumentParser(prog="python -m watchkeeper.demo.standalone", description=__doc__)
    parser.add_argument("--dags-folder", type=Path, default=Path.cwd() / "dags")
    parser.add_argument("--no-serve", action="store_true", help="seed the history only")
    args = parser.parse_args(argv)
    generate(demo_data_dir())
    os.environ.setdefault(settings.CONFIG_DIR_ENV, str(args.dags_folder.resolve() / "models"))
    print("recording a month of history for demo_fraud ...")
    seed_history([date(2026, 10, d) for d in range(1, 32)])
    env = airflow_env(args.dags_folder.resolve())
    logs = settings.state_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    airflow(["db", "migrate"], env, logs / "airflow_db_migrate.log")
    if args.no_serve:
        return 0
    print(
        "starting `airflow standalone` on http://localhost:8080 -- Model health is in the navigation "
        "(http://localhost:8080/watchkeeper/). Ctrl-C stops it."
    )
    exe = str(Path(sys.executable).parent / "airflow")
    os.execve(exe, [exe, "standalone"], env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
