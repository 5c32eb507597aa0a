"""DAG parsing at scale: N model configs through Airflow's DagBag and DAG serialisation, the way the DAG
processor parses them.

Airflow's DAG processor forks one process per DAG file (Airflow's own modules already imported), imports
the file under ``[core] dagbag_import_timeout`` (30 s by default), then serialises every DAG the file
defines, all under ``[dag_processor] dag_file_processor_timeout`` (50 s). This benchmark does the same:
for each file of the DAG folder it forks a child from a parent that has imported Airflow, and times
(CPU and wall) the import (``DagBag(file)``) and the serialisation (``DagSerialization.to_dict``) of
every DAG. Watchkeeper spreads the models over 16 shard files (``dags/watchkeeper_shards/``), so the
figure that meets the timeout is the slowest file; the total is the CPU one parse loop costs.

Bare reference, measured in the same run: one hand-written DAG file that defines the same number of
DAGs with the same number of tasks (EmptyOperator, cron timetable) -- what Airflow itself costs to
parse and serialise that many DAGs in one file. ``--single`` also times the old layout (one DAG file
building every model). Each size runs twice: a cold YAML cache, then warm (the steady state: the DAG
processor re-parses every file every 30 s).

    python benchmarks/bench_parse.py --configs 200 2000 5000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 30.0  # Airflow's default [core] dagbag_import_timeout

BARE = '''"""Bare reference: N DAGs like Watchkeeper's (3 + 3 tasks), hand-written, one file."""
from datetime import datetime, timezone
from airflow.sdk import DAG, CronDataIntervalTimetable
from airflow.providers.standard.operators.empty import EmptyOperator
N = {n}
WITH_PERFORMANCE = {perf}
timetable = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")
for i in range(N):
    for kind in ("monitor", "performance") if WITH_PERFORMANCE else ("monitor",):
        with DAG(f"{{kind}}__bare_{{i:05d}}", schedule=timetable, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
                 catchup=False, tags=["bare"]) as dag:
            a, b, c = (EmptyOperator(task_id=t) for t in ("a", "b", "c"))
            a >> b >> c
        globals()[dag.dag_id] = dag
'''

SINGLE = '''"""Old layout: one DAG file that builds every model (for comparison)."""
from pathlib import Path
from watchkeeper.airflow.dag_builder import register
register(globals(), Path(__file__).resolve().parent / "models")
'''


@dataclass
class FileParse:
    """What parsing one DAG file cost, in seconds."""

    file: str
    dags: int
    import_cpu: float
    import_wall: float
    serialise_cpu: float
    serialise_wall: float
    errors: int

    @property
    def cpu(self) -> float:
        return self.import_cpu + self.serialise_cpu

    @property
    def wall(self) -> float:
        return self.import_wall + self.serialise_wall


def _child(path: str, queue: Any) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    c0, w0 = time.process_time(), time.perf_counter()
    bag = DagBag(dag_folder=path)
    c1, w1 = time.process_time(), time.perf_counter()
    for dag in bag.dags.values():
        DagSerialization.to_dict(dag)
    c2, w2 = time.process_time(), time.perf_counter()
    queue.put(FileParse(Path(path).name, len(bag.dags), c1 - c0, w1 - w0, c2 - c1, w2 - w1, len(bag.import_errors)))


def parse_file(path: Path) -> FileParse:
    """Parse one DAG file in a forked child, as the DAG processor does."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(str(path), queue))
    proc.start()
    result: FileParse = queue.get(timeout=600)
    proc.join()
    return result


def make_folder(base: Path, configs: int, with_performance: bool) -> Path:
    import yaml

    data = yaml.safe_load((ROOT / "dags" / "models" / "demo_fraud.yaml").read_text())
    if not with_performance:
        data.pop("performance", None)
        data["retraining"] = {}
    text = (ROOT / "dags" / "models" / "demo_fraud.yaml").read_text()
    if not with_performance:
        text = yaml.safe_dump(data, sort_keys=False)
    folder = base / "dags"
    (folder / "models").mkdir(parents=True)
    shutil.copytree(ROOT / "dags" / "watchkeeper_shards", folder / "watchkeeper_shards")
    for i in range(configs):
        name = f"model_{i:05d}"
        (folder / "models" / f"{name}.yaml").write_text(text.replace("name: demo_fraud", f"name: {name}"))
    return folder


def summarise(label: str, parses: list[FileParse]) -> dict[str, Any]:
    slowest = max(parses, key=lambda p: p.wall)
    return {
        "label": label,
        "files": len(parses),
        "dags": sum(p.dags for p in parses),
        "errors": sum(p.errors for p in parses),
        "max_import_wall": max(p.import_wall for p in parses),
        "max_file_cpu": max(p.cpu for p in parses),
        "max_file_wall": slowest.wall,
        "total_cpu": sum(p.cpu for p in parses),
        "total_wall": sum(p.wall for p in parses),
    }


def run_size(configs: int, with_performance: bool, single: bool) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="wk-bench-parse-") as tmp:
        base = Path(tmp)
        os.environ["WATCHKEEPER_HOME"] = str(base / "home")
        folder = make_folder(base, configs, with_performance)
        shards = sorted((folder / "watchkeeper_shards").glob("shard_*.py"))
        for label in ("cold cache", "warm cache"):
            rows.append(summarise(f"{configs} configs, 16 shard files, {label}", [parse_file(f) for f in shards]))
        if single:
            (folder / "single.py").write_text(SINGLE)
            rows.append(summarise(f"{configs} configs, one DAG file (old layout)", [parse_file(folder / "single.py")]))
            (folder / "single.py").unlink()
        bare = base / "bare" / "bare_dags.py"
        bare.parent.mkdir()
        bare.write_text(BARE.format(n=configs, perf=with_performance))
        rows.append(summarise("bare Airflow, same DAG count, one file", [parse_file(bare)]))
        rows.append(worker_path(folder))
    return rows


def _worker_child(folder: str, queue: Any) -> None:
    from watchkeeper.airflow.dag_builder import build_dags
    from watchkeeper.config import shard_of

    shard = (shard_of("model_00042", 16), 16)
    c0, w0 = time.process_time(), time.perf_counter()
    dags = build_dags(Path(folder) / "models", only_dag_id="monitor__model_00042", shard=shard)
    assert list(dags) == ["monitor__model_00042"], list(dags)
    queue.put((time.process_time() - c0, time.perf_counter() - w0))


def worker_path(folder: Path) -> dict[str, Any]:
    """The single-DAG path a worker takes when Airflow's parsing context names the DAG it runs."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_worker_child, args=(str(folder), queue))
    proc.start()
    cpu, wall = queue.get(timeout=600)
    proc.join()
    return {"label": "worker: one DAG (parsing context, incl. imports)", "worker_cpu": cpu, "worker_wall": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", type=int, nargs="+", default=[200])
    parser.add_argument("--monitor-only", action="store_true", help="drop the performance section (1 DAG per model)")
    parser.add_argument("--single", action="store_true", help="also time the old one-file layout")
    parser.add_argument(
        "--target-share",
        type=float,
        default=0.5,
        help="PASS when the slowest file's CPU is at most this share of the 30 s import timeout",
    )
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="wk-bench-airflow-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT", "600")  # measure, don't cut off
    # What the DAG processor has imported before it forks a file's process.
    import airflow.sdk  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization  # noqa: F401

    DagBag(dag_folder=tempfile.mkdtemp())
    ok = True
    print(f"{'what':<58}{'DAGs':>7}{'slowest file':>14}{'  (CPU)':>9}{'all files CPU':>15}{'wall':>9}")
    for configs in args.configs:
        for row in run_size(configs, not args.monitor_only, args.single):
            if "worker_cpu" in row:
                print(f"{row['label']:<58}{1:>7}{row['worker_wall']:>13.3f}s{row['worker_cpu']:>8.3f}s")
                continue
            print(
                f"{row['label']:<58}{row['dags']:>7}{row['max_file_wall']:>13.2f}s{row['max_file_cpu']:>8.2f}s"
                f"{row['total_cpu']:>14.2f}s{row['total_wall']:>8.2f}s"
                + (f"  IMPORT ERRORS: {row['errors']}" if row["errors"] else "")
            )
            if "warm cache" in row["label"] or "cold cache" in row["label"]:
                fits = row["max_file_cpu"] <= args.target_share * TIMEOUT and row["max_file_wall"] < TIMEOUT
                ok &= row["errors"] == 0 and fits
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall grows with it)")
    print(
        f"slowest file (import + serialisation): CPU <= {args.target_share:.0%} of the {TIMEOUT:.0f} s import "
        f"timeout and wall < {TIMEOUT:.0f} s at every size -> {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
