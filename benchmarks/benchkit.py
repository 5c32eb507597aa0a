"""What the benchmarks share: seeded feature data, the benchmark model's config, a measured subprocess.

Imported by the scripts of this folder (``python benchmarks/bench_x.py`` puts the folder on ``sys.path``;
``peers/bench_peers.py`` adds it). It runs in Watchkeeper's virtualenv only -- the peers' own virtualenvs
run ``peers/run_*.py``, which do not import it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def category_labels(categories: int) -> np.ndarray:
    """``category_00`` ... ``category_<categories>`` (the last is the one a drifted window adds)."""
    return np.array([f"category_{j:02d}" for j in range(categories + 1)], dtype=object)


def feature_columns(
    rng: np.random.Generator, rows: int, numerical: int, categorical: int, categories: int = 20, *, drift: bool = False
) -> dict[str, np.ndarray]:
    """Seeded features: ``num_NN`` normal columns, ``cat_NN`` Zipf-like category labels (object arrays).

    With ``drift``, every tenth numerical column shifts by half its spread, ``cat_00``'s shares reverse and
    ``cat_01`` gets 2 % of a category the reference never saw.
    """
    columns: dict[str, np.ndarray] = {}
    for i in range(numerical):
        loc, scale = float(i % 7), 1.0 + (i % 5)
        if drift and i % 10 == 0:
            loc += 0.5 * scale
        columns[f"num_{i:02d}"] = rng.normal(loc, scale, size=rows)
    weights = 1.0 / np.arange(1, categories + 1)
    labels = category_labels(categories)
    for i in range(categorical):
        shares = weights[::-1].copy() if drift and i == 0 else weights
        codes = rng.choice(categories, size=rows, p=shares / shares.sum())
        if drift and i == 1:
            codes[rng.random(rows) < 0.02] = categories
        columns[f"cat_{i:02d}"] = labels[codes]
    return columns


def model_config(
    log: str, reference: str, features: dict[str, str], *, id_column: str = "pid", **predictions: Any
) -> dict[str, Any]:
    """The benchmark model ``bench`` (binary, scores in ``score``, predictions in ``pred``) as a config mapping;
    ``predictions`` adds columns of the prediction log (``latency="latency"``...). Write it as JSON: JSON is YAML."""
    return {
        "name": "bench",
        "owner": "bench",
        "task": "binary_classification",
        "predictions": {
            "source": {"kind": "parquet", "path": log},
            "timestamp": "ts",
            "id": id_column,
            "features": features,
            "prediction": "pred",
            "score": "score",
            **predictions,
        },
        "reference": {"source": {"kind": "parquet", "path": reference}},
    }


# Runs the command as its own child and reports that child's figures. A forked child starts with its parent's
# peak RSS (Linux copies the high-water mark; exec keeps it in ru_maxrss), so a benchmark that generated a
# large frame would floor every figure it measures at its own peak. This launcher is small: what it
# reports is the command's own.
_LAUNCHER = """
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
report = {"wall": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
          "rss_mb": usage.ru_maxrss / 1024, "rc": os.waitstatus_to_exitcode(status)}
with open(sys.argv[1], "w") as f:
    json.dump(report, f)
"""


def measure(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` to the end: ``wall`` and ``cpu`` seconds (user + system, with every descendant it waited
    for), ``rss_mb`` (the peak of its largest process, from ``wait4``), ``rc``, ``out`` and ``err``.

    A small launcher process runs the command (see ``_LAUNCHER``). Output goes to files, not pipes: a child
    that prints more than a pipe holds would block before ``wait4`` returns.
    """
    with (
        tempfile.TemporaryFile("w+") as out_file,
        tempfile.TemporaryFile("w+") as err_file,
        tempfile.TemporaryDirectory(prefix="wk-measure-") as tmp,
    ):
        report = os.path.join(tmp, "report.json")
        launcher = [sys.executable, "-c", _LAUNCHER, report, *cmd]
        subprocess.run(launcher, stdout=out_file, stderr=err_file, env=env, text=True, check=False)  # noqa: S603
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
        with open(report, encoding="utf-8") as f:
            result: dict[str, Any] = json.load(f)
    return {**result, "out": out, "err": err}


def measure_ok(cmd: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """:func:`measure`, raising :class:`RuntimeError` with the output's tail when the exit code is not in ``ok``."""
    result = measure(cmd, env)
    if result["rc"] not in ok:
        raise RuntimeError(f"{' '.join(cmd)} exited {result['rc']}:\n{result['out'][-2000:]}\n{result['err'][-3000:]}")
    return result


def stat_cpu(stat: str) -> float:
    """User + system seconds of a ``/proc/<pid>/stat`` text, with what the process reaped of its children
    (utime, stime, cutime, cstime: fields 14-17, counted after the command name's closing parenthesis)."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """:func:`stat_cpu` of a live process (0 when it is gone)."""
    try:
        return stat_cpu(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return 0.0
