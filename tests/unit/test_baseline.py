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
