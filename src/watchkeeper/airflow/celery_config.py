"""Celery settings for Watchkeeper on the CeleryExecutor: Airflow's defaults, plus Watchkeeper's task-side
modules imported once per worker.

Use it with ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=watchkeeper.airflow.celery_config.CELERY_CONFIG``.
A Celery worker forks one process per task from its pool processes, which are forked from the worker's main
process; whatever the main process imported before forking is shared by every task for free. Airflow
preloads its own operators that way (``celery_import_modules``); this adds pandas, pyarrow, scipy,
SQLAlchemy, Alembic and Watchkeeper's check, store and alerting modules, which otherwise cost every task
about two seconds of CPU before it does any work. The preload runs only in Celery workers (the signal is
sent by ``celery worker``), never in the scheduler or the API server, and never at DAG parse time.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import import_modules

log = logging.getLogger(__name__)

#: Airflow's Celery configuration, unchanged (broker, result backend, acks_late, prefetch 1 ...).
CELERY_CONFIG: dict[str, Any] = dict(DEFAULT_CELERY_CONFIG)

#: Imported once in each worker's main process, before it forks its pool.
PRELOAD: tuple[str, ...] = (
    "numpy",
    "pandas",
    "pyarrow",
    "pyarrow.parquet",
    "scipy.stats",
    "sqlalchemy",
    "sqlalchemy.orm",
    "alembic.command",
    "alembic.runtime.migration",
    "psycopg",
    "watchkeeper.airflow.dag_builder",
    "watchkeeper.airflow.publishing",
    "watchkeeper.checks",
    "watchkeeper.baseline",
    "watchkeeper.store",
    "watchkeeper.alerting",
    "watchkeeper.report",
)


@import_modules.connect  # type: ignore[untyped-decorator,unused-ignore]
def preload_watchkeeper(*args: Any, **kwargs: Any) -> None:
    """Import :data:`PRELOAD` in the worker's main process (a module that fails to import is skipped)."""
    loaded = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional module must never stop a worker
            log.warning("watchkeeper: could not preload %s in the Celery worker: %s", name, exc)
        else:
            loaded.append(name)
    log.info("watchkeeper: preloaded %d modules in the Celery worker", len(loaded))
