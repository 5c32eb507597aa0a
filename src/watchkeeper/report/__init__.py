"""HTML reports: the per-run report (:func:`render_report`), inline SVG charts and page helpers."""

from __future__ import annotations

from watchkeeper.report.run_report import render_report, write_report

__all__ = ["render_report", "write_report"]
