"""Which files of a path hold a window: partition spans read from path templates or hive-style names.

A folder's or file's *span* is the time range its partition covers -- a day for ``date=2026-10-05``, an
hour below it for ``hour=03``, a month for ``year=2026/month=10``, a day for ``2026/10/05`` under the
template ``{yyyy}/{mm}/{dd}``. Partition values are wall-clock times in the partition time zone. The
listing walks the path one folder level at a time and never enters a folder (nor opens a file) whose
span misses the window; an entry whose name tells no complete span is kept (its rows decide).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from watchkeeper.catalogs.sources import HIVE_TIME_KEYS, PLACEHOLDER_RE, PLACEHOLDERS
from watchkeeper.config import CsvSource, ParquetSource
from watchkeeper.exceptions import SourceError
from watchkeeper.results import Window

FileSource = CsvSource | ParquetSource
Fields = dict[str, int]
_HIVE_RE = re.compile(r"^([A-Za-z_]+)=(.+)$")
_DATE_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_MAGIC_RE = re.compile(r"[*?[]")
_FIELD_OF = {"yyyy": "year", "mm": "month", "dd": "day", "hh": "hour"}


@dataclass(frozen=True)
class Span:
    """The half-open UTC time range ``[start, end)`` one partition covers."""

    start: datetime
    end: datetime

    def meets(self, window: Window) -> bool:
        """Whether the span overlaps the window."""
        return self.start < window.end and self.end > window.start


def list_files(source: FileSource, base: Path) -> list[str]:
    """Every file the source's path matches (placeholders match anything of their shape), in path order."""
    return _walk(source, base, None, "UTC")


def files_in_window(source: FileSource, base: Path, window: Window | None, timezone: str) -> list[str]:
    """The files that may hold rows of ``window``, in path order (every file when no window is given)."""
    if source.partitioning == "none":
        window = None
    return _walk(source, base, window, source.partition_timezone or timezone)


def _walk(source: FileSource, base: Path, window: Window | None, timezone: str) -> list[str]:
    pattern = source.resolved_path(base)
    parts = Path(pattern).parts
    first = next((i for i, part in enumerate(parts) if _varies(part)), len(parts))
    if first == len(parts):
        files = [pattern] if Path(pattern).is_file() else []
    else:
        walker = _Walker([_Level(part) for part in parts[first:]], window, ZoneInfo(timezone))
        walker.descend(str(Path(*parts[:first])), 0, {})
        files = walker.found
        if walker.pruned:
            return files  # files exist; none of them meets the window
    if not files:
        raise SourceError(
            f"no {source.kind} file matches {pattern!r} -- check the path in the config "
            f"(relative paths are relative to {base})"
        )
    return files


def _varies(part: str) -> bool:
    return bool(_MAGIC_RE.search(part) or PLACEHOLDER_RE.search(part))


class _Level:
    """One component of the path: its regex (glob and placeholders) and how it names time."""

    def __init__(self, part: str) -> None:
        self.regex = template_regex(part)
        self.templated = bool(PLACEHOLDER_RE.search(part))
        self.hidden = part.startswith(".")

    def fields(self, match: re.Match[str], name: str, last: bool) -> Fields:
        if self.templated:
            return _template_fields(match)
        return _hive_fields(name.split(".", 1)[0] if last else name)


@dataclass
class _Walker:
    """Lists a path level by level, never entering a folder whose partition misses the window."""

    levels: list[_Level]
    window: Window | None
    zone: ZoneInfo
    found: list[str] = field(default_factory=list)
    pruned: int = 0
    """Entries skipped because their partition misses the window."""

    def descend(self, folder: str, depth: int, fields: Fields) -> None:
        level, last = self.levels[depth], depth == len(self.levels) - 1
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") and not level.hidden:
                continue  # like glob: temporary and hidden files stay out
            match = level.regex.fullmatch(entry.name)
            if match is None or not (entry.is_file() if last else entry.is_dir()):
                continue
            known = _merge(fields, level.fields(match, entry.name, last))
            if self.window is not None:
                span = _span(known, self.zone)
                if span is not None and not span.meets(self.window):
                    self.pruned += 1
                    continue  # neither this entry nor anything below it can hold rows of the window
            if last:
                self.found.append(entry.path)
            else:
                self.descend(entry.path, depth + 1, known)


def template_regex(part: str) -> re.Pattern[str]:
    """A regex matching one path component of a template: glob syntax plus one named group per placeholder."""
    out, pos = [], 0
    for match in PLACEHOLDER_RE.finditer(part):
        out.append(_glob_regex(part[pos : match.start()]))
        out.append(f"(?P<{match.group(1)}>{PLACEHOLDERS[match.group(1)]})")
        pos = match.end()
    out.append(_glob_regex(part[pos:]))
    return re.compile("".join(out), re.DOTALL)


def _glob_regex(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[" and (close := text.find("]", i + 2)) != -1:
            body = text[i + 1 : close]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _template_fields(match: re.Match[str]) -> Fields:
    fields: Fields = {}
    for key, value in match.groupdict().items():
        if key == "date":
            parts = _DATE_RE.match(value)
            if parts is not None:
                fields.update(year=int(parts[1]), month=int(parts[2]), day=int(parts[3]))
        else:
            fields[_FIELD_OF[key]] = int(value)
    return fields


def _hive_fields(name: str) -> Fields:
    """Time fields of one ``key=value`` name; nothing when the key is not a time key or the value not a time."""
    match = _HIVE_RE.match(name)
    if match is None or match[1].lower() not in HIVE_TIME_KEYS:
        return {}
    key, value = match[1].lower(), match[2]
    date = _DATE_RE.match(value)
    if key in {"date", "dt", "ds"} or (key == "day" and date):
        return {"year": int(date[1]), "month": int(date[2]), "day": int(date[3])} if date else {}
    return {key: int(value)} if value.isdigit() else {}


def _merge(known: Fields, found: Fields) -> Fields:
    """Fields of a deeper level added to those above; a value that contradicts a folder above is ignored."""
    return {**found, **known} if found else known


def _span(fields: Fields, zone: ZoneInfo) -> Span | None:
    """The UTC span of a partition from its wall-clock fields; None when incomplete or invalid."""
    if "year" not in fields:
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
    except ValueError:  # month 13, day 32...: not a partition we understand, so read it
        return None
    # fold=0 for the start and fold=1 for the end: an ambiguous (DST) hour widens the span, never narrows it
    return Span(start.replace(tzinfo=zone, fold=0).astimezone(UTC), end.replace(tzinfo=zone, fold=1).astimezone(UTC))
