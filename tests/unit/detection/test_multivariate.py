"""The multivariate detector: marginals fixed, correlation changed -> flagged; no change -> silent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from watchkeeper.detection.bands import Band, chunk_indices, learn_band
from watchkeeper.detection.multivariate import (
    PcaDriftModel,
    ReconstructionError,
    fit_pca_drift,
    judge_reconstruction,
)


def _correlated(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    """x, y standard normal with correlation ``rho``; z independent; a categorical tied to x's sign."""
    cov = [[1.0, rho], [rho, 1.0]]
    xy = rng.multivariate_normal([0.0, 0.0], cov, size=n)
    z = rng.normal(size=n)
    cat = np.where(rng.random(n) < 0.5, "a", "b")
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "z": z, "c": cat})


def _window_status(model: PcaDriftModel, df: pd.DataFrame, batch: int = 997) -> dict:
    acc = ReconstructionError()
    for start in range(0, len(df), batch):
        acc.add_batch(model, df.iloc[start : start + batch])
    return judge_reconstruction(model, acc)


def test_correlation_flip_is_flagged_while_every_marginal_is_unchanged() -> None:
    rng = np.random.default_rng(7)
    reference = _correlated(rng, 20_000, rho=0.9)
    model = fit_pca_drift(reference, ["x", "y", "z"], ["c"], chunk_rows=1_000)
    drifted = _correlated(rng, 5_000, rho=-0.9)
    # each marginal is the same distribution: a per-feature KS test sees nothing
    for col in ("x", "y", "z"):
        assert stats.ks_2samp(reference[col], drifted[col]).pvalue > 0.001
    verdict = _window_status(model, drifted)
    assert verdict["status"] == "warning"
    assert verdict["value"] > model.band.upper  # type: ignore[union-attr]
    assert "outside" in verdict["message"]


def test_no_change_stays_silent_over_many_seeds() -> None:
    alarms = 0
    runs = 40
    rng = np.random.default_rng(11)
    reference = _correlated(rng, 20_000, rho=0.9)
    model = fit_pca_drift(reference, ["x", "y", "z"], ["c"], chunk_rows=1_000)
    for seed in range(runs):
        window = _correlated(np.random.default_rng(1000 + seed), 1_000, rho=0.9)
        alarms += _window_status(model, window)["status"] == "warning"
    assert alarms <= 2  # a 3-sigma band: about 0.3 % false alarms per window, allow sampling slack


def test_missing_values_and_unseen_categories_do_not_crash() -> None:
    rng = np.random.default_rng(3)
    reference = _correlated(rng, 5_000, rho=0.5)
    model = fit_pca_drift(reference, ["x", "y", "z"], ["c"], chunk_rows=250)
    window = _correlated(rng, 500, rho=0.5)
    window.loc[::7, "x"] = np.nan
    window.loc[::5, "y"] = np.inf
    window.loc[::3, "c"] = "never_seen"
    verdict = _window_status(model, window)
    assert verdict["status"] in {"ok", "warning"}
    assert np.isfinite(verdict["value"])


def test_small_window_and_small_reference_are_skipped_with_the_reason() -> None:
    rng = np.random.default_rng(5)
    reference = _correlated(rng, 2_000, rho=0.5)
    model = fit_pca_drift(reference, ["x", "y"], chunk_rows=1_000)  # two chunks: too few for a band
    assert model.band is None
    verdict = _window_status(model, _correlated(rng, 500, rho=0.5))
    assert verdict["status"] == "skipped"
    assert "too few chunks" in verdict["message"]
    small = fit_pca_drift(reference, ["x", "y"], chunk_rows=100)
    tiny = _window_status(small, _correlated(rng, 10, rho=0.5))
    assert tiny["status"] == "skipped"
    assert "10 rows < 100" in tiny["message"]


def test_model_round_trips_through_json() -> None:
    rng = np.random.default_rng(9)
    reference = _correlated(rng, 4_000, rho=0.8)
    model = fit_pca_drift(reference, ["x", "y", "z"], ["c"], chunk_rows=200)
    again = PcaDriftModel.from_dict(model.to_dict())
    window = _correlated(rng, 300, rho=0.8)
    assert again.row_errors(window) == pytest.approx(model.row_errors(window))


def test_accumulators_merge_like_one_pass() -> None:
    rng = np.random.default_rng(2)
    reference = _correlated(rng, 4_000, rho=0.8)
    model = fit_pca_drift(reference, ["x", "y", "z"], ["c"], chunk_rows=200)
    window = _correlated(rng, 1_000, rho=0.8)
    whole = ReconstructionError()
    whole.add_batch(model, window)
    a, b = ReconstructionError(), ReconstructionError()
    a.add_batch(model, window.iloc[:333])
    b.add_batch(model, window.iloc[333:])
    merged = a.merge(b)
    assert merged.rows == whole.rows == 1_000
    assert merged.mean == pytest.approx(whole.mean)


def test_learn_band_mean_k_sd_quantile_floor_and_too_few_chunks() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    band = learn_band(values, k=2.0)
    assert band is not None
    assert band.mean == pytest.approx(4.5)
    assert band.std == pytest.approx(np.std(values, ddof=1))
    assert band.upper == pytest.approx(4.5 + 2 * np.std(values, ddof=1))
    assert band.lower is None
    assert band.exceeded(band.upper + 0.01)
    assert not band.exceeded(band.upper - 0.01)
    assert learn_band(values[:7]) is None  # fewer than MIN_CHUNKS
    q = learn_band(values, quantile=0.9, floor=100.0)
    assert q is not None
    assert q.upper == pytest.approx(np.quantile(values, 0.9))
    assert not q.exceeded(50.0)  # above the band but under the floor: trivia
    assert Band.from_dict(q.to_dict()) == q
    assert "8 reference chunks" in q.describe()


def test_chunks_by_time_and_by_count() -> None:
    ts = pd.Series(pd.date_range("2026-01-01", periods=96, freq="h", tz="UTC"))
    by_day = chunk_indices(96, timestamps=ts, period=pd.Timedelta(days=1).to_pytimedelta())
    assert [c.size for c in by_day] == [24, 24, 24, 24]
    by_count = chunk_indices(10, chunk_rows=4, min_rows=3)
    assert [c.tolist() for c in by_count] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="needs timestamps and a period, or chunk_rows"):
        chunk_indices(10)
