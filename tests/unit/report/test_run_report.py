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


def test_report_draws_current_distributions_from_the_stored_profile(tiny, seeded: Seeded) -> None:  # type: ignore[no-untyped-def]
    """The run stores the window's profile; the report draws from it with the raw log deleted."""
    from watchkeeper.checks import run_checks
    from watchkeeper.results import Window

    config = tiny.config()
    window = Window.parse("2026-10-01", "2026-10-02")
    report = run_checks(config, window, seeded.store)
    seeded.store.save_window_profile("tiny", window, report.profile)
    seeded.store.record_window(
        "tiny", window, report.results, run_id="r", source="cli", n_rows=report.n_rows, summary=report.summary()
    )
    for path in (tiny.root / "log").glob("*.parquet"):
        path.unlink()  # raw data gone: nothing may read it
    html = render_report(config, "tiny", window, seeded.store)
    for feature in ("amount", "country"):
        figure = html.split(f'data-feature="{feature}"')[1].split("</figure>")[0]
        assert "no stored window profile" not in figure and "<svg" in figure
    assert 'id="profile"' in html and "1000" in html.split('id="profile"')[1]
    seeded.store.save_window_profile("tiny", window, {"version": 1, "rows": 0})  # a profile without counts
    bare = render_report(config, "tiny", window, seeded.store)
    assert "no stored window profile" in bare


def test_distribution_chart_without_profile() -> None:
    assert "no reference profile" in distribution_chart("x", None, None)
