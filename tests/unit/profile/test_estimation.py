"""Estimated performance from the window profile equals the estimate from the raw scores (scoring's)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from support import TinyModel, make_rows
from watchkeeper.baseline import build_baseline
from watchkeeper.profile.families import estimated_results
from watchkeeper.profile.window import ProfileSpec, WindowProfile
from watchkeeper.scoring import estimated_results as raw_estimated_results


@pytest.fixture
def labelled_model(tiny: TinyModel) -> TinyModel:
    ref = pd.read_parquet(tiny.root / "reference.parquet")
    ref["label"] = (np.random.default_rng(1).random(len(ref)) < ref["score"]).astype("int64")
    ref.to_parquet(tiny.root / "reference.parquet")
    tiny.edit(
        lambda d: d.update(
            performance={
                "labels": {"source": {"kind": "parquet", "path": "../../x/*.parquet"}, "id": "pid", "label": "label"}
            }  # fmt: skip
        )
    )
    return tiny


def test_estimates_from_the_profile_match_the_raw_estimates(labelled_model: TinyModel) -> None:
    config = labelled_model.config()
    baseline = build_baseline(config)
    df = make_rows(3000, "2026-10-01", seed=9)
    df["score"] = np.clip(df["score"] * 1.5, 0, 1)  # covariate shift: the estimate moves
    profile = WindowProfile.empty(ProfileSpec.from_config(config, baseline, "h"))
    for part in np.array_split(np.arange(len(df)), 4):
        profile.add_batch(df.iloc[part])
    ours = {r.metric: r.value for r in estimated_results(profile.finish(), baseline)}
    raw = {r.metric: r.value for r in raw_estimated_results(config, df, baseline)}
    assert set(ours) == set(raw) and ours
    for name, value in raw.items():
        # the profile runs scoring's estimator batch by batch: the same sums, up to rounding
        assert ours[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
