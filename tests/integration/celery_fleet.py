"""A generated fleet of small models for the distributed-deployment tests and benchmark.

Every model has its own tiny Parquet prediction log with rows in exactly one window of a yearly
schedule (``0 0 1 1 *``, starting on 1 January of last year, ``catchup: true``): once unpaused, each
model's monitor DAG has exactly one run to do. Its p95 latency sits between the warning and the critical
level, so every window has warning findings and exactly one alert message, and nothing is critical (every
run, including its final ``health`` task, succeeds). A model's monitor DAG has the ``families`` task layout
(8 task instances per run) when its number is a multiple of ``families_every``, else the ``compact`` one (2).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = "#ml-alerts"
SCHEDULE = "0 0 1 1 *"
REFERENCE_ROWS = 400
WINDOW_ROWS = 120


def window_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The one complete yearly window: [1 Jan last year, 1 Jan this year)."""
    year = (now or datetime.now(UTC)).year
    return datetime(year - 1, 1, 1, tzinfo=UTC), datetime(year, 1, 1, tzinfo=UTC)


def _spread(rng: np.random.Generator, ppf: Callable[[np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """``n`` values at evenly spaced quantiles of a distribution, in random order."""
    return rng.permutation(ppf((np.arange(n) + 0.5) / n))


def _rows(n: int, start: datetime, end: datetime, seed: int, latency_ms: float) -> pd.DataFrame:
    """A window (or the reference) with the same distributions every time: no model drifts by chance, so no
    window is critical (a critical window fails its run's ``health`` task by design) -- with random draws,
    one window in 60 had a critical chi-square on ``country``."""
    from scipy import stats

    rng = np.random.default_rng(seed)
    span = (end - start).total_seconds()
    # spread over the window, the newest row a few minutes before its end (fresh data)
    offsets = np.linspace(0, span - 600, n)
    score = _spread(rng, lambda q: stats.beta.ppf(q, 2, 8), n)
    shares = {"FR": 0.5, "DE": 0.3, "US": 0.2}
    counts = [int(n * p) for p in shares.values()]
    counts[0] += n - sum(counts)
    return pd.DataFrame(
        {
            "ts": pd.Timestamp(start) + pd.to_timedelta(offsets, unit="s"),
            "pid": [f"{seed}-{i}" for i in range(n)],
            "amount": _spread(rng, lambda q: stats.lognorm.ppf(q, 0.4, scale=np.exp(3.0)), n),
            "country": rng.permutation(np.repeat(list(shares), counts)),
            "score": score,
            "pred": (score >= 0.5).astype("int64"),
            "latency": np.full(n, latency_ms) + rng.uniform(0, 5, n),
        }
    )


@dataclass
class Fleet:
    """Where the fleet lives and what one model's window must record."""

    root: Path
    names: list[str]
    start: datetime
    end: datetime

    @property
    def dags_folder(self) -> Path:
        return self.root / "dags"

    @property
    def config_dir(self) -> Path:
        return self.dags_folder / "models"

    def config_path(self, name: str) -> Path:
        return self.config_dir / f"{name}.yaml"


def model_config(name: str, data: Path, reference: Path, start: datetime, layout: str) -> dict[str, object]:
    return {
        "name": name,
        "owner": "fleet-team",
        "layout": layout,
        "schedule": SCHEDULE,
        "start_date": start.date().isoformat(),
        "catchup": True,
        "task": "binary_classification",
        "predictions": {
            "source": {"kind": "parquet", "path": str(data / name / "*.parquet")},
            "timestamp": "ts",
            "id": "pid",
            "features": {"amount": "numerical", "country": "categorical"},
            "prediction": "pred",
            "score": "score",
            "latency": "latency",
        },
        "reference": {"source": {"kind": "parquet", "path": str(reference)}},
        "service": {"latency_p95_ms": {"warning": 100, "critical": 100000}},
        "alerts": {"channel": CHANNEL},
    }


def generate(
    root: Path, count: int, *, prefix: str = "fleet", write_configs: bool = True, families_every: int = 1
) -> Fleet:
    """``count`` models named ``<prefix>_000``... with their data under ``root/data`` and their configs in
    ``root/dags/models``; every ``families_every``-th in the ``families`` layout (0: none), the others ``compact``."""
    start, end = window_bounds()
    data = root / "data"
    (root / "dags" / "models").mkdir(parents=True, exist_ok=True)
    reference = data / "reference.parquet"
    if not reference.exists():
        reference.parent.mkdir(parents=True, exist_ok=True)
        _rows(REFERENCE_ROWS, start.replace(year=start.year - 1), start, seed=10_000, latency_ms=60).to_parquet(
            reference
        )
    names = [f"{prefix}_{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        folder = data / name
        folder.mkdir(parents=True, exist_ok=True)
        _rows(WINDOW_ROWS, start, end, seed=i, latency_ms=150).to_parquet(folder / "window.parquet")
        if write_configs:
            layout = "families" if families_every and i % families_every == 0 else "compact"
            config = model_config(name, data, reference, start, layout)
            (root / "dags" / "models" / f"{name}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Fleet(root, names, start, end)


def expected_keys(fleet: Fleet, name: str) -> set[tuple[str, str, str]]:
    """(check, metric, subject) of every result one window of ``name`` records, computed in-process by the same
    core the DAG's tasks call (against a throw-away SQLite store)."""
    import tempfile

    from watchkeeper.checks import run_checks
    from watchkeeper.config import load_config
    from watchkeeper.results import Window
    from watchkeeper.store import MetricStore

    with tempfile.TemporaryDirectory() as tmp:
        store = MetricStore(f"sqlite:///{tmp}/expected.db")
        store.migrate()
        report = run_checks(load_config(fleet.config_path(name)), Window(fleet.start, fleet.end), store)
        store.close()
    keys = {(r.check, r.metric, r.subject or "") for r in report.results}
    assert len(keys) == len(report.results), "the checks themselves produced duplicate keys"
    return keys


def mirror_dag_files(repo_dags: Path, dags_folder: Path) -> list[Path]:
    """Copy the repo's Watchkeeper DAG files (whatever their layout: one file or shards in a sub-folder) into
    ``dags_folder``, keeping their paths, so they load ``dags_folder/models`` exactly as the repo's load
    ``dags/models``. Example DAGs that are not Watchkeeper loaders are not copied."""
    copied = []
    for path in sorted(repo_dags.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "watchkeeper.airflow.dag_builder" not in text or "register(" not in text:
            continue
        target = dags_folder / path.relative_to(repo_dags)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        copied.append(target)
    assert copied, f"no Watchkeeper DAG file (one calling dag_builder.register) found under {repo_dags}"
    return copied


def load_launcher() -> Any:
    """``deploy/celery/launch.py`` (a script, not a package module), imported as ``wk_launch``."""
    if "wk_launch" in sys.modules:
        return sys.modules["wk_launch"]
    spec = importlib.util.spec_from_file_location("wk_launch", ROOT / "deploy" / "celery" / "launch.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["wk_launch"] = module
    spec.loader.exec_module(module)
    return module
