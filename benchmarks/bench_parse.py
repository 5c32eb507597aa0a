"""DAG parsing cost: N model configs (default 500) through Airflow's DagBag, the way the DAG processor parses.

Prints the time to parse the DAG file with N configs (after Airflow itself is imported), the time per
config, and PASS/FAIL against the target (500 configs in under 2 s). Also times the single-DAG path a
worker takes when Airflow's parsing context names one DAG.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", type=int, default=500)
    parser.add_argument("--target-seconds", type=float, default=2.0)
    parser.add_argument(
        "--with-performance",
        action="store_true",
        help="keep the demo config's performance section (one more DAG per model)",
    )
    args = parser.parse_args()
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="wk-bench-airflow-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    import yaml

    data = yaml.safe_load((ROOT / "dags" / "models" / "demo_fraud.yaml").read_text())
    if not args.with_performance:
        data.pop("performance", None)
    template = yaml.safe_dump(data, sort_keys=False)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dags"
        (folder / "models").mkdir(parents=True)
        shutil.copytree(ROOT / "dags" / "watchkeeper_shards", folder / "watchkeeper_shards")
        for i in range(args.configs):
            name = f"model_{i:04d}"
            (folder / "models" / f"{name}.yaml").write_text(template.replace("name: demo_fraud", f"name: {name}"))
        from airflow.dag_processing.dagbag import DagBag

        empty = Path(tmp) / "empty"
        empty.mkdir()
        DagBag(dag_folder=str(empty))  # import Airflow's own machinery first: not our cost
        t0 = time.perf_counter()
        bag = DagBag(dag_folder=str(folder))
        full = time.perf_counter() - t0
        assert not bag.import_errors, bag.import_errors
        monitors = [d for d in bag.dag_ids if d.startswith("monitor__")]
        assert len(monitors) == args.configs, len(monitors)

        from watchkeeper.airflow.dag_builder import build_dags

        t0 = time.perf_counter()
        one = build_dags(folder / "models", only_dag_id="monitor__model_0042")
        single = time.perf_counter() - t0
        assert list(one) == ["monitor__model_0042"]
    ok = full < args.target_seconds
    print(f"{'what':<44}{'seconds':>10}")
    print(f"{f'DagBag parse, {args.configs} configs ({len(bag.dag_ids)} DAGs)':<44}{full:>10.3f}")
    print(f"{'per config':<44}{full / args.configs * 1000:>9.2f}ms")
    print(f"{'one DAG (worker parsing context)':<44}{single:>10.3f}")
    print(f"target: {args.configs} configs < {args.target_seconds:.1f} s -> {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
