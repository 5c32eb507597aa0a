"""A trend finding is a test statistic in noise units: notifications never compare it with the metric's level."""

from __future__ import annotations

from watchkeeper.alerting.notice import describe
from watchkeeper.performance.trend import Point, trend_result


def test_trend_finding_has_no_baseline_or_change_in_its_notification() -> None:
    reference = {"mean": 0.9, "std": 0.01, "n": 1000.0, "chunks": 12}
    history = [Point(0.9, 1000.0)] * 3 + [Point(v, 1000.0) for v in (0.86, 0.84, 0.82, 0.80)]
    result = trend_result("accuracy", history, higher_is_better=True, reference=reference, standardise_from="reference")
    assert result.status == "warning"
    assert result.details["level_mean"] == 0.9  # the metric's reference level stays in the details
    numbers = describe(result)
    assert numbers["value"] == result.value
    assert numbers["baseline"] is None
    assert numbers["change"] is None
