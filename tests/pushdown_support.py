"""Shared by the SQL pushdown tests (SQLite and PostgreSQL): awkward data, configs, profile comparison."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from watchkeeper.baseline import build_baseline
from watchkeeper.checks import CheckContext, run_family
from watchkeeper.config import LoadedConfig, load_config
from watchkeeper.drift.counts import CategoricalCounts, NumericalCounts
from watchkeeper.profile.scan import build_profile
from watchkeeper.profile.window import WindowProfile
from watchkeeper.results import Window

DAY = Window(datetime(2026, 10, 5, tzinfo=UTC), datetime(2026, 10, 6, tzinfo=UTC))
QUERY = "SELECT * FROM wk_log WHERE ts >= :start AND ts < :end"
FAMILIES = ("quality", "drift", "prediction", "service")


def reference(n: int = 3000, seed: int = 1) -> pd.DataFrame:
    """Reference rows: two numerical features (one integer-valued), a categorical one, score, prediction."""
    rng = np.random.default_rng(seed)
    score = rng.beta(2, 5, n)
    return pd.DataFrame(
        {
            "ts": pd.Timestamp("2026-09-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 60, unit="s"),
            "pid": [f"r{i}" for i in range(n)],
            "amount": rng.lognormal(3.0, 0.6, n),
            "age": rng.integers(18, 80, n).astype("float64"),
            "country": rng.choice(["FR", "DE", "US", "BR"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "score": score,
            "pred": (score >= 0.5).astype("int64"),
            "latency": rng.lognormal(4.0, 0.2, n),
            "status": np.where(rng.random(n) < 0.01, "error", "ok"),
        }
    )


def window_rows(baseline: dict[str, Any], n: int = 4000, seed: int = 2) -> pd.DataFrame:
    """Rows around ``DAY`` with every awkward case the file path has a defined answer for.

    NaN, +/-inf and nulls; values equal to grid points (reference quantiles and bin edges); values below
    and above the reference range; unseen categories and null categories; duplicate and null ids; rows
    exactly at the window's start (in) and end (out), a millisecond either side.
    """
    rng = np.random.default_rng(seed)
    ts = DAY.start - timedelta(hours=2) + pd.to_timedelta(np.sort(rng.random(n)) * 28 * 3600, unit="s").round("ms")
    df = pd.DataFrame(
        {
            "ts": ts,
            "pid": [f"w{i}" for i in range(n)],
            "amount": rng.lognormal(3.2, 0.7, n),
            "age": rng.integers(10, 95, n).astype("float64"),
            "country": rng.choice(["FR", "DE", "US", "BR", "JP", "??"], n),
            "score": rng.beta(2, 4, n),
            "latency": rng.lognormal(4.1, 0.25, n),
            "status": rng.choice(["ok", "ok", "ok", "error", "timeout"], n),
        }
    )
    df["pred"] = (df["score"] >= 0.5).astype("int64")
    grid = np.asarray(baseline["features"]["amount"]["quantiles"], dtype=np.float64)
    on_grid = rng.choice(grid, 300)
    df.loc[rng.choice(n, 300, replace=False), "amount"] = on_grid
    edges = np.asarray(baseline["features"]["amount"]["edges"], dtype=np.float64)
    df.loc[0 : len(edges) - 1, "amount"] = edges
    odd = rng.choice(n, 60, replace=False)
    df.loc[odd[:10], "amount"] = np.nan
    df.loc[odd[10:20], "amount"] = np.inf
    df.loc[odd[20:30], "amount"] = -np.inf
    df.loc[odd[30:35], "amount"] = -1e6
    df.loc[odd[35:40], "amount"] = 1e9
    df.loc[odd[40:50], "age"] = np.nan
    df.loc[odd[50:55], "country"] = None
    df.loc[odd[55:60], "score"] = np.nan
    df.loc[rng.choice(n, 40, replace=False), "pid"] = "dup"
    df.loc[odd[:3], "pid"] = None
    edge = [DAY.start, DAY.start - timedelta(milliseconds=1), DAY.end, DAY.end - timedelta(milliseconds=1)]
    df.loc[n - 4 :, "ts"] = edge
    return df.sort_values("ts", kind="stable").reset_index(drop=True)


def write_config(root: Path, name: str, source: dict[str, Any], *, timezone: str = "UTC", **extra: Any) -> LoadedConfig:
    """A binary classifier over ``source`` (reference: ``reference.parquet`` in ``root``)."""
    data: dict[str, Any] = {
        "name": name,
        "owner": "team",
        "task": "binary_classification",
        "predictions": {
            "source": source,
            "timestamp": "ts",
            "timezone": timezone,
            "id": "pid",
            "features": {"amount": "numerical", "age": "numerical", "country": "categorical"},
            "prediction": "pred",
            "score": "score",
            "latency": "latency",
            "status": "status",
        },
        "reference": {"source": {"kind": "parquet", "path": str(root / "reference.parquet")}},
        "quality": {"freshness_max_lag": "2h"},
        "service": {"latency_p95_ms": {"warning": 200, "critical": 500}},
        **extra,
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


def load_table(url: str, df: pd.DataFrame, table: str = "wk_log") -> None:
    engine = sa.create_engine(url)
    try:
        df.to_sql(table, engine, index=False, if_exists="replace", chunksize=5000)
    finally:
        engine.dispose()


def profiles(
    root: Path, url: str, window_df: pd.DataFrame, ref: pd.DataFrame, **extra: Any
) -> tuple[WindowProfile, WindowProfile, WindowProfile, dict[str, Any], dict[str, LoadedConfig]]:
    """(pushed down, streamed from SQL, from the Parquet file) profiles of ``DAY``, the baseline, the configs."""
    (root / "log").mkdir(exist_ok=True)
    window_df.to_parquet(root / "log" / "day.parquet")
    configs = {
        "pushed": write_config(root, "pushed", {"kind": "sql", "url": url, "query": QUERY}, **extra),
        "streamed": write_config(
            root, "streamed", {"kind": "sql", "url": url, "query": QUERY, "pushdown": False}, **extra
        ),
        "file": write_config(root, "file", {"kind": "parquet", "path": str(root / "log" / "*.parquet")}, **extra),
    }
    baseline = build_baseline(configs["file"], ref)
    built = [build_profile(configs[k], DAY, baseline, batch_rows=700) for k in ("pushed", "streamed", "file")]
    return built[0], built[1], built[2], baseline, configs


def assert_numerical_equal(a: NumericalCounts, b: NumericalCounts, what: str) -> None:
    assert np.array_equal(a.grid, b.grid), what
    assert (a.rows, a.null_count, a.pos_inf, a.neg_inf) == (b.rows, b.null_count, b.pos_inf, b.neg_inf), what
    assert a.counts.tolist() == b.counts.tolist(), what
    assert (a.min, a.max) == (b.min, b.max), what
    np.testing.assert_allclose(a.sums, b.sums, rtol=1e-9, atol=1e-9, err_msg=what)
    assert a.total == pytest.approx(b.total, rel=1e-12) and a.total_sq == pytest.approx(b.total_sq, rel=1e-12), what


def assert_categorical_equal(a: CategoricalCounts | None, b: CategoricalCounts | None, what: str) -> None:
    assert a is not None and b is not None, what
    assert (a.reference, a.rows, a.null_count, a.other_count) == (b.reference, b.rows, b.null_count, b.other_count)
    assert a.counts.tolist() == b.counts.tolist() and a.unseen == b.unseen, what


def assert_profiles_equal(a: WindowProfile, b: WindowProfile) -> None:
    """Counts exactly equal, floating sums to rounding, the same scan outcome."""
    assert a.rows == b.rows and a.newest == b.newest and a.id_summary == b.id_summary
    assert sorted(a.features) == sorted(b.features) and a.mistyped == b.mistyped
    for name, counts in a.features.items():
        other = b.features[name]
        if isinstance(counts, NumericalCounts):
            assert isinstance(other, NumericalCounts)
            assert_numerical_equal(counts, other, name)
        else:
            assert isinstance(counts, CategoricalCounts) and isinstance(other, CategoricalCounts)
            assert_categorical_equal(counts, other, name)
    assert (a.score is None) == (b.score is None)
    if a.score is not None and b.score is not None:
        assert_numerical_equal(a.score, b.score, "score")
    assert_categorical_equal(a.predicted, b.predicted, "predicted")
    assert_categorical_equal(a.status, b.status, "status")
    assert a.status_errors == b.status_errors
    assert (a.confidence_n, a.low_confidence) == (b.confidence_n, b.low_confidence)
    assert a.confidence_sum == pytest.approx(b.confidence_sum, rel=1e-12)
    assert (a.latency is None) == (b.latency is None)
    if a.latency is not None and b.latency is not None:
        assert (a.latency.positive, a.latency.negative, a.latency.zeros, a.latency.nulls) == (
            b.latency.positive,
            b.latency.negative,
            b.latency.zeros,
            b.latency.nulls,
        )
    assert a.scan["rows_read"] == b.scan["rows_read"] and a.scan["missing_columns"] == b.scan["missing_columns"]


def family_results(config: LoadedConfig, profile: WindowProfile, baseline: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every family's results as comparable tuples (values to 9 significant digits)."""
    ctx = CheckContext(config, DAY, profile, baseline, now=DAY.end + timedelta(minutes=30))
    out = []
    for name in FAMILIES:
        for r in run_family(name, ctx):
            value = None if r.value is None else float(f"{r.value:.9g}")
            out.append((r.check, r.metric, r.subject, value, r.status))
    return out


# Fixtures shared by the SQLite and PostgreSQL pushdown tests (a plugin of tests/conftest.py).


@pytest.fixture
def ref(tmp_path: Path) -> pd.DataFrame:
    """The reference rows, also written to ``tmp_path/reference.parquet``."""
    df = reference()
    df.to_parquet(tmp_path / "reference.parquet")
    return df


@pytest.fixture
def baseline(tmp_path: Path, ref: pd.DataFrame) -> dict[str, Any]:
    """The baseline of :func:`ref` (a Parquet-sourced config)."""
    cfg = write_config(tmp_path, "ref", {"kind": "parquet", "path": str(tmp_path / "reference.parquet")})
    return build_baseline(cfg, ref)
