"""Check families and the runner on a tiny model: healthy data, each kind of fault, each kind of bad input."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from support import TinyModel, make_rows
from watchkeeper.checks import FAMILIES, CheckContext, get_family, load_context, run_checks, run_family
from watchkeeper.exceptions import UnknownNameError
from watchkeeper.results import Status, Window
from watchkeeper.store import MetricStore

DAY = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))


@pytest.fixture
def store() -> MetricStore:
    s = MetricStore()
    s.migrate()
    return s


def by_key(report_results: list) -> dict[tuple[str, str, str], object]:
    return {r.key: r for r in report_results}


def findings(results: list) -> set[tuple[str, str, str]]:
    return {r.key for r in results if r.status.is_finding}


def test_healthy_window_has_no_findings(tiny: TinyModel, store: MetricStore) -> None:
    report = run_checks(tiny.config(), DAY, store)
    assert report.n_rows == 1000
    assert findings(report.results) == set()
    keys = by_key(report.results)
    assert keys[("quality", "row_count", "")].value == 1000
    assert keys[("drift", "psi", "country")].status is Status.OK  # auto: PSI from 1,000 rows on
    assert keys[("quality", "gx.expect_column_values_to_not_be_null", "pid")].status is Status.OK
    assert {r.check for r in report.results} == {"quality", "drift", "prediction", "service"}


def test_families_are_registered_and_unknown_lists_them() -> None:
    assert list(FAMILIES) == ["quality", "drift", "prediction", "service"]
    with pytest.raises(UnknownNameError, match="No check family named 'perf'. Available: quality, drift"):
        get_family("perf")


def test_empty_window_is_a_finding_not_a_crash(tiny: TinyModel, store: MetricStore) -> None:
    later = Window(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
    report = run_checks(tiny.config(), later, store)
    keys = by_key(report.results)
    row_count = keys[("quality", "row_count", "")]
    assert row_count.status is Status.CRITICAL and row_count.message == "no data in window"
    drift = [r for r in report.results if r.check == "drift"]
    assert drift and all(r.status is Status.SKIPPED for r in drift)
    assert keys[("prediction", "score_drift", "")].status is Status.SKIPPED
    assert report.status is Status.CRITICAL


def test_shifted_feature_and_prediction_rate_are_found(tiny: TinyModel, store: MetricStore) -> None:
    df = make_rows(1000, "2026-10-01", seed=3)
    df["amount"] *= 2.0
    df.loc[:399, "score"] = 0.9  # the model now flags 40% of traffic
    df["pred"] = (df["score"] >= 0.5).astype("int64")
    tiny.write_log(df)
    report = run_checks(tiny.config(), DAY, store)
    found = findings(report.results)
    assert ("drift", "psi", "amount") in found
    assert ("prediction", "class_rate_change", "class=1") in found
    assert ("prediction", "score_psi", "score") in found
    assert not any(subject in {"age", "country"} for _, _, subject in found)
    rate = by_key(report.results)[("prediction", "class_rate_change", "class=1")]
    assert rate.details["current_rate"] == pytest.approx(0.4, abs=0.005)


def test_nan_inf_null_column_and_unseen_category(tiny: TinyModel, store: MetricStore) -> None:
    df = make_rows(1000, "2026-10-01", seed=4)
    df.loc[:9, "amount"] = np.inf
    df.loc[10:19, "amount"] = np.nan
    df["age"] = np.nan
    df.loc[:99, "country"] = "ZZ"
    tiny.write_log(df)
    keys = by_key(run_checks(tiny.config(), DAY, store).results)
    assert keys[("quality", "nonfinite_count", "amount")].value == 10
    assert keys[("quality", "nonfinite_count", "amount")].status is Status.WARNING
    assert keys[("quality", "missing_share", "amount")].value == pytest.approx(0.01)
    assert keys[("quality", "missing_share", "age")].value == 1.0
    assert keys[("quality", "missing_share", "age")].status is Status.CRITICAL
    age_drift = [r for r in keys.values() if r.check == "drift" and r.subject == "age"]
    assert age_drift[0].status is Status.SKIPPED
    unseen = keys[("quality", "unseen_category_share", "country")]
    assert unseen.value == pytest.approx(0.1) and unseen.details["unseen"] == ["ZZ"]
    assert unseen.status is Status.CRITICAL


def test_missing_and_mistyped_columns(tiny: TinyModel, store: MetricStore) -> None:
    df = make_rows(1000, "2026-10-01", seed=5).drop(columns=["country"])
    df["age"] = df["age"].astype(str)
    df.loc[0, "age"] = "unknown"
    df["debug_flag"] = 1
    tiny.write_log(df)
    keys = by_key(run_checks(tiny.config(), DAY, store).results)
    assert keys[("quality", "column_missing", "country")].status is Status.CRITICAL
    assert keys[("quality", "column_mistyped", "age")].status is Status.CRITICAL
    assert keys[("quality", "column_unexpected", "debug_flag")].status is Status.WARNING
    # the mistyped column is still measured: its one unparseable value counts as missing
    assert keys[("quality", "missing_share", "age")].value == pytest.approx(0.001)


def test_naive_timestamps_and_freshness(tiny: TinyModel, store: MetricStore) -> None:
    df = make_rows(1000, "2026-10-01", seed=6, hours=12)  # data stops at noon: 12 h stale
    df["ts"] = df["ts"].dt.tz_localize(None)
    tiny.write_log(df)
    keys = by_key(run_checks(tiny.config(), DAY, store).results)
    fresh = keys[("quality", "freshness_lag_hours", "")]
    assert fresh.status is Status.WARNING and fresh.value == pytest.approx(12.0, abs=0.01)
    assert keys[("quality", "row_count", "")].value == 1000


def test_volume_drop_is_a_warning(tiny: TinyModel, store: MetricStore) -> None:
    tiny.write_log(make_rows(200, "2026-10-01", seed=7))  # reference has 1000 rows per day
    row_count = by_key(run_checks(tiny.config(), DAY, store).results)[("quality", "row_count", "")]
    assert row_count.status is Status.WARNING
    assert row_count.details["expected"] == pytest.approx(1000.0, rel=0.01)


def test_latency_regression_and_errors(tiny: TinyModel, store: MetricStore) -> None:
    df = make_rows(1000, "2026-10-01", seed=8)
    df["latency"] *= 10
    df.loc[:99, "status"] = "timeout"
    tiny.write_log(df)
    keys = by_key(run_checks(tiny.config(), DAY, store).results)
    p95 = keys[("service", "latency_p95_ms", "")]
    assert p95.status is Status.CRITICAL
    assert p95.value == pytest.approx(float(np.percentile(df["latency"], 95)), rel=1e-3)  # sketch: 0.1 %
    err = keys[("service", "error_rate", "")]
    assert err.value == pytest.approx(0.1, abs=0.002) and err.status is Status.CRITICAL


def test_service_checks_need_their_columns(tiny: TinyModel, store: MetricStore) -> None:
    cfg = tiny.edit(lambda d: (d["predictions"].pop("latency"), d["predictions"].pop("status")))
    assert run_family("service", load_context(cfg, DAY, store)) == []


def test_a_crashing_family_becomes_an_error_result(
    tiny: TinyModel, store: MetricStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = load_context(tiny.config(), DAY, store)

    def boom(_: CheckContext) -> list:
        raise ZeroDivisionError("bad luck")

    monkeypatch.setitem(FAMILIES, "drift", boom)
    (result,) = run_family("drift", ctx)
    assert result.status is Status.ERROR and result.metric == "check_failed"
    assert result.message == "monitoring failed: the drift checks raised ZeroDivisionError: bad luck"


def test_gx_suite_failures_use_severity_and_baseline_parameters(tiny: TinyModel, store: MetricStore) -> None:
    df = make_rows(1000, "2026-10-01", seed=9)
    df.loc[:49, "amount"] = 1e9  # above the reference max, which fills {"$PARAMETER": "amount_max"}
    df.loc[:9, "score"] = 1.5
    tiny.write_log(df)
    keys = by_key(run_checks(tiny.config(), DAY, store).results)
    amount = keys[("quality", "gx.expect_column_values_to_be_between", "amount")]
    assert amount.status is Status.WARNING and amount.value == pytest.approx(0.05)
    score = keys[("quality", "gx.expect_column_values_to_be_between", "score")]
    assert score.status is Status.CRITICAL and score.value == pytest.approx(0.01)


def test_drift_override_method_and_threshold(tiny: TinyModel, store: MetricStore) -> None:
    def change(d: dict) -> None:
        d["drift"] = {
            "features": {"amount": {"method": "wasserstein", "threshold": {"warning": 0.01}}, "age": {"enabled": False}}
        }

    cfg = tiny.edit(change)
    results = run_family("drift", load_context(cfg, DAY, store))
    keys = by_key(results)
    amount = keys[("drift", "wasserstein", "amount")]
    assert amount.threshold == 0.01
    assert not any(r.subject == "age" for r in results)


def test_rare_class_rate_noise_is_not_a_finding() -> None:
    from watchkeeper.checks import rate_change_is_real

    assert not rate_change_is_real(0.001, 1000, 0.0002, 4000)  # +400 %, one row: chance
    assert rate_change_is_real(0.40, 1000, 0.05, 4000)  # a fraud model flagging 40 % instead of 5 %
    assert not rate_change_is_real(0.05, 0, 0.05, 4000)


def test_window_report_summary_is_small(tiny: TinyModel, store: MetricStore) -> None:
    report = run_checks(tiny.config(), DAY, store)
    summary = report.summary()
    assert summary["n_rows"] == 1000 and summary["status"] == "ok"
    assert sum(summary["counts"].values()) == len(report.results)
    assert len(str(summary)) < 500


def test_regression_output_drift(tiny: TinyModel, store: MetricStore) -> None:
    def change(d: dict) -> None:
        d["task"] = "regression"
        d["predictions"]["prediction"] = "score"
        d["predictions"]["score"] = None

    cfg = tiny.edit(change)
    df = make_rows(1000, "2026-10-01", seed=12)
    df["score"] = df["score"] * 3 + 0.2
    tiny.write_log(df)
    results = run_family("prediction", load_context(cfg, DAY, store))
    keys = by_key(results)
    assert keys[("prediction", "prediction_psi", "score")].status is Status.CRITICAL
    assert not any(r.metric == "class_rate_change" for r in results)  # no classes in regression


def test_multiclass_confidence_is_the_score(tiny: TinyModel, store: MetricStore) -> None:
    def change(d: dict) -> None:
        d["task"] = "multiclass_classification"
        d["predictions"]["prediction"] = "status"  # any label column works as the predicted class

    cfg = tiny.edit(change)
    df = make_rows(1000, "2026-10-01", seed=13)
    tiny.write_log(df)
    keys = by_key(run_family("prediction", load_context(cfg, DAY, store)))
    assert keys[("prediction", "mean_confidence", "")].value == pytest.approx(df["score"].mean())
    assert ("prediction", "class_rate_change", "class=ok") in keys


# --- findings that are right (issue 10) -------------------------------------------------------------


def test_half_duplicate_prediction_ids_are_a_critical_quality_finding(tiny: TinyModel, store: MetricStore) -> None:
    df = make_rows(1000, "2026-10-01", seed=20)
    df.loc[500:, "pid"] = df.loc[:499, "pid"].to_numpy()
    tiny.write_log(df)
    dup = by_key(run_checks(tiny.config(), DAY, store).results)[("quality", "duplicate_id_share", "pid")]
    assert dup.value == pytest.approx(0.5) and dup.status is Status.CRITICAL
    assert dup.threshold == 0.05 and dup.details["duplicates"] == 500
    assert dup.message == "500 of 1000 rows repeat a prediction id already seen in the window (0.5) (critical)"


def test_unique_ids_are_ok(tiny: TinyModel, store: MetricStore) -> None:
    dup = by_key(run_checks(tiny.config(), DAY, store).results)[("quality", "duplicate_id_share", "pid")]
    assert (dup.value, dup.status) == (0.0, Status.OK)


def test_a_one_row_window_pages_nobody(tiny: TinyModel, store: MetricStore) -> None:
    df = make_rows(1, "2026-10-01", seed=21)
    df["amount"] = 1e6  # far outside the reference: KS would be 1.0 from this one value
    tiny.write_log(df)
    results = run_checks(tiny.config(), DAY, store).results
    drift = [r for r in results if r.check == "drift" or r.metric.startswith("score_")]
    assert drift and all(r.status is Status.SKIPPED for r in drift)
    assert "drift is judged from 100 (drift.min_sample)" in by_key(results)[("drift", "ks", "amount")].message
    assert not [r for r in results if r.status is Status.CRITICAL and r.check in {"drift", "prediction"}]


def test_the_threshold_reported_is_the_level_crossed(tiny: TinyModel, store: MetricStore) -> None:
    df = make_rows(1000, "2026-10-01", seed=22)
    df["amount"] *= 3.0
    df["latency"] *= 10
    tiny.write_log(df)
    keys = by_key(run_checks(tiny.config(), DAY, store).results)
    psi = keys[("drift", "psi", "amount")]
    assert psi.status is Status.CRITICAL and psi.threshold == 0.25
    p95 = keys[("service", "latency_p95_ms", "")]
    assert p95.status is Status.CRITICAL and p95.threshold == 500


def test_an_out_of_range_value_is_reported_once(tiny: TinyModel, store: MetricStore) -> None:
    df = make_rows(1000, "2026-10-01", seed=23)
    df.loc[:29, "age"] = 500.0  # 3 % of ages outside the reference [0, 99]
    tiny.write_log(df)
    cfg = tiny.edit(lambda d: d["quality"].pop("suite"))  # the GX suite's own range checks are GX's business
    found = [r for r in run_checks(cfg, DAY, store).results if r.status.is_finding]
    assert [(r.check, r.metric, r.subject) for r in found] == [("quality", "out_of_range_share", "age")]


def test_clean_days_against_a_small_reference_raise_no_findings(tiny: TinyModel, store: MetricStore) -> None:
    make_rows(300, "2026-09-01", seed=31, hours=24 * 4).to_parquet(tiny.root / "reference.parquet")
    quiet = 0
    for seed in range(40, 45):
        tiny.write_log(make_rows(1000, "2026-10-01", seed=seed))
        results = run_checks(tiny.config(), DAY, store).results
        # the volume finding is right (this reference holds 75 rows a day); GX range checks are the suite's
        noisy = [r.key for r in results if r.status.is_finding and r.metric != "row_count" and r.check == "quality"]
        noisy += [r.key for r in results if r.status.is_finding and r.check != "quality"]
        quiet += not [key for key in noisy if not key[1].startswith("gx.")]
    assert quiet == 5


def test_schema_change_between_files_is_a_finding_not_a_crash(tiny: TinyModel, store: MetricStore) -> None:
    first = make_rows(500, "2026-10-01", seed=50, hours=12)
    second = make_rows(500, "2026-10-01T12:00:00", seed=51, hours=12)
    second["age"] = second["age"].astype(str)  # the column turns to text in the second file
    tiny.write_log(first, "a.parquet")
    second.to_parquet(tiny.root / "log" / "b.parquet")
    keys = by_key(run_checks(tiny.config(), DAY, store).results)
    change = keys[("quality", "schema_change", "age")]
    assert change.status is Status.WARNING and "b.parquet" in change.message
    assert keys[("quality", "column_mistyped", "age")].status is Status.CRITICAL
    assert keys[("quality", "row_count", "")].value == 1000
