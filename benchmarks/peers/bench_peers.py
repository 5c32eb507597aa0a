"""Watchkeeper beside NannyML and Evidently on the same window, each end to end in its own process.

Writes a seeded reference and window (default 1M rows x 60 features: 50 numerical, 10 categorical) as
Parquet, then runs, each as a subprocess whose CPU time and peak memory come from ``wait4``:

- ``bare``: pyarrow reads the window's feature columns; numpy histograms on reference quantile edges and
  pyarrow value counts (what a hand-written job does; the floor);
- ``watchkeeper baseline`` (profile the reference once, as a deployment does) and
  ``watchkeeper check --dry-run`` (a real run of one window: reading, every family, results);
- NannyML 0.13 ``UnivariateDriftCalculator`` (fit on the reference, then calculate) and Evidently 0.7
  ``DataDriftPreset``, each in its own virtualenv built by ``benchmarks/peers/build.sh`` (they pin other
  pandas versions). A peer whose virtualenv is missing is reported as such.

    .venv/bin/python benchmarks/peers/bench_peers.py --rows 1000000         # full size (slow: Evidently)
    .venv/bin/python benchmarks/peers/bench_peers.py --rows 50000 --skip evidently
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE.parent))  # benchmarks/: the shared benchkit module
from benchkit import feature_columns, measure, model_config  # noqa: E402

BARE = """
import sys, numpy as np, pyarrow.parquet as pq, pyarrow.compute as pc
ref = pq.read_table(sys.argv[1])
win = pq.read_table(sys.argv[2])
for name in win.column_names:
    if name.startswith("num_"):
        edges = np.quantile(ref[name].to_numpy(), np.linspace(0, 1, 11))
        np.histogram(win[name].to_numpy(), bins=edges)
    elif name.startswith("cat_"):
        pc.value_counts(win[name])
"""


def make_frame(rows: int, numerical: int, categorical: int, seed: int, *, drift: bool) -> pd.DataFrame:
    """Seeded features (:func:`benchkit.feature_columns`) plus the columns a prediction log has."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = feature_columns(rng, rows, numerical, categorical, drift=drift)
    start = pd.Timestamp("2026-10-05", tz="UTC")
    cols["ts"] = start + pd.to_timedelta(np.sort(rng.random(rows)) * 86_400, unit="s")
    cols["id"] = np.arange(rows, dtype="int64") + (0 if drift else 10**9)
    score = rng.random(rows)
    cols["score"] = score
    cols["pred"] = (score > 0.5).astype("int64")
    return pd.DataFrame(cols)


def write_config(models: Path, window: Path, reference: Path, features: list[str]) -> None:
    """The benchmark model's config (daily, every family on, no performance section) in ``models/``."""
    kinds = {f: "numerical" if f.startswith("num_") else "categorical" for f in features}
    config = model_config(str(window), str(reference), kinds, id_column="id")
    config.update({"schedule": "@daily", "start_date": "2026-10-01", "service": {}})
    (models / "bench.yaml").write_text(json.dumps(config, indent=1))  # JSON is YAML


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the reference and of the window")
    parser.add_argument("--numerical", type=int, default=50)
    parser.add_argument("--categorical", type=int, default=10)
    parser.add_argument("--peers-dir", default=str(ROOT / ".bench" / "peers"))
    parser.add_argument("--skip", action="append", default=[], help="skip a peer: nannyml, evidently")
    args = parser.parse_args()
    peers = Path(args.peers_dir)
    with tempfile.TemporaryDirectory(prefix="wk-peers-") as tmp_name:
        tmp = Path(tmp_name)
        reference, window = tmp / "reference.parquet", tmp / "window.parquet"
        make_frame(args.rows, args.numerical, args.categorical, 1, drift=False).to_parquet(reference)
        make_frame(args.rows, args.numerical, args.categorical, 2, drift=True).to_parquet(window)
        features = [f"num_{i:02d}" for i in range(args.numerical)] + [f"cat_{i:02d}" for i in range(args.categorical)]
        models = tmp / "models"
        models.mkdir()
        write_config(models, window, reference, features)
        env = {**os.environ, "WATCHKEEPER_HOME": str(tmp / "home"), "WATCHKEEPER_CONFIG_DIR": str(models)}
        wk = str(BIN / "watchkeeper")
        rows: list[tuple[str, dict[str, Any]]] = []
        rows.append(("bare pyarrow+numpy pass", measure([sys.executable, "-c", BARE, str(reference), str(window)])))
        rows.append(("watchkeeper baseline", measure([wk, "baseline", "bench", "--config-dir", str(models)], env)))
        check = [wk, "check", "bench", "--config-dir", str(models), "--dry-run", "--json"]
        check += ["--start", "2026-10-05T00:00:00", "--end", "2026-10-06T00:00:00"]
        rows.append(("watchkeeper check (one window)", measure(check, env)))
        for name, script in (("nannyml", "run_nannyml.py"), ("evidently", "run_evidently.py")):
            python = peers / name / "bin" / "python"
            if name in args.skip:
                continue
            if not python.exists():
                hint = "run benchmarks/peers/build.sh"
                print(f"{name}: no virtualenv at {python.parent.parent} -- {hint}", file=sys.stderr)
                continue
            rows.append((name, measure([str(python), str(HERE / script), str(reference), str(window)])))
    print(
        f"peers on {args.rows:,} rows x {len(features)} features ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores)"
    )
    print(f"{'':34s} {'wall s':>8s} {'CPU s':>8s} {'peak MB':>9s}  notes")
    for label, r in rows:
        note = "" if r["rc"] == 0 else f"FAILED rc={r['rc']}: {r['err'].strip().splitlines()[-1:]}"
        if r["rc"] == 0 and r["out"].strip().startswith("{") and label in {"nannyml", "evidently"}:
            note = r["out"].strip().splitlines()[-1]
        if label.startswith("watchkeeper check") and r["rc"] == 0:
            results = [json.loads(line) for line in r["out"].splitlines() if line.startswith("{")]
            drift = [x for x in results if x["check"] == "drift" and x["status"] in {"warning", "critical"}]
            note = f"{len(results)} results, {len(drift)} drifted features"
        print(f"{label:34s} {r['wall']:8.1f} {r['cpu']:8.1f} {r['rss_mb']:9.0f}  {note}")
    failed = [label for label, r in rows if r["rc"] not in (0, 3)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
