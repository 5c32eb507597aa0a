"""One demo window through ``airflow dags test monitor__demo_fraud`` beside ``watchkeeper check demo_fraud``.

Both run end to end as subprocesses, the way a user runs them, over the same UTC day of the demo model
(reading included; both record into the same SQLite metric store), in a temporary home: demo data,
an embedded Airflow (SQLite metadata DB, ``dags/`` of this project), set up like ``make demo`` (not timed).
After one warm-up each, every command runs ``--repeat`` times; the table shows the median wall time,
CPU time (user + system of the child and every descendant it waited for, from ``wait4``) and peak RSS
(the largest single process of the tree). Bare references, measured in the same run: an empty Python
start, ``python -c "import airflow.sdk"`` (the fixed cost every Airflow process pays), and ``airflow dags
test`` of a no-op DAG of the monitor's shape (``baseline >> profile >> 4 mapped checks >> report >> health``:
eight task instances that return a small dict), in the same DAG folder -- what Airflow itself costs to run
such a DAG; the monitor's run minus it is the Watchkeeper work, to set beside ``check``.

Target (issue 8): ``dags test`` at most 1.5x ``check`` for the same window.

    python benchmarks/bench_dag_run.py [--day 2026-10-05] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchkit import measure_ok

ROOT = Path(__file__).resolve().parents[1]
MODEL = "demo_fraud"
TARGET = 1.5
NOOP_DAG = "bare_monitor_shape"
NOOP = f'''"""Bare reference: the monitor DAG's shape, every task a no-op."""
from datetime import datetime, timezone
from airflow.sdk import DAG, task
with DAG("{NOOP_DAG}", schedule="@daily", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), catchup=False):
    @task
    def baseline(): return {{"ok": True}}
    @task
    def profile(info): return {{"ok": True}}
    @task
    def check(family): return {{"family": family, "results": []}}
    @task
    def report(outputs): return {{"n": len(list(outputs))}}
    @task
    def health(summary): return {{"status": "ok"}}
    checks = check.expand(family=["quality", "drift", "prediction", "service"])
    profile(baseline()) >> checks
    health(report(checks))
'''


def median(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The median of each figure over ``runs``."""
    return {key: statistics.median(r[key] for r in runs) for key in ("wall", "cpu", "rss_mb")}


def demo_env(home: Path) -> dict[str, str]:
    """The environment ``make demo`` gives Airflow, with ``home`` as the Watchkeeper home (SQLite store)."""
    os.environ["WATCHKEEPER_HOME"] = str(home)
    os.environ.pop("WATCHKEEPER_DATABASE_URL", None)  # the SQLite store of this home, never an inherited one
    from watchkeeper.demo import run  # light: settings only

    dags = home.parent / "dags"  # the project's DAG folder plus the bare reference DAG
    env = run.airflow_env(dags)
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


def prepare(env: dict[str, str]) -> None:
    """Demo data, Airflow metadata DB and serialised DAGs, as ``make demo`` does (run in a child process:
    this one stays small, as a forked child starts with its parent's peak RSS)."""
    from watchkeeper.demo import run
    from watchkeeper.demo.generate import generate

    dags = Path(env["AIRFLOW__CORE__DAGS_FOLDER"])
    shutil.copytree(ROOT / "dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    (dags / f"{NOOP_DAG}.py").write_text(NOOP)
    generate(run.demo_data_dir())
    logs = Path(env["WATCHKEEPER_HOME"]) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for args in (["db", "migrate"], ["dags", "reserialize"]):
        if run.airflow(args, env, logs / f"airflow_{args[-1]}.log") != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed; see {logs}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 when ``dags test`` is within the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 10, 5), help="a clean demo day")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(demo_env(args.prepare))
        return 0
    work = Path(tempfile.mkdtemp(prefix="wk-bench-dag-run-"))
    try:
        env = demo_env(work / "home")
        subprocess.run([sys.executable, __file__, "--prepare", str(work / "home")], env=env, check=True)  # noqa: S603
        bindir = Path(sys.executable).parent
        end = args.day + timedelta(days=1)
        # Airflow 3 runs a DAG after its interval: the run at D+1T00:00 checks [D, D+1) (see demo/run.py)
        window = ["--start", f"{args.day}", "--end", f"{end}"]
        run_after = f"{end}T00:00:00+00:00"
        commands = {
            "python -c pass (bare)": [sys.executable, "-c", "pass"],
            "import airflow.sdk (bare)": [sys.executable, "-c", "import airflow.sdk"],
            "watchkeeper check": [str(bindir / "watchkeeper"), "check", MODEL, *window],
            "dags test, no-op DAG (bare)": [str(bindir / "airflow"), "dags", "test", NOOP_DAG, run_after],
            "airflow dags test": [str(bindir / "airflow"), "dags", "test", f"monitor__{MODEL}", run_after],
        }
        figures: dict[str, dict[str, float]] = {}
        for name, cmd in commands.items():
            measure_ok(cmd, env)  # warm-up: bytecode, OS file cache, baseline built once
            runs = [measure_ok(cmd, env) for _ in range(args.repeat)]
            figures[name] = median(runs)
            f = figures[name]
            print(f"{name:<28} {f['wall']:6.1f} s wall {f['cpu']:6.1f} s CPU {f['rss_mb']:6.0f} MB peak", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    check, dags = figures["watchkeeper check"], figures["airflow dags test"]
    noop = figures["dags test, no-op DAG (bare)"]
    print()
    print(f"window [{args.day}, {end}), median of {args.repeat} after one warm-up each; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall grows with it)")  # fmt: skip
    print(f"dags test / check: wall {dags['wall'] / check['wall']:.2f}x, CPU {dags['cpu'] / check['cpu']:.2f}x, "
          f"peak {dags['rss_mb'] / check['rss_mb']:.2f}x")  # fmt: skip
    own = dags["cpu"] - noop["cpu"]
    print(f"Airflow's own cost (no-op DAG of the same shape): {noop['cpu']:.1f} s CPU; the monitor's run minus it: "
          f"{own:.1f} s CPU, {own / check['cpu']:.2f}x check")  # fmt: skip
    fast = dags["wall"] <= TARGET * check["wall"]
    print(f"dags test wall <= {TARGET}x check : {'PASS' if fast else 'FAIL'}")
    return 0 if fast else 1


if __name__ == "__main__":
    sys.exit(main())
