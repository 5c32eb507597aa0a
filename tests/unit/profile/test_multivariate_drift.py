"""The multivariate drift detector wired into the monitor: baseline, window profile, codec and drift family.

A small synthetic model: two correlated numerical features, one independent one and a categorical one. The
window keeps every marginal and can flip the correlation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from watchkeeper.catalogs.monitor import METRICS, known_metric
from watchkeeper.checks import run_checks
from watchkeeper.config import load_config
from watchkeeper.profile.codec import from_payload, to_payload
from watchkeeper.profile.families import drift_results
from watchkeeper.results import Status, Window
from watchkeeper.store import MetricStore

#: Rows per day of the reference and of a window (the reference covers ``REFERENCE_DAYS`` days).
ROWS_PER_DAY = 500
REFERENCE_DAYS = 20
#: Correlation of x1 and x2 in the reference.
RHO = 0.8


def make_frame(n: int, start: str, *, rho: float, seed: int, hours: float = 24.0) -> pd.DataFrame:
    """``n`` rows from ``start`` over ``hours``: x1, x2 standard normal with correlation ``rho`` (the marginals do
    not depend on ``rho``), x3 independent, ``segment`` categorical, a score and its prediction."""
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.linspace(0, hours * 3600 - 1, n), unit="s")
    z1, z2 = rng.standard_normal(n), rng.standard_normal(n)
    score = rng.beta(2, 5, n)
    return pd.DataFrame(
        {
            "ts": ts,
            "pid": [f"{seed}-{i}" for i in range(n)],
            "x1": 10.0 + 2.0 * z1,
            "x2": -5.0 + 0.5 * (rho * z1 + np.sqrt(1 - rho**2) * z2),
            "x3": rng.standard_normal(n),
            "segment": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            "score": score,
            "pred": (score >= 0.5).astype("int64"),
        }
    )


def write_model(root: Path, *, enabled: bool = True) -> Path:
    """Reference parquet, an empty log folder and the model YAML under ``root``; returns the YAML's path."""
    (root / "dags" / "models").mkdir(parents=True, exist_ok=True)
    (root / "log").mkdir(exist_ok=True)
    make_frame(ROWS_PER_DAY * REFERENCE_DAYS, "2026-09-01", rho=RHO, seed=1, hours=24 * REFERENCE_DAYS).to_parquet(
        root / "reference.parquet"
    )
    config = {
        "name": "joint",
        "owner": "team",
        "task": "binary_classification",
        "predictions": {
            "source": {"kind": "parquet", "path": "../../log/*.parquet"},
            "timestamp": "ts",
            "id": "pid",
            "features": {"x1": "numerical", "x2": "numerical", "x3": "numerical", "segment": "categorical"},
            "prediction": "pred",
            "score": "score",
        },
        "reference": {"source": {"kind": "parquet", "path": "../../reference.parquet"}},
        "drift": {"multivariate": {"enabled": enabled}},
    }
    path = root / "dags" / "models" / "joint.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def write_window(root: Path, *, rho: float, seed: int, start: str = "2026-10-01") -> None:
    """One day of log rows (replacing any earlier log)."""
    for old in (root / "log").glob("*.parquet"):
        old.unlink()
    make_frame(ROWS_PER_DAY, start, rho=rho, seed=seed).to_parquet(root / "log" / "day.parquet")


DAY = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))


@pytest.fixture
def store() -> MetricStore:
    s = MetricStore()
    s.migrate()
    return s


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_model(tmp_path)
    return tmp_path


def _config(root: Path):
    return load_config(root / "dags" / "models" / "joint.yaml")


def _results(report) -> dict:
    return {r.key: r for r in report.results}


def test_flipped_correlation_warns_while_every_marginal_stays_ok(root: Path, store: MetricStore) -> None:
    write_window(root, rho=-0.8, seed=7)
    report = run_checks(_config(root), DAY, store)
    results = _results(report)
    joint = results[("drift", "multivariate_pca", "")]
    assert joint.status is Status.WARNING, joint.message
    assert joint.value > joint.threshold == joint.details["band"]["upper"]
    assert joint.details["rows"] == 500 and joint.details["reference_error"] > 0
    assert "outside" in joint.message
    per_feature = [r for r in report.results if r.check == "drift" and r.metric != "multivariate_pca"]
    assert {r.subject for r in per_feature} == {"x1", "x2", "x3", "segment"}
    assert all(not r.status.is_finding for r in per_feature)  # the marginals did not move


def test_same_correlation_is_ok(root: Path, store: MetricStore) -> None:
    write_window(root, rho=0.8, seed=8)
    joint = _results(run_checks(_config(root), DAY, store))[("drift", "multivariate_pca", "")]
    assert joint.status is Status.OK, joint.message
    band = joint.details["band"]
    assert band["lower"] <= joint.value <= band["upper"]
    assert band["n_chunks"] == 20  # one chunk per reference day (the @daily schedule's period)


def test_disabled_adds_no_row_and_fits_nothing(tmp_path: Path, store: MetricStore) -> None:
    write_model(tmp_path, enabled=False)
    write_window(tmp_path, rho=-0.8, seed=7)
    report = run_checks(_config(tmp_path), DAY, store)
    assert not [r for r in report.results if r.metric == "multivariate_pca"]
    assert report.profile.multivariate is None and report.profile.spec.multivariate is None
    assert "multivariate" not in store.get_baseline("joint")[1]


def test_enabling_later_refits_the_stored_baseline(tmp_path: Path, store: MetricStore) -> None:
    path = write_model(tmp_path, enabled=False)
    write_window(tmp_path, rho=-0.8, seed=7)
    run_checks(_config(tmp_path), DAY, store)
    data = yaml.safe_load(path.read_text())
    data["drift"]["multivariate"]["enabled"] = True
    path.write_text(yaml.safe_dump(data))
    joint = _results(run_checks(_config(tmp_path), DAY, store))[("drift", "multivariate_pca", "")]
    assert joint.status is Status.WARNING
    assert "multivariate" in store.get_baseline("joint")[1]


def test_too_few_rows_is_skipped_with_the_reason(root: Path, store: MetricStore) -> None:
    hour = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 1, 2, tzinfo=UTC))
    write_window(root, rho=-0.8, seed=7)
    joint = _results(run_checks(_config(root), hour, store))[("drift", "multivariate_pca", "")]
    assert joint.status is Status.SKIPPED
    assert joint.details["rows"] < 100 and "rows < 100" in joint.message


def test_codec_round_trip_and_old_profiles_without_the_key(root: Path, store: MetricStore) -> None:
    write_window(root, rho=-0.8, seed=7)
    config = _config(root)
    report = run_checks(config, DAY, store)
    profile = report.profile
    payload = to_payload(profile)
    assert payload["multivariate"]["rows"] == 500
    again = from_payload(payload, profile.spec)
    assert again.multivariate is not None
    assert (again.multivariate.total, again.multivariate.rows) == (profile.multivariate.total, 500)
    restored = [r for r in drift_results(config, again) if r.metric == "multivariate_pca"]
    assert restored[0].status is Status.WARNING and restored[0].value == pytest.approx(profile.multivariate.mean)
    old = {k: v for k, v in payload.items() if k != "multivariate"}
    loaded = from_payload(old, profile.spec)
    assert loaded.multivariate is None and loaded.rows == 500
    skipped = [r for r in drift_results(config, loaded) if r.metric == "multivariate_pca"]
    assert skipped[0].status is Status.SKIPPED and "predates the detector" in skipped[0].message


def test_profile_of_two_batches_merges_to_the_whole(root: Path, store: MetricStore) -> None:
    from watchkeeper.profile.window import WindowProfile

    write_window(root, rho=0.8, seed=8)
    spec = run_checks(_config(root), DAY, store).profile.spec
    df = make_frame(300, "2026-10-01", rho=0.0, seed=3)
    whole = WindowProfile.empty(spec)
    whole.add_batch(df)
    a, b = WindowProfile.empty(spec), WindowProfile.empty(spec)
    a.add_batch(df.iloc[:120])
    b.add_batch(df.iloc[120:].drop(columns=[]))
    merged = a.merge(b)
    assert merged.multivariate.rows == whole.multivariate.rows == 300
    assert merged.multivariate.total == pytest.approx(whole.multivariate.total, rel=1e-12)
    partial = WindowProfile.empty(spec)
    partial.add_batch(df.drop(columns=["x3"]))  # a batch without a detector column is not counted
    assert partial.multivariate.rows == 0


def test_metric_is_known_to_rules() -> None:
    assert "multivariate_pca" in METRICS["drift"] and known_metric("drift", "multivariate_pca")
