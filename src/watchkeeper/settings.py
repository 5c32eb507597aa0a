"""Process-wide settings read from environment variables (never from YAML: secrets live here)."""

from __future__ import annotations

import os
from pathlib import Path

#: Folder for local state: SQLite metric store, JSONL alerts, Airflow home of the demo.
HOME_ENV = "WATCHKEEPER_HOME"
#: SQLAlchemy URL of the metric store; defaults to a SQLite file in the state folder.
DATABASE_URL_ENV = "WATCHKEEPER_DATABASE_URL"
#: Folder holding the model configs (``<model>.yaml``).
CONFIG_DIR_ENV = "WATCHKEEPER_CONFIG_DIR"
#: When truthy, the DAG loader raises on the first invalid config instead of skipping it (for CI).
STRICT_ENV = "WATCHKEEPER_STRICT"


def state_dir() -> Path:
    """The local state folder (created on demand)."""
    path = Path(os.environ.get(HOME_ENV) or Path.cwd() / ".watchkeeper").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """The metric store URL: ``$WATCHKEEPER_DATABASE_URL`` or ``sqlite:///<state>/watchkeeper.db``."""
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{state_dir() / 'watchkeeper.db'}"


def config_dir() -> Path:
    """Folder of model configs: ``$WATCHKEEPER_CONFIG_DIR`` or ``dags/models`` under the working directory."""
    return Path(os.environ.get(CONFIG_DIR_ENV) or Path.cwd() / "dags" / "models").resolve()


def strict_mode() -> bool:
    """Whether invalid configs must fail loudly (CI) rather than be skipped."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def mask_url(url: str) -> str:
    """A database URL with its password replaced by ``***``, safe for logs and errors."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, colon, _ = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"
