"""A window scan's memory is bounded by its batch size, not by the window: measured in fresh processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

COLUMNS = [f"x{i}" for i in range(12)]
CHILD = """
import json, resource, sys
from watchkeeper.config import load_config
from watchkeeper.results import Window
from watchkeeper.sources import scan_window
scan = scan_window(load_config(sys.argv[1]), Window.parse("2026-10-05", "2026-10-06"), batch_rows=50_000)
rows = sum(len(batch) for batch in scan.batches())
print(json.dumps({"rows": rows, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_log(folder: Path, rows: int, row_group_size: int = 100_000) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    midnight = np.datetime64("2026-10-05", "us")
    ts = midnight + np.sort(rng.integers(0, 86_400_000_000, rows)).astype("timedelta64[us]")
    table = pa.table(
        {
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "id": np.arange(rows),
            "pred": rng.integers(0, 2, rows),
            **{c: rng.random(rows) for c in COLUMNS},
        }
    )
    pq.write_table(table, folder / "log.parquet", row_group_size=row_group_size)
    config = {
        "name": "m",
        "owner": "o",
        "task": "regression",
        "predictions": {
            "source": {"kind": "parquet", "path": "log.parquet"},
            "timestamp": "ts",
            "id": "id",
            "features": dict.fromkeys(COLUMNS, "numerical"),
            "prediction": "pred",
        },
        "reference": {"source": {"kind": "parquet", "path": "log.parquet"}},
    }
    (folder / "m.yaml").write_text(yaml.safe_dump(config))
    return folder / "m.yaml"


def peak(config: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(config)], check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_peak_memory_does_not_grow_with_the_window(tmp_path: Path) -> None:
    small, large = write_log(tmp_path / "small", 200_000), write_log(tmp_path / "large", 2_000_000)
    a, b = peak(small), peak(large)
    assert (a["rows"], b["rows"]) == (200_000, 2_000_000)
    window_mb = 2_000_000 * (len(COLUMNS) + 3) * 8 / 2**20  # 229 MB if the window were one frame
    assert b["peak_mb"] - a["peak_mb"] < 0.25 * window_mb, (a, b)


ARROW_CHILD = """
import json, sys
import pyarrow as pa
from watchkeeper.config import load_config
from watchkeeper.results import Window
from watchkeeper.sources import scan_window
scan = scan_window(load_config(sys.argv[1]), Window.parse("2026-10-05", "2026-10-06"), batch_rows=20_000)
rows, sampled = 0, 0
for batch in scan.batches():
    rows += len(batch)
    sampled = max(sampled, pa.total_allocated_bytes())
print(json.dumps({"rows": rows, "sampled": sampled, "pool_peak": pa.default_memory_pool().max_memory()}))
"""


def arrow_peak(config: Path) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-c", ARROW_CHILD, str(config)], check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_arrow_memory_during_a_scan_of_many_row_groups_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """Arrow's own allocations (sampled between batches, and the pool's peak) stay at a few batches' worth:
    no pre-buffering of the file and no read-ahead of row groups in the background."""
    small = write_log(tmp_path / "small", 100_000, row_group_size=10_000)
    large = write_log(tmp_path / "large", 1_000_000, row_group_size=10_000)
    a, b = arrow_peak(small), arrow_peak(large)
    assert (a["rows"], b["rows"]) == (100_000, 1_000_000)
    assert b["sampled"] <= 1.5 * a["sampled"], (a, b)
    assert b["pool_peak"] <= 1.5 * a["pool_peak"], (a, b)
    file_mb = 1_000_000 * (len(COLUMNS) + 3) * 8 / 2**20  # 114 MB decoded
    assert b["pool_peak"] < 0.25 * file_mb * 2**20, (a, b)
