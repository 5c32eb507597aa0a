"""The demo data: deterministic, clean before day 15, and exactly the documented faults after."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from watchkeeper.demo.generate import (
    AMOUNT_FACTOR,
    CLEAN_DAY,
    COLUMNS,
    CRYPTO_CATEGORY,
    DEFAULT_START,
    FAULTS,
    FAULTY_DAY,
    FEATURES,
    LATENCY_FACTOR,
    DemoData,
    day_frame,
    generate,
    main,
    reference_frame,
)

REPO = Path(__file__).resolve().parents[3]
FAULT_COLUMNS = {f.column for f in FAULTS}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    return generate(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def reference(demo: DemoData) -> pd.DataFrame:
    return pd.read_parquet(demo.reference_path)


@pytest.fixture(scope="module")
def days(demo: DemoData) -> dict[date, pd.DataFrame]:
    return {d: pd.read_parquet(demo.prediction_path(d)) for d in demo.dates}


def _clean(days: dict[date, pd.DataFrame]) -> dict[date, pd.DataFrame]:
    first_fault = min(f.first_date() for f in FAULTS)
    return {d: frame for d, frame in days.items() if d < first_fault}


# --------------------------------------------------------------------------- constants


def test_fault_days_and_demo_days() -> None:
    assert [(f.day, f.column) for f in FAULTS] == [
        (15, "amount"),
        (18, "merchant_category"),
        (21, "account_age_days"),
        (24, "latency_ms"),
    ]
    assert FAULTS[0].first_date() == date(2026, 10, 15)
    assert FAULTS[0].first_date(date(2027, 1, 1)) == date(2027, 1, 15)
    assert not any(f.active_on(CLEAN_DAY) for f in FAULTS)
    assert all(f.active_on(FAULTY_DAY) for f in FAULTS)
    assert set(FEATURES) <= set(COLUMNS)


def test_every_fault_has_an_injector() -> None:
    from watchkeeper.demo.generate import _INJECTORS

    assert sorted(_INJECTORS) == sorted(f.name for f in FAULTS)


# --------------------------------------------------------------------------- shape


def test_files_and_row_counts(demo: DemoData, reference: pd.DataFrame, days: dict[date, pd.DataFrame]) -> None:
    assert demo.regenerated
    assert demo.faults == FAULTS
    assert sorted(demo.predictions_dir.glob("*.parquet")) == demo.prediction_paths
    assert len(demo.prediction_paths) == 31
    assert demo.prediction_paths[0].name == "date=2026-10-01.parquet"
    assert list(reference.columns) == [*COLUMNS, "label"]
    assert len(reference) == 20_000
    for frame in days.values():
        assert list(frame.columns) == COLUMNS
        assert len(frame) == 2000
    ids = pd.concat([reference["prediction_id"], *(f["prediction_id"] for f in days.values())])
    assert ids.is_unique


def test_labels_join_to_predictions(demo: DemoData, days: dict[date, pd.DataFrame]) -> None:
    labels = pd.read_parquet(demo.label_path(CLEAN_DAY))
    assert list(labels.columns) == ["prediction_id", "ts", "label"]
    assert labels["prediction_id"].tolist() == days[CLEAN_DAY]["prediction_id"].tolist()
    assert set(labels["label"].unique()) <= {0, 1}


def test_timestamps_are_utc_and_within_their_day(reference: pd.DataFrame, days: dict[date, pd.DataFrame]) -> None:
    for day, frame in days.items():
        ts = frame["ts"]
        assert str(ts.dt.tz) == "UTC"
        lo = datetime(day.year, day.month, day.day, tzinfo=UTC)
        assert ts.min() >= lo
        assert ts.max() < lo + timedelta(days=1)
        # spread over the whole day, newest row close to midnight (freshness checks stay quiet)
        assert ts.max() > lo + timedelta(hours=23, minutes=30)
        assert ts.is_monotonic_increasing
        assert (frame["hour"] == ts.dt.hour).all()
    start = datetime(2026, 10, 1, tzinfo=UTC)
    assert str(reference["ts"].dt.tz) == "UTC"
    assert reference["ts"].min() >= start - timedelta(days=30)
    assert reference["ts"].max() < start
    assert reference["ts"].dt.normalize().nunique() == 30


def test_hour_has_a_day_night_pattern(reference: pd.DataFrame) -> None:
    share = reference["hour"].value_counts(normalize=True)
    assert share[3] < 0.02
    assert share[19] > 0.05


def test_model_score_and_service_columns(reference: pd.DataFrame) -> None:
    assert reference["fraud_score"].between(0, 1).all()
    assert (reference["predicted_label"] == (reference["fraud_score"] >= 0.5)).all()
    assert 0.03 <= reference["predicted_label"].mean() <= 0.05
    assert 0.03 <= reference["label"].mean() <= 0.06
    # the model is useful: most flagged payments are fraud
    assert reference.loc[reference["predicted_label"] == 1, "label"].mean() > 0.6
    assert reference["latency_ms"].quantile(0.95) == pytest.approx(120, rel=0.05)
    assert (reference["status"] == "error").mean() == pytest.approx(0.002, abs=0.001)
    assert set(reference["status"]) == {"ok", "error"}
    assert reference["txn_count_24h"].min() >= 0
    assert reference["amount"].min() > 0


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_frames() -> None:
    pd.testing.assert_frame_equal(day_frame(FAULTY_DAY), day_frame(FAULTY_DAY))
    pd.testing.assert_frame_equal(reference_frame(rows=500), reference_frame(rows=500))
    assert not day_frame(CLEAN_DAY, seed=8).equals(day_frame(CLEAN_DAY))


def test_generated_files_are_reproducible(tmp_path: Path, days: dict[date, pd.DataFrame]) -> None:
    short = generate(tmp_path / "short", days=3)
    for day in short.dates:
        pd.testing.assert_frame_equal(pd.read_parquet(short.prediction_path(day)), days[day])
    assert short.faults == []


# --------------------------------------------------------------------------- clean days


def test_clean_days_match_reference(reference: pd.DataFrame, days: dict[date, pd.DataFrame]) -> None:
    clean = _clean(days)
    assert len(clean) == 14
    pooled = pd.concat(clean.values())
    assert pooled["amount"].mean() == pytest.approx(reference["amount"].mean(), rel=0.03)
    for frame in clean.values():
        assert frame["amount"].median() == pytest.approx(reference["amount"].median(), rel=0.05)
        assert frame["account_age_days"].median() == pytest.approx(reference["account_age_days"].median(), rel=0.05)
        assert frame["latency_ms"].quantile(0.95) == pytest.approx(reference["latency_ms"].quantile(0.95), rel=0.05)
        assert frame["predicted_label"].mean() == pytest.approx(reference["predicted_label"].mean(), abs=0.015)
        for column in ("merchant_category", "country", "device_type"):
            shares = frame[column].value_counts(normalize=True)
            expected = reference[column].value_counts(normalize=True)
            assert (shares - expected).abs().max() < 0.01, column
            assert shares.min() >= 0.02, column


def test_reference_covers_every_category_of_clean_days(reference: pd.DataFrame, days: dict[date, pd.DataFrame]) -> None:
    for column, kind in FEATURES.items():
        if kind == "categorical":
            seen = set().union(*(set(f[column]) for f in _clean(days).values()))
            assert seen == set(reference[column]), column


def test_no_nulls_on_clean_days(reference: pd.DataFrame, days: dict[date, pd.DataFrame]) -> None:
    assert not reference.isna().any().any()
    for frame in _clean(days).values():
        assert not frame.isna().any().any()


# --------------------------------------------------------------------------- faults


def test_each_fault_present_from_its_day_and_absent_before(
    reference: pd.DataFrame, days: dict[date, pd.DataFrame]
) -> None:
    ref_median = reference["amount"].median()
    detectors = {
        "amount": lambda f: f["amount"].median() / ref_median > 1.5,
        "merchant_category": lambda f: (f["merchant_category"] == CRYPTO_CATEGORY).mean() == pytest.approx(0.12),
        "account_age_days": lambda f: f["account_age_days"].isna().mean() == pytest.approx(0.30),
        "latency_ms": lambda f: f["latency_ms"].quantile(0.95) > 500,
    }
    for fault in FAULTS:
        for day, frame in days.items():
            assert detectors[fault.column](frame) == fault.active_on(day), (fault.name, day)
    assert CRYPTO_CATEGORY not in set(reference["merchant_category"])


@pytest.mark.parametrize("day", [date(2026, 10, 15), date(2026, 10, 20), FAULTY_DAY, date(2026, 10, 31)])
def test_faults_change_nothing_else(day: date) -> None:
    faulty = day_frame(day)
    clean = day_frame(day, inject_faults=False)
    active = {f.column for f in FAULTS if f.active_on(day)}
    assert len(faulty) == len(clean)
    untouched = [c for c in COLUMNS if c not in active]
    pd.testing.assert_frame_equal(faulty[untouched], clean[untouched])
    # scores come from the true features, so predictions never move
    assert "fraud_score" in untouched and "predicted_label" in untouched
    if "amount" in active:
        np.testing.assert_allclose(faulty["amount"], (clean["amount"] * AMOUNT_FACTOR).round(2))
    if "merchant_category" in active:
        relabelled = faulty["merchant_category"] != clean["merchant_category"]
        assert (faulty.loc[relabelled, "merchant_category"] == CRYPTO_CATEGORY).all()
        assert (clean["merchant_category"] != CRYPTO_CATEGORY).all()
        # the crypto rows come from every category, so the others keep their relative shares
        assert clean.loc[relabelled, "merchant_category"].nunique() == clean["merchant_category"].nunique()
    if "account_age_days" in active:
        kept = faulty["account_age_days"].notna()
        pd.testing.assert_series_equal(faulty.loc[kept, "account_age_days"], clean.loc[kept, "account_age_days"])
    if "latency_ms" in active:
        np.testing.assert_allclose(faulty["latency_ms"], (clean["latency_ms"] * LATENCY_FACTOR).round(1))


# --------------------------------------------------------------------------- idempotence


def test_manifest_skips_regeneration(tmp_path: Path) -> None:
    small = {"days": 2, "rows_per_day": 50, "reference_rows": 100}
    first = generate(tmp_path, **small)
    manifest = json.loads(first.manifest_path.read_text())
    assert manifest["days"] == 2 and manifest["seed"] == 7
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")}
    again = generate(tmp_path, **small)
    assert not again.regenerated
    assert again.prediction_paths == first.prediction_paths
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")} == stamps
    assert generate(tmp_path, force=True, **small).regenerated


def test_changed_parameters_or_missing_file_regenerate(tmp_path: Path) -> None:
    generate(tmp_path, days=3, rows_per_day=50, reference_rows=100)
    shorter = generate(tmp_path, days=2, rows_per_day=50, reference_rows=100)
    assert shorter.regenerated
    # a stale day file would leak into the predictions glob
    assert sorted(shorter.predictions_dir.glob("*.parquet")) == shorter.prediction_paths
    shorter.prediction_paths[0].unlink()
    assert generate(tmp_path, days=2, rows_per_day=50, reference_rows=100).regenerated
    assert shorter.prediction_paths[0].exists()


def test_rejects_empty_period(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must be positive \(got 0, 2000, 20000\)"):
        generate(tmp_path, days=0)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--out", str(tmp_path), "--days", "16", "--rows-per-day", "20", "--reference-rows", "50"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "2026-10-15 (day 15): amount" in out
    assert (tmp_path / "predictions" / "date=2026-10-16.parquet").exists()
    assert main(argv) == 0
    assert "up to date" in capsys.readouterr().out


# --------------------------------------------------------------------------- the config that reads the data


def test_demo_config_matches_generated_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from watchkeeper.config import load_config

    monkeypatch.setenv("WATCHKEEPER_HOME", str(tmp_path))
    loaded = load_config(REPO / "dags" / "models" / "demo_fraud.yaml")
    log = loaded.model.predictions
    assert {name: kind.value for name, kind in log.features.items()} == FEATURES
    assert set(log.columns()) == set(COLUMNS)
    assert loaded.model.start_date.date() == DEFAULT_START
    assert loaded.model.quality.suite == "demo_fraud"
    expected = tmp_path / "demo_data" / "demo_fraud"
    assert log.source.resolved_path(loaded.base_dir) == str(expected / "predictions" / "*.parquet")
    assert loaded.model.reference.source.resolved_path(loaded.base_dir) == str(expected / "reference.parquet")
    for fault in FAULTS:
        assert f"{fault.first_date():%Y-%m-%d}, {fault.column}" in loaded.model.description


def test_demo_suite_names_logged_columns() -> None:
    # Loading and running the suite needs Great Expectations (slow to import): the quality tests do that.
    suite = json.loads((REPO / "expectations" / "demo_fraud.json").read_text())
    assert suite["name"] == "demo_fraud"
    columns = {e["kwargs"]["column"] for e in suite["expectations"] if "column" in e["kwargs"]}
    assert columns <= set(COLUMNS)
    # the suite holds on faulty days too: it must not re-check the columns the generated checks watch
    value_sets = {e["kwargs"]["column"] for e in suite["expectations"] if "value_set" in e["kwargs"]}
    assert not value_sets & FAULT_COLUMNS
