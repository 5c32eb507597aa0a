"""Which files of a glob hold a window: partition spans read from path templates or hive-style names.

A file's *span* is the time range its partition covers -- an hour for ``date=2026-10-05/hour=03``, a day
for ``2026/10/05/`` under the template ``{yyyy}/{mm}/{dd}/``, a month for ``year=2026/month=10``. Partition
values are wall-clock times in the partition time zone. A file whose span does not meet the window is
never opened; a file whose path tells no complete span is always read (its rows decide).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from watchkeeper.catalogs.sources import HIVE_TIME_KEYS, PLACEHOLDER_RE, PLACEHOLDERS
from watchkeeper.config import CsvSource, ParquetSource
from watchkeeper.exceptions import SourceError
from watchkeeper.results import Window

FileSource = CsvSource | ParquetSource
_HIVE_RE = re.compile(r"^([A-Za-z_]+)=(.+)$")
_DATE_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_FIELD_OF = {"yyyy": "year", "mm": "month", "dd": "day", "hh": "hour"}


@dataclass(frozen=True)
class Span:
    """The half-open UTC time range ``[start, end)`` one partition covers."""

    start: datetime
    end: datetime

    def meets(self, window: Window) -> bool:
        """Whether the span overlaps the window."""
        return self.start < window.end and self.end > window.start


def glob_of(pattern: str) -> str:
    """The glob that lists every file of a (possibly templated) path: placeholders become ``*``."""
    return PLACEHOLDER_RE.sub("*", pattern)


def list_files(source: FileSource, base: Path) -> list[str]:
    """Every file the source's path matches (placeholders match anything of their shape), sorted by name."""
    pattern = source.resolved_path(base)
    listing = glob_of(pattern)
    if glob.has_magic(listing):
        files = sorted(glob.glob(listing))
        if listing != pattern:
            regex = template_regex(pattern)
            files = [f for f in files if regex.fullmatch(f)]
    else:
        files = [listing] if Path(listing).exists() else []
    if not files:
        raise SourceError(
            f"no {source.kind} file matches {pattern!r} -- check the path in the config "
            f"(relative paths are relative to {base})"
        )
    return files


def files_in_window(source: FileSource, base: Path, window: Window | None, timezone: str) -> list[str]:
    """The files that may hold rows of ``window``, oldest partition first (every file when no window)."""
    files = list_files(source, base)
    if window is None or source.partitioning == "none":
        return files
    spans = spans_of(source, base, files, ZoneInfo(source.partition_timezone or timezone))
    kept = [(span, name) for span, name in zip(spans, files, strict=True) if span is None or span.meets(window)]
    kept.sort(key=lambda pair: (pair[0].start if pair[0] else datetime.min.replace(tzinfo=UTC), pair[1]))
    return [name for _, name in kept]


def spans_of(source: FileSource, base: Path, files: list[str], zone: ZoneInfo) -> list[Span | None]:
    """The partition span of each file (None where the path does not tell one)."""
    pattern = source.resolved_path(base)
    if PLACEHOLDER_RE.search(pattern):
        regex = template_regex(pattern)
        return [_span(_template_fields(regex, name), zone) for name in files]
    listing = Path(pattern).parts
    varying = next((i for i, part in enumerate(listing) if glob.has_magic(part)), len(listing))
    return [_span(_hive_fields(Path(name).parts[varying:]), zone) for name in files]


def template_regex(pattern: str) -> re.Pattern[str]:
    """A regex matching the paths of a template, with one named group per placeholder."""
    out, pos = [], 0
    for match in PLACEHOLDER_RE.finditer(pattern):
        out.append(_glob_regex(pattern[pos : match.start()]))
        out.append(f"(?P<{match.group(1)}>{PLACEHOLDERS[match.group(1)]})")
        pos = match.end()
    out.append(_glob_regex(pattern[pos:]))
    return re.compile("".join(out))


def _glob_regex(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (close := text.find("]", i + 2)) != -1:
            body = text[i + 1 : close]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _template_fields(regex: re.Pattern[str], name: str) -> dict[str, int] | None:
    match = regex.fullmatch(name)
    if match is None:
        return None
    fields: dict[str, int] = {}
    for key, value in match.groupdict().items():
        if key == "date":
            parts = _DATE_RE.match(value)
            if parts is None:
                return None
            fields.update(year=int(parts[1]), month=int(parts[2]), day=int(parts[3]))
        else:
            fields[_FIELD_OF[key]] = int(value)
    return fields


def _hive_fields(parts: tuple[str, ...]) -> dict[str, int] | None:
    """Time fields from ``key=value`` folder names (and the file name without its extensions)."""
    fields: dict[str, int] = {}
    for index, part in enumerate(parts):
        text = part.split(".", 1)[0] if index == len(parts) - 1 else part
        match = _HIVE_RE.match(text)
        if match is None or match[1].lower() not in HIVE_TIME_KEYS:
            continue
        found = _hive_value(match[1].lower(), match[2])
        if found is None:
            return None
        for key, value in found.items():
            if fields.setdefault(key, value) != value:
                return None  # two folders disagree: read the file
    return fields or None


def _hive_value(key: str, value: str) -> dict[str, int] | None:
    date = _DATE_RE.match(value)
    if key in {"date", "dt", "ds"} or (key == "day" and date):
        return {"year": int(date[1]), "month": int(date[2]), "day": int(date[3])} if date else None
    return {key: int(value)} if value.isdigit() else None


def _span(fields: dict[str, int] | None, zone: ZoneInfo) -> Span | None:
    """The UTC span of a partition from its wall-clock fields; None when incomplete or invalid."""
    if not fields or "year" not in fields:
        return None
    year = fields["year"]
    month, day, hour = (fields.get(k) for k in ("month", "day", "hour"))
    try:
        if month is None:
            if day is not None or hour is not None:
                return None
            start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
        elif day is None:
            if hour is not None:
                return None
            start = datetime(year, month, 1)
            end = datetime(year + month // 12, month % 12 + 1, 1)
        else:
            start = datetime(year, month, day, hour or 0)
            end = start + (timedelta(days=1) if hour is None else timedelta(hours=1))
    except ValueError:  # month 13, day 32...: not a partition we understand, so read the file
        return None
    # fold=0 for the start and fold=1 for the end: an ambiguous (DST) hour widens the span, never narrows it
    return Span(start.replace(tzinfo=zone, fold=0).astimezone(UTC), end.replace(tzinfo=zone, fold=1).astimezone(UTC))
