"""Dependency-free inline SVG charts: sparkline, line chart over time, reference-vs-current bars.

Every function returns one ``<svg>`` element as a string, safe to embed in HTML: all text is escaped
and numbers are formatted by Python. Missing values (None, NaN, inf) are gaps, never zeros.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape

#: Palette (colour-blind friendly: blue reference, orange current).
REFERENCE_COLOUR = "#4c78a8"
CURRENT_COLOUR = "#f58518"
LINE_COLOUR = "#4c78a8"
BASELINE_COLOUR = "#54a24b"
BAND_COLOUR = "#e45756"
STATUS_COLOURS = {
    "ok": "#54a24b",
    "skipped": "#9d9d9d",
    "warning": "#f2a900",
    "critical": "#e45756",
    "error": "#8b0000",
}


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def fmt(value: float | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; an em dash for a missing value."""
    number = _finite(value)
    if number is None:
        return "\u2014"
    if number != 0 and (abs(number) >= 1e6 or abs(number) < 1e-3):
        return f"{number:.{digits}e}"
    return f"{number:.{digits}g}"


def _scale(lo: float, hi: float, out_lo: float, out_hi: float) -> tuple[float, float]:
    """(slope, intercept) mapping [lo, hi] onto [out_lo, out_hi]; a flat range maps to the middle."""
    if hi - lo <= 0:
        return 0.0, (out_lo + out_hi) / 2
    slope = (out_hi - out_lo) / (hi - lo)
    return slope, out_lo - slope * lo


def _svg_open(width: int, height: int, label: str, css_class: str) -> str:
    return (
        f'<svg class="{css_class}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
    )


def _polylines(xy: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Split points at gaps (None y) into runs of consecutive points."""
    runs: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for x, y in xy:
        if y is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((x, y))
    if current:
        runs.append(current)
    return runs


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def sparkline(
    values: Sequence[float | None], *, width: int = 120, height: int = 28, label: str = "trend", status: str = ""
) -> str:
    """A tiny line of ``values`` (oldest first), the last point marked; gaps for missing values."""
    clean = [_finite(v) for v in values]
    known = [v for v in clean if v is not None]
    out = [_svg_open(width, height, label, "spark")]
    if not known:
        out.append(f'<text x="2" y="{height / 2 + 4:.0f}" font-size="10" fill="#888">no data</text></svg>')
        return "".join(out)
    pad = 3.0
    sx, bx = _scale(0, max(len(clean) - 1, 1), pad, width - pad)
    sy, by = _scale(min(known), max(known), height - pad, pad)
    xy = [(sx * i + bx, None if v is None else sy * v + by) for i, v in enumerate(clean)]
    for run in _polylines(xy):
        if len(run) == 1:
            out.append(f'<circle cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="1.5" fill="{LINE_COLOUR}"/>')
        else:
            out.append(f'<polyline fill="none" stroke="{LINE_COLOUR}" stroke-width="1.5" points="{_path(run)}"/>')
    last = next(((x, y) for x, y in reversed(xy) if y is not None), None)
    if last is not None:
        colour = STATUS_COLOURS.get(status, LINE_COLOUR)
        out.append(f'<circle cx="{last[0]:.1f}" cy="{last[1]:.1f}" r="2.5" fill="{colour}"/>')
    out.append("</svg>")
    return "".join(out)


def line_chart(
    points: Sequence[tuple[datetime, float | None]],
    *,
    title: str,
    baseline: float | None = None,
    band: tuple[float | None, float | None] | None = None,
    statuses: Sequence[str] | None = None,
    width: int = 560,
    height: int = 200,
) -> str:
    """A line over time, with an optional baseline line and a shaded threshold band.

    ``band`` is ``(low, high)``: the value range that is a finding (None means the chart's edge), e.g.
    ``(None, 0.54)`` shades everything below a recall threshold of 0.54. ``statuses`` (one per point)
    colour the points.
    """
    out = [_svg_open(width, height, title, "chart")]
    values = [_finite(v) for _, v in points]
    known = [v for v in values if v is not None]
    left, right, top, bottom = 56.0, 12.0, 22.0, 28.0
    out.append(f'<text x="{left:.0f}" y="14" font-size="12" font-weight="600">{escape(title)}</text>')
    if not known:
        out.append(f'<text x="{left:.0f}" y="{height / 2:.0f}" font-size="12" fill="#888">no data yet</text></svg>')
        return "".join(out)
    extra = [v for v in (_finite(baseline), *(band or ())) if v is not None]
    lo, hi = min(known + extra), max(known + extra)
    if hi == lo:
        lo, hi = lo - (abs(lo) * 0.1 or 1.0), hi + (abs(hi) * 0.1 or 1.0)
    margin = (hi - lo) * 0.08
    lo, hi = lo - margin, hi + margin
    times = [t.timestamp() for t, _ in points]
    sx, bx = _scale(min(times), max(times), left, width - right)
    sy, by = _scale(lo, hi, height - bottom, top)

    def y_of(v: float) -> float:
        return sy * v + by

    # axes and grid: three horizontal lines with their values
    for frac in (0.0, 0.5, 1.0):
        v = lo + (hi - lo) * frac
        y = y_of(v)
        out.append(f'<line x1="{left:.0f}" x2="{width - right:.0f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 4:.0f}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{fmt(v)}</text>')
    if band is not None:
        b_lo = lo if band[0] is None else max(lo, float(band[0]))
        b_hi = hi if band[1] is None else min(hi, float(band[1]))
        if b_hi > b_lo:
            y1, y2 = y_of(b_hi), y_of(b_lo)
            out.append(
                f'<rect class="band" x="{left:.0f}" y="{y1:.1f}" width="{width - right - left:.0f}" '
                f'height="{y2 - y1:.1f}" fill="{BAND_COLOUR}" fill-opacity="0.12"/>'
            )
    base = _finite(baseline)
    if base is not None:
        y = y_of(base)
        out.append(
            f'<line class="baseline" x1="{left:.0f}" x2="{width - right:.0f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{BASELINE_COLOUR}" stroke-dasharray="5,3"/>'
            f'<text x="{width - right:.0f}" y="{y - 3:.1f}" font-size="10" text-anchor="end" '
            f'fill="{BASELINE_COLOUR}">baseline {fmt(baseline)}</text>'
        )
    xy = [(sx * t + bx, None if v is None else y_of(v)) for t, v in zip(times, values, strict=True)]
    for run in _polylines(xy):
        if len(run) > 1:
            out.append(f'<polyline fill="none" stroke="{LINE_COLOUR}" stroke-width="1.5" points="{_path(run)}"/>')
    if len(points) <= 120 or statuses is not None:
        for i, (px, py) in enumerate(xy):
            if py is None:
                continue
            status = statuses[i] if statuses is not None and i < len(statuses) else ""
            if statuses is not None and status in {"ok", ""} and len(points) > 120:
                continue  # long series: mark only the findings
            colour = STATUS_COLOURS.get(status, LINE_COLOUR)
            tip = f"{points[i][0]:%Y-%m-%d %H:%M}: {fmt(values[i])}" + (f" ({status})" if status else "")
            out.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"><title>{escape(tip)}</title></circle>'
            )
    first, last = points[0][0], points[-1][0]
    out.append(
        f'<text x="{left:.0f}" y="{height - 8:.0f}" font-size="10">{first:%Y-%m-%d}</text>'
        f'<text x="{width - right:.0f}" y="{height - 8:.0f}" font-size="10" text-anchor="end">{last:%Y-%m-%d}</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _shares(counts: Sequence[float]) -> list[float]:
    total = float(sum(counts))
    return [float(c) / total if total > 0 else 0.0 for c in counts]


def bar_chart(
    labels: Sequence[str],
    reference: Sequence[float],
    current: Sequence[float] | None = None,
    *,
    title: str,
    width: int = 560,
    height: int = 190,
) -> str:
    """Reference-vs-current distribution: per bin (or category) the share of rows, side by side.

    Counts are normalised to shares, so a reference of 100,000 rows compares with a window of 2,000.
    Without ``current`` only the reference bars are drawn (and the legend says so).
    """
    ref = _shares(reference)
    cur = _shares(current) if current is not None else None
    out = [_svg_open(width, height, title, "chart dist")]
    left, right, top, bottom = 44.0, 8.0, 34.0, 36.0
    out.append(f'<text x="{left:.0f}" y="14" font-size="12" font-weight="600">{escape(title)}</text>')
    legend = [(REFERENCE_COLOUR, "reference")] + ([(CURRENT_COLOUR, "current")] if cur is not None else [])
    x = left
    for colour, name in legend:
        out.append(f'<rect x="{x:.0f}" y="20" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14:.0f}" y="29" font-size="10">{name}</text>')
        x += 80
    if cur is None:
        out.append(f'<text x="{x:.0f}" y="29" font-size="10" fill="#888">(current distribution not available)</text>')
    n = len(ref)
    if n == 0:
        out.append(f'<text x="{left:.0f}" y="{height / 2:.0f}" font-size="12" fill="#888">no bins</text></svg>')
        return "".join(out)
    peak = max([*ref, *(cur or []), 1e-9])
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / n
    bar_w = max(slot * (0.4 if cur is not None else 0.8), 1.0)
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        out.append(f'<line x1="{left:.0f}" x2="{width - right:.0f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(
            f'<text x="{left - 4:.0f}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{peak * frac:.0%}</text>'
        )
    label_every = max(1, math.ceil(n / max(plot_w / 60, 1)))
    for i, label in enumerate(labels):
        x0 = left + slot * i + (slot - bar_w * (2 if cur is not None else 1)) / 2
        for j, (series, colour) in enumerate(((ref, REFERENCE_COLOUR), (cur, CURRENT_COLOUR))):
            if series is None:
                continue
            h = plot_h * series[i] / peak
            tip = f"{label}: {'reference' if j == 0 else 'current'} {series[i]:.1%}"
            out.append(
                f'<rect x="{x0 + bar_w * j:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(tip)}</title></rect>'
            )
        if i % label_every == 0:
            short = label if len(label) <= 12 else label[:11] + "\u2026"
            out.append(
                f'<text x="{left + slot * (i + 0.5):.1f}" y="{height - bottom + 14:.0f}" font-size="9" '
                f'text-anchor="middle">{escape(short)}</text>'
            )
    out.append("</svg>")
    return "".join(out)
