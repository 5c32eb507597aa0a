"""The reference baseline: contents, content hash, reuse and rebuild."""

from __future__ import annotations

import pandas as pd
import pytest

from support import TinyModel, make_rows
from watchkeeper.baseline import build_baseline, ensure_baseline
from watchkeeper.exceptions import BaselineError
from watchkeeper.store import MetricStore


def test_baseline_contents(tiny: TinyModel) -> None:
    payload = build_baseline(tiny.config())
    assert payload["n_rows"] == 4000
    assert set(payload["features"]) == {"amount", "age", "country"}
    assert payload["features"]["country"]["kind"] == "categorical"
    assert sum(payload["features"]["country"]["counts"].values()) == 4000
    assert len(payload["features"]["amount"]["quantiles"]) == 1001
    assert payload["rows_per_day"] == pytest.approx(1000, rel=0.01)
    assert payload["columns"]["country"] == "categorical" and payload["columns"]["amount"] == "numerical"
    assert payload["score"]["kind"] == "numerical"
    assert 0.9 < payload["confidence"]["mean"] <= 1.0
    assert set(payload["class_rates"]) <= {"0", "1"}


def test_reused_until_reference_changes_and_forced_rebuild(tiny: TinyModel) -> None:
    store = MetricStore()
    store.migrate()
    cfg = tiny.config()
    first_hash, first = ensure_baseline(cfg, store)
    again_hash, again = ensure_baseline(cfg, store)
    assert again_hash == first_hash and again["built_at"] == first["built_at"]
    make_rows(3000, "2026-09-01", seed=11, hours=72).to_parquet(tiny.root / "reference.parquet")
    new_hash, new = ensure_baseline(cfg, store)
    assert new_hash != first_hash and new["n_rows"] == 3000
    forced_hash, forced = ensure_baseline(cfg, store, force=True)
    assert forced_hash == new_hash and forced["built_at"] != new["built_at"]
    assert store.get_baseline("tiny")[1]["built_at"] == forced["built_at"]
    assert store.baseline_hashes("tiny") == [first_hash, new_hash]


def test_missing_feature_and_wrong_type_in_reference(tiny: TinyModel) -> None:
    cfg = tiny.config()
    ref = pd.read_parquet(tiny.root / "reference.parquet")
    with pytest.raises(BaselineError, match=r"predictions.features: \['age'\] not in the reference data"):
        build_baseline(cfg, ref.drop(columns=["age"]))
    with pytest.raises(BaselineError, match="reference column is .* not numerical -- type the feature 'categorical'"):
        build_baseline(cfg, ref.assign(amount=ref["amount"].astype(str)))
    with pytest.raises(BaselineError, match="the reference data has no rows"):
        build_baseline(cfg, ref.iloc[:0])


def test_multivariate_detector_is_fitted_only_when_enabled(tiny: TinyModel) -> None:
    assert "multivariate" not in build_baseline(tiny.config())
    cfg = tiny.edit(lambda d: d.setdefault("drift", {}).update({"multivariate": {"enabled": True, "k": 4}}))
    fitted = build_baseline(cfg)["multivariate"]
    assert sorted(fitted["numerical"]) == ["age", "amount"] and fitted["categorical"] == ["country"]
    assert fitted["variance"] == 0.65 and fitted["n_reference"] == 4000
    # 4 days of reference on a @daily schedule: too few time chunks, so chunks by count (a twentieth of the rows)
    assert fitted["band"]["n_chunks"] == 20 and fitted["band"]["method"] == "mean+-4sd"
    assert fitted["band"]["lower"] < fitted["reference_error"] < fitted["band"]["upper"]


def test_enabling_or_retuning_the_detector_rebuilds_the_same_reference_baseline(tiny: TinyModel) -> None:
    store = MetricStore()
    store.migrate()
    first_hash, first = ensure_baseline(tiny.config(), store)
    cfg = tiny.edit(lambda d: d.setdefault("drift", {}).update({"multivariate": {"enabled": True}}))
    again_hash, again = ensure_baseline(cfg, store)
    assert again_hash == first_hash and "multivariate" in again
    assert store.get_baseline("tiny")[1]["multivariate"] == again["multivariate"]
    assert ensure_baseline(cfg, store)[1]["built_at"] == again["built_at"]  # now current: reused
    cfg = tiny.edit(lambda d: d["drift"]["multivariate"].update({"variance": 0.9}))
    assert ensure_baseline(cfg, store)[1]["multivariate"]["variance"] == 0.9


def test_learned_drift_bands_are_stored_only_in_learned_mode(tiny: TinyModel) -> None:
    assert "learned_bands" not in build_baseline(tiny.config())
    cfg = tiny.edit(
        lambda d: d.setdefault("drift", {}).update(
            {"threshold_mode": "learned", "learned": {"k": 2.5}, "features": {"age": {"enabled": False}}}
        )
    )
    payload = build_baseline(cfg)
    meta = payload["learned"]
    # the multivariate detector's chunking: 4 days on a @daily schedule are too few, so 20 chunks of 200 rows
    assert meta["chunks"] == 20 and meta["chunk_rows"] == 200 and meta["k"] == 2.5
    assert set(payload["learned_bands"]) == {"amount", "country"}  # a disabled feature gets no band
    # chunks of 200 values: auto picks the small-sample tests, as it would for a window of that size
    assert meta["tests"] == {"amount": "ks", "country": "chisquare"}
    band = payload["learned_bands"]["amount"]
    assert band["n_chunks"] == 20 and band["method"] == "mean+2.5sd" and band["floor"] == pytest.approx(0.01)
    assert 0 < band["mean"] < band["upper"]


def test_switching_to_learned_mode_rebuilds_the_stored_baseline(tiny: TinyModel) -> None:
    store = MetricStore()
    store.migrate()
    first_hash, first = ensure_baseline(tiny.config(), store)
    cfg = tiny.edit(lambda d: d.setdefault("drift", {}).update({"threshold_mode": "learned"}))
    again_hash, again = ensure_baseline(cfg, store)
    assert again_hash == first_hash and "learned_bands" in again and "learned_bands" not in first
    assert ensure_baseline(cfg, store)[1]["built_at"] == again["built_at"]  # now current: reused


def test_unknown_threshold_mode_is_a_config_error(tiny: TinyModel) -> None:
    from watchkeeper.exceptions import ConfigError

    with pytest.raises(ConfigError, match="threshold_mode"):
        tiny.edit(lambda d: d.setdefault("drift", {}).update({"threshold_mode": "adaptive"}))
