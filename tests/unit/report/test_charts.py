"""Inline SVG charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watchkeeper.report import charts


def test_sparkline_has_gaps_and_handles_empty() -> None:
    svg = charts.sparkline([1.0, None, 2.0, 3.0, float("nan")], status="critical")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 1  # 1.0 alone, then 2.0-3.0
    assert charts.STATUS_COLOURS["critical"] in svg
    assert "no data" in charts.sparkline([None, None])


def test_line_chart_with_baseline_and_band() -> None:
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    points = [(t0 + timedelta(days=i), 0.6 - 0.05 * i) for i in range(5)]
    svg = charts.line_chart(
        points, title="recall <x>", baseline=0.6, band=(None, 0.54), statuses=["ok"] * 4 + ["warning"]
    )
    assert 'class="baseline"' in svg and 'class="band"' in svg
    assert "recall &lt;x&gt;" in svg and "<x>" not in svg
    assert "2026-10-01" in svg and "2026-10-05" in svg
    assert "no data yet" in charts.line_chart([(t0, None)], title="t")


def test_line_chart_single_point_and_flat_series() -> None:
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    assert "<circle" in charts.line_chart([(t0, 1.0)], title="one")
    assert "<polyline" in charts.line_chart([(t0, 1.0), (t0 + timedelta(days=1), 1.0)], title="flat")


def test_bar_chart_normalises_counts_and_escapes_labels() -> None:
    svg = charts.bar_chart(["<a>", "b"], [100, 300], [1, 1], title="dist")
    assert svg.count("<rect") == 4 + 2  # 4 bars + 2 legend squares
    assert "&lt;a&gt;" in svg and "<a>" not in svg
    assert "reference 25.0%" in svg and "current 50.0%" in svg
    only_ref = charts.bar_chart(["a"], [1], None, title="ref")
    assert "current distribution not available" in only_ref


def test_fmt() -> None:
    assert charts.fmt(None) == "\u2014"
    assert charts.fmt(float("inf")) == "\u2014"
    assert charts.fmt(0.123456) == "0.123"
    assert charts.fmt(1234567.0) == "1.235e+06"
