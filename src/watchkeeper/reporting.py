"""Reporting findings: the task log, a local JSONL alert file, and a readable text summary.

The JSONL file (``<state>/alerts.jsonl``) holds one consolidated line per model and window;
re-running a window replaces its line rather than appending a duplicate. The alerting layer appends
other records to the same file (``{"record": "notification" | "notification_expired" |
"monitor_failed", ...}``, see :mod:`watchkeeper.alerting`); those carry no top-level ``window`` key
and are kept as they are when a window's line is replaced. Writers take a lock file, so concurrent
tasks never lose each other's lines.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from watchkeeper.results import CheckResult, Status, Window, worst
from watchkeeper.settings import state_dir

log = logging.getLogger(__name__)

ALERT_FILE = "alerts.jsonl"
_ICON = {Status.OK: "ok", Status.SKIPPED: "--", Status.WARNING: "WARN", Status.CRITICAL: "CRIT", Status.ERROR: "ERR"}


def alert_file() -> Path:
    """Path of the local JSONL alert file."""
    return state_dir() / ALERT_FILE


def findings_of(results: list[CheckResult]) -> list[CheckResult]:
    """Results worth telling people about, most severe first, then by check and subject."""
    found = [r for r in results if r.status.is_finding]
    return sorted(found, key=lambda r: (-r.status.rank, r.check, r.subject, r.metric))


def alert_record(
    model: str,
    window: Window,
    results: list[CheckResult],
    *,
    run_id: str,
    owner: str = "",
    mentions: list[str] | None = None,
) -> dict[str, Any]:
    """One consolidated alert for a model and window."""
    found = findings_of(results)
    return {
        "model": model,
        "window": window.as_dict(),
        "run_id": run_id,
        "status": str(worst([r.status for r in results])),
        "owner": owner,
        "mentions": mentions or [],
        "findings": [{k: v for k, v in r.as_dict().items() if k != "details"} for r in found],
    }


def write_alert(record: dict[str, Any], path: Path | None = None) -> Path:
    """Write ``record`` to the JSONL file, replacing any earlier line for the same model and window."""
    path = path or alert_file()
    key = (record["model"], record["window"]["start"], record["window"]["end"])
    with locked(path):
        return _replace_line(path, key, record)


def _replace_line(path: Path, key: tuple[Any, Any, Any], record: dict[str, Any]) -> Path:
    lines: list[str] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                old = json.loads(line)
            except json.JSONDecodeError:
                lines.append(line)  # keep what we cannot read: nothing is lost
                continue
            if (old.get("model"), old.get("window", {}).get("start"), old.get("window", {}).get("end")) != key:
                lines.append(line)
    if record["findings"]:
        lines.append(json.dumps(record, sort_keys=True))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".alerts-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{line}\n" for line in lines))
    os.replace(tmp, path)
    return path


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` (POSIX ``flock``; a no-op where it is unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_record(record: dict[str, Any], path: Path | None = None) -> Path:
    """Append one JSON record (one line) to the alert file, under the file lock."""
    path = path or alert_file()
    line = json.dumps(record, sort_keys=True, default=str)
    with locked(path), open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    return path


def read_alerts(path: Path | None = None) -> list[dict[str, Any]]:
    """Every alert record of the JSONL file."""
    path = path or alert_file()
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def log_findings(model: str, window: Window, results: list[CheckResult]) -> None:
    """One log line per finding, with model and window as context."""
    found = findings_of(results)
    if not found:
        log.info(
            "model=%s window=%s..%s: healthy, no findings", model, window.start.isoformat(), window.end.isoformat()
        )
    for r in found:
        log.warning(
            "model=%s window=%s..%s %s %s.%s[%s]: %s",
            model,
            window.start.isoformat(),
            window.end.isoformat(),
            r.status.upper(),
            r.check,
            r.metric,
            r.subject,
            r.message,
        )


def render_text(model: str, window: Window, results: list[CheckResult], *, n_rows: int | None = None) -> str:
    """A readable summary of one window for terminals and the demo."""
    found = findings_of(results)
    status = worst([r.status for r in results])
    head = f"{model}  {window.start:%Y-%m-%d %H:%M} .. {window.end:%Y-%m-%d %H:%M} UTC  status: {status.upper()}"
    lines = [head, "-" * len(head)]
    if n_rows is not None:
        lines.append(f"rows in window: {n_rows}; checks run: {len(results)}; findings: {len(found)}")
    if not found:
        lines.append("  no findings: inputs, predictions and service look like the reference")
    for r in found:
        subject = f"[{r.subject}]" if r.subject else ""
        lines.append(f"  {_ICON[r.status]:<4} {r.check}.{r.metric}{subject}: {r.message}")
    return "\n".join(lines)
