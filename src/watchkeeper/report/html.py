"""Small HTML helpers: every value is escaped with :func:`html.escape` unless it is :class:`Safe`.

Pages are self-contained: inline CSS, inline SVG, no script, no external URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape

from watchkeeper.report.charts import STATUS_COLOURS, fmt


class Safe(str):
    """HTML that is already escaped (built by these helpers or the chart functions)."""

    __slots__ = ()


def esc(value: object) -> Safe:
    """``value`` as HTML text: Safe stays as is, None becomes an em dash, numbers are formatted."""
    if isinstance(value, Safe):
        return value
    if value is None:
        return Safe("\u2014")
    if isinstance(value, bool):
        return Safe(escape(str(value)))
    if isinstance(value, float):
        return Safe(escape(fmt(value)))
    if isinstance(value, datetime):
        return Safe(escape(fmt_dt(value)))
    return Safe(escape(str(value)))


def join(parts: Iterable[str]) -> Safe:
    """Concatenate fragments (each escaped unless Safe)."""
    return Safe("".join(esc(p) for p in parts))


def fmt_dt(value: datetime | None) -> str:
    """A UTC datetime as ``2026-10-28 00:00``; whole days as ``2026-10-28``."""
    if value is None:
        return "\u2014"
    if value.hour == value.minute == value.second == 0:
        return f"{value:%Y-%m-%d}"
    return f"{value:%Y-%m-%d %H:%M}"


def window_text(start: datetime, end: datetime) -> str:
    """``2026-10-28 .. 2026-10-29`` (UTC)."""
    return f"{fmt_dt(start)} \u2192 {fmt_dt(end)} UTC"


def badge(status: object) -> Safe:
    """A coloured status label."""
    text = str(status or "none")
    colour = STATUS_COLOURS.get(text, "#9d9d9d")
    return Safe(f'<span class="badge" style="background:{colour}">{escape(text)}</span>')


def link(href: str, text: object) -> Safe:
    """An ``<a>`` element (``href`` is escaped as an attribute)."""
    return Safe(f'<a href="{escape(href, quote=True)}">{esc(text)}</a>')


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, css_class: str = "") -> Safe:
    """A table; cells are escaped unless Safe."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    cls = f' class="{escape(css_class, quote=True)}"' if css_class else ""
    return Safe(f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def section(title: str, body: str, *, anchor: str = "") -> Safe:
    """A titled section."""
    ident = f' id="{escape(anchor, quote=True)}"' if anchor else ""
    return Safe(f"<section{ident}><h2>{esc(title)}</h2>{esc(body)}</section>")


def empty(text: str) -> Safe:
    """An empty-state paragraph."""
    return Safe(f'<p class="empty">{escape(text)}</p>')


def para(text: object, *, css_class: str = "") -> Safe:
    """A paragraph."""
    cls = f' class="{escape(css_class, quote=True)}"' if css_class else ""
    return Safe(f"<p{cls}>{esc(text)}</p>")


CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;
color:#1f2328;background:#f6f8fa;font-size:14px}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
header.top{background:#fff;border-bottom:1px solid #d0d7de;padding:12px 24px}
header.top h1{margin:0;font-size:20px}
nav a{margin-right:12px}
h2{font-size:16px;margin:0 0 10px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:14px 16px;margin:14px 0}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border-bottom:1px solid #eaeef2;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{color:#fff;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;white-space:nowrap}
.empty{color:#656d76;font-style:italic}
.muted{color:#656d76}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.grid figure{margin:0;background:#fff;border:1px solid #eaeef2;border-radius:4px;padding:6px}
figcaption{font-size:12px;color:#656d76;max-width:560px}
svg text{font-family:inherit;fill:#1f2328}
a{color:#0969da;text-decoration:none}
a:hover{text-decoration:underline}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:4px 16px;margin:0}
dl.meta dt{color:#656d76}
dl.meta dd{margin:0}
"""


def page(title: str, body: str, *, nav: Sequence[tuple[str, str]] = (), subtitle: str = "") -> str:
    """A complete HTML document with the inline stylesheet."""
    links = "".join(link(href, text) for href, text in nav)
    sub = f'<div class="muted">{esc(subtitle)}</div>' if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><nav>{links}</nav><h1>{esc(title)}</h1>{sub}</header>'
        f"<main>{esc(body)}</main></body></html>\n"
    )
