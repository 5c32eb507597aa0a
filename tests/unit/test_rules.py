"""Baseline rules: reference, rolling and seasonal baselines, absolute bounds, intervals, persistence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from support import TinyModel, make_rows
from watchkeeper.config import Rule
from watchkeeper.results import CheckResult, Status, Window
from watchkeeper.rules import apply_rules, consecutive_degraded, find_rule, judge_rule
from watchkeeper.store import MetricStore


def day(n: int) -> Window:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n)
    return Window(start, start + timedelta(days=1))


def perf(metric: str, value: float, status: Status = Status.OK, **details: object) -> CheckResult:
    return CheckResult("performance", metric, "", value, None, status, f"{metric} {value}", dict(details))


@pytest.fixture
def store() -> MetricStore:
    s = MetricStore()
    s.migrate()
    return s


def seed(store: MetricStore, values: dict[int, float], metric: str = "accuracy", status: Status = Status.OK) -> None:
    for n, v in values.items():
        store.record_results("m", day(n), [perf(metric, v, status)], checks={"performance"})


def test_relative_drop_against_reference(store: MetricStore) -> None:
    rule = Rule.model_validate({"relative_drop": 0.10})
    ok, bad = (
        apply_rules(
            [perf("accuracy", v)],
            {"accuracy": rule},
            model="m",
            window=day(0),
            store=store,
            reference={"accuracy": 0.94},
        )
        for v in (0.90, 0.80)
    )
    assert ok[0].status is Status.OK and ok[0].details["change"] == pytest.approx(-0.04 / 0.94)
    assert bad[0].status is Status.WARNING
    assert bad[0].threshold == pytest.approx(0.94 * 0.9)
    assert bad[0].message == "accuracy is 0.8: 15% below its reference baseline 0.94 (warning at 10%)"


def test_critical_level_and_rise() -> None:
    rule = Rule.model_validate({"relative_rise": {"warning": 0.2, "critical": 0.5}})
    judged = judge_rule(perf("latency", 160.0), rule, 100.0, "reference")
    assert judged.status is Status.CRITICAL and judged.threshold == pytest.approx(150.0)


def test_rolling_baseline_uses_last_n_windows(store: MetricStore) -> None:
    seed(store, {1: 0.5, 2: 0.9, 3: 0.9, 4: 0.9})
    rule = Rule.model_validate({"relative_drop": 0.10, "baseline": "rolling", "window": 3})
    (judged,) = apply_rules([perf("accuracy", 0.80)], {"accuracy": rule}, model="m", window=day(5), store=store)
    assert judged.details["baseline"] == pytest.approx(0.9)  # window 1 (0.5) is outside the last 3
    assert judged.status is Status.WARNING
    assert "rolling mean of the last 3 windows" in judged.message


def test_seasonal_baseline_compares_with_a_week_earlier(store: MetricStore) -> None:
    seed(store, {0: 1000.0, 6: 400.0}, metric="row_count")
    rule = Rule.model_validate({"relative_drop": 0.3, "baseline": "seasonal", "season": "week"})
    (judged,) = apply_rules([perf("row_count", 600.0)], {"row_count": rule}, model="m", window=day(7), store=store)
    assert judged.details["baseline"] == 1000.0  # day 0, not yesterday's 400
    assert judged.status is Status.WARNING


def test_missing_baseline_is_said_not_guessed(store: MetricStore) -> None:
    rule = Rule.model_validate({"relative_drop": 0.1, "baseline": "rolling"})
    (judged,) = apply_rules([perf("accuracy", 0.1)], {"accuracy": rule}, model="m", window=day(3), store=store)
    assert judged.status is Status.OK and judged.details["baseline_kind"].startswith("rolling")


def test_absolute_bounds_with_severity() -> None:
    rule = Rule.model_validate({"absolute": {"min": 0.8, "severity": "critical"}})
    judged = judge_rule(perf("precision", 0.7), rule, None, "reference")
    assert judged.status is Status.CRITICAL and judged.threshold == 0.8
    assert judged.message == "precision is 0.7: below the minimum 0.8"


def test_confidence_interval_that_reaches_the_baseline_is_not_a_finding() -> None:
    rule = Rule.model_validate({"relative_drop": 0.10})
    noisy = judge_rule(perf("recall", 0.70, ci=[0.45, 0.95]), rule, 0.85, "reference")
    clear = judge_rule(perf("recall", 0.70, ci=[0.65, 0.75]), rule, 0.85, "reference")
    assert noisy.status is Status.OK and clear.status is Status.WARNING


def test_rules_never_improve_a_status_and_skip_unusable_results() -> None:
    rule = Rule.model_validate({"relative_drop": 0.5})
    already = judge_rule(perf("accuracy", 0.9, Status.CRITICAL), rule, 0.9, "reference")
    assert already.status is Status.CRITICAL
    skipped = CheckResult("performance", "accuracy", "", None, None, Status.SKIPPED, "too few labels")
    assert judge_rule(skipped, rule, 0.9, "reference") is skipped


def test_rule_lookup_precedence() -> None:
    specific, plain = Rule(window=1), Rule(window=2)
    rules = {"drift.psi[amount]": specific, "drift.psi": plain}
    assert find_rule(CheckResult("drift", "psi", "amount", 0.1, None, Status.OK), rules) is specific
    assert find_rule(CheckResult("drift", "psi", "hour", 0.1, None, Status.OK), rules) is plain
    assert find_rule(CheckResult("quality", "psi", "hour", 0.1, None, Status.OK), rules) is None


def test_consecutive_degraded_windows(store: MetricStore) -> None:
    seed(store, {1: 0.5, 2: 0.5}, status=Status.CRITICAL)
    seed(store, {0: 0.9})
    now = perf("accuracy", 0.5, Status.CRITICAL)
    assert consecutive_degraded(now, model="m", window=day(3), store=store, minimum=Status.CRITICAL, count=3)
    assert not consecutive_degraded(now, model="m", window=day(3), store=store, minimum=Status.CRITICAL, count=4)
    assert not consecutive_degraded(
        perf("accuracy", 0.9), model="m", window=day(3), store=store, minimum=Status.WARNING, count=1
    )


def test_monitor_rules_apply_in_check_families(tiny: TinyModel, store: MetricStore) -> None:
    from watchkeeper.checks import load_context, run_family

    cfg = tiny.edit(lambda d: d.update(rules={"service.latency_p50_ms": {"relative_rise": 0.5, "baseline": "rolling"}}))
    base = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
    store.record_results(
        "tiny",
        Window(base.start - timedelta(days=1), base.start),
        [CheckResult("service", "latency_p50_ms", "", 20.0, None, Status.OK)],
        checks={"service"},
    )
    df = make_rows(1000, "2026-10-01", seed=3)
    tiny.write_log(df)
    results = {r.key: r for r in run_family("service", load_context(cfg, base, store))}
    p50 = results[("service", "latency_p50_ms", "")]
    assert p50.details["baseline"] == 20.0 and p50.status is Status.WARNING
    assert "above its rolling mean of the last 1 windows baseline 20" in p50.message


# --- direction: rules know which way a metric gets worse -------------------------------------------------------


def test_relative_worsening_is_a_rise_for_mae_and_a_drop_for_recall() -> None:
    rule = Rule.model_validate({"relative_worsening": {"warning": 0.10, "critical": 0.20}})
    worse_mae = judge_rule(perf("mae", 12.3), rule, 10.0, "reference")
    better_mae = judge_rule(perf("mae", 7.7), rule, 10.0, "reference")  # 23 % better: never a finding
    assert worse_mae.status is Status.CRITICAL and worse_mae.threshold == pytest.approx(12.0)
    assert worse_mae.message == "mae is 12.3: 23% above its reference baseline 10 (critical at 20%)"
    assert better_mae.status is Status.OK
    worse_recall = judge_rule(perf("recall", 0.85), rule, 1.0, "reference")
    better_recall = judge_rule(perf("recall", 0.99), rule, 0.8, "reference")
    assert worse_recall.status is Status.WARNING and worse_recall.threshold == pytest.approx(0.9)
    assert better_recall.status is Status.OK
    # the estimated form of a metric has the metric's direction
    estimated = CheckResult("prediction", "estimated_mae", "", 13.0, None, Status.OK, "", {})
    assert judge_rule(estimated, rule, 10.0, "reference").status is Status.CRITICAL


def test_reported_threshold_is_the_crossed_side() -> None:
    rule = Rule.model_validate({"relative_drop": 0.1, "relative_rise": {"warning": 0.2, "critical": 0.4}})
    judged = judge_rule(perf("positive_rate", 0.15), rule, 0.10, "reference")
    assert judged.status is Status.CRITICAL and judged.threshold == pytest.approx(0.14)
    judged = judge_rule(perf("positive_rate", 0.085), rule, 0.10, "reference")
    assert judged.status is Status.WARNING and judged.threshold == pytest.approx(0.09)
