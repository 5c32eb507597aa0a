"""The per-run HTML report: sections, empty states, self-containment and escaping."""

from __future__ import annotations

import re
from pathlib import Path

from health_seed import EVIL, Seeded, day
from watchkeeper.report import render_report, write_report
from watchkeeper.report.run_report import distribution_chart

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def test_report_with_findings(seeded: Seeded) -> None:
    html = render_report(None, "fraud", day(5), seeded.store)
    assert "Findings (1)" in html
    assert "critical" in html
    assert 'data-feature="amount"' in html  # drifted feature charted, current bars from the details
    assert "(current distribution not available)" not in html.split('data-feature="amount"')[1].split("</figure>")[0]
    assert "amount drifted" in html  # the window's alert
    assert "no labels yet for this window" in html  # labels only for the first windows
    assert "scheduled__5" in html


def test_healthy_report(seeded: Seeded) -> None:
    html = render_report(None, "healthy", day(0), seeded.store)
    assert "no findings" in html
    assert "no alerts for this window" in html


def test_report_with_labels(seeded: Seeded) -> None:
    html = render_report(None, "fraud", day(1), seeded.store)
    assert "merchant=digital" in html  # segment table
    assert "0.6" in html  # recall baseline
    assert "no retraining triggered" in html


def test_report_of_model_without_labels(seeded: Seeded) -> None:
    html = render_report(None, "healthy", None, seeded.store)
    assert "no labels yet for this window" in html
    assert "2026-10-03" in html  # latest window by default


def test_report_of_model_without_runs(seeded: Seeded) -> None:
    html = render_report(None, "newbie", None, seeded.store)
    assert "no runs recorded yet" in html
    assert html.startswith("<!DOCTYPE html>")


def test_report_is_self_contained(seeded: Seeded) -> None:
    for model, window in (("fraud", day(5)), ("fraud", day(1)), ("healthy", None), ("newbie", None)):
        html = render_report(None, model, window, seeded.store)
        assert not EXTERNAL.search(html), model
        assert "<script" not in html.lower()
        assert "<link" not in html.lower()
        assert "<style>" in html


def test_report_escapes_malicious_subjects(seeded: Seeded) -> None:
    html = render_report(None, "fraud", day(5), seeded.store)
    assert EVIL not in html
    assert "&lt;script&gt;" in html


def test_retraining_trigger_listed(seeded: Seeded) -> None:
    html = render_report(None, "fraud", day(3), seeded.store)
    assert "retrain__fraud" in html
    assert "recall below threshold" in html
    assert not EXTERNAL.search(html)  # the Airflow run URL is text, not a link


def test_write_report(seeded: Seeded, tmp_path: Path) -> None:
    path = write_report(None, "fraud", day(5), seeded.store, tmp_path / "out" / "report.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_recomputes_current_distributions(tiny, seeded: Seeded) -> None:  # type: ignore[no-untyped-def]
    """With a config, a drift result without stored counts gets its current bars from the window's data."""
    from watchkeeper.results import CheckResult, Status, Window

    config = tiny.config()
    window = Window.parse("2026-10-01", "2026-10-02")
    seeded.store.save_baseline(
        "tiny",
        "h",
        {
            "features": {
                "amount": {"kind": "numerical", "edges": [10.0, 20.0, 40.0], "counts": [1, 1, 1, 1]},
                "country": {"kind": "categorical", "counts": {"FR": 4, "DE": 3}},
            }
        },
    )
    results = [
        CheckResult("drift", "psi", "amount", 0.5, 0.1, Status.CRITICAL, "amount drifted", {"method": "psi"}),
        CheckResult("drift", "psi", "country", 0.4, 0.1, Status.WARNING, "country drifted", {"method": "psi"}),
    ]
    seeded.store.record_window("tiny", window, results, run_id="r", source="cli", n_rows=1000, summary={})
    html = render_report(config, "tiny", window, seeded.store)
    for feature in ("amount", "country"):
        figure = html.split(f'data-feature="{feature}"')[1].split("</figure>")[0]
        assert "(current distribution not available)" not in figure
        assert "US" in figure or feature == "amount"
    bare = render_report(None, "tiny", window, seeded.store)
    assert "(current distribution not available)" in bare


def test_distribution_chart_without_profile() -> None:
    assert "no reference profile" in distribution_chart("x", None, None)
