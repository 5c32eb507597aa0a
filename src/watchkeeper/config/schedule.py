"""Schedules: the presets and cron expressions Airflow accepts, checked when a config loads.

Airflow's ``CronDataIntervalTimetable`` hands the expression to ``croniter`` (its ``validate()`` is
``croniter(expression)``), and Airflow's own DAG module already imports croniter, so checking with it
costs nothing extra at parse time and accepts exactly what Airflow accepts. On top of that, an
expression that never fires (``0 0 30 2 *``) is refused: Airflow would accept it and then fail to
compute the next run.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from watchkeeper.catalogs.monitor import suggest

#: Airflow's cron presets (``airflow.sdk.definitions.timetables._cron.CRON_PRESETS``).
CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
#: Presets without a data interval: a run would have no window of the log to check.
_NO_WINDOW = {"@once", "@continuous", "None", "none", "null"}


@functools.lru_cache(maxsize=1024)  # thousands of configs share a handful of schedules
def check_schedule(value: str) -> str:
    """``value`` if it is a preset or a cron expression Airflow accepts and that fires; else ValueError."""
    text = value.strip()
    if text in _NO_WINDOW:
        raise ValueError(
            f"schedule {value!r} has no data interval, so a run has no window of the log to check -- "
            "use a preset such as '@daily' or a cron expression such as '0 6 * * *'"
        )
    if text.startswith("@") and text not in CRON_PRESETS:
        raise ValueError(f"unknown preset {value!r} -- {suggest(text, tuple(CRON_PRESETS))}")
    expression = CRON_PRESETS.get(text, text)
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"{value!r} is not a cron expression (it has {len(fields)} fields; Airflow schedules use 5: "
            "minute hour day-of-month month day-of-week) -- e.g. '0 6 * * *' or a preset such as '@daily'"
        )
    from croniter import croniter

    try:
        itr = croniter(expression, datetime(2026, 1, 1, tzinfo=UTC))
    except Exception as exc:  # croniter raises several unrelated types for bad input
        raise ValueError(
            f"{value!r} is not a valid cron expression: {exc} -- fields are minute (0-59), hour (0-23), "
            "day of month (1-31), month (1-12), day of week (0-6), e.g. '0 6 * * *'"
        ) from None
    try:
        itr.get_next(datetime)
    except Exception:
        raise ValueError(f"cron expression {value!r} never fires (no such date) -- fix the day and month") from None
    return text
