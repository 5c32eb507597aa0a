"""Helpers of the alerting tests: windows, dispatch times, results, a model config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from watchkeeper.config import LoadedConfig, parse_config
from watchkeeper.results import CheckResult, Status, Window

DAY = timedelta(days=1)
W1 = Window(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC))
#: Dispatch time of W1's run (the run happens right after the window closes).
T1 = W1.end + timedelta(minutes=5)


def window(day: int) -> Window:
    """The n-th daily window after W1 (0 is W1)."""
    return Window(W1.start + day * DAY, W1.end + day * DAY)


def at(day: int) -> datetime:
    """Dispatch time of the run of ``window(day)``."""
    return T1 + day * DAY


def result(
    check: str, metric: str, subject: str = "", value: float | None = 1.0, status: Status = Status.CRITICAL, **kw: Any
) -> CheckResult:
    """A result with a threshold and a readable message."""
    threshold = kw.pop("threshold", 0.5)
    message = kw.pop("message", f"{subject or check}: {metric} {value} vs {threshold} ({status})")
    return CheckResult(check, metric, subject, value, threshold, status, message, kw.pop("details", {}))


def make_config(tmp: Path, name: str = "fraud", owner: str = "risk-team", **alerts: Any) -> LoadedConfig:
    """A valid model config whose ``alerts`` section is ``alerts`` (sources need not exist)."""
    data = {
        "name": name,
        "owner": owner,
        "task": "regression",
        "predictions": {
            "source": {"kind": "csv", "path": "log.csv"},
            "timestamp": "ts",
            "id": "id",
            "features": {"amount": "numerical", "country": "categorical"},
            "prediction": "pred",
        },
        "reference": {"source": {"kind": "csv", "path": "reference.csv"}},
        "alerts": alerts,
    }
    path = tmp / f"{name}.yaml"
    text = yaml.safe_dump(data)
    path.write_text(text)
    return parse_config(path, text)
