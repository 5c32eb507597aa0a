"""Process-wide settings read from environment variables and Airflow (never from YAML: secrets live here).

The metric store is configured once for every component (scheduler, workers, API server, CLI):

1. ``$WATCHKEEPER_DATABASE_URL`` -- an explicit URL for this process wins;
2. else the Airflow connection ``watchkeeper_store`` (id overridable with ``$WATCHKEEPER_STORE_CONN_ID``),
   looked up through Airflow's secrets backends (env var ``AIRFLOW_CONN_WATCHKEEPER_STORE``, the metadata
   DB, Vault, ...) -- only inside an Airflow process or when that env var exists, and only when a store is
   opened at task run time, never while a DAG file is parsed;
3. else a SQLite file in the state folder -- unless Airflow's executor runs tasks on other machines
   (Celery, Kubernetes, Edge, ...): then :func:`database_url` raises a :class:`StoreError` that says how to
   configure a shared store, instead of silently splitting the store into one file per worker.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from watchkeeper.exceptions import StoreError

log = logging.getLogger(__name__)

#: Folder for local state: SQLite metric store, JSONL alerts, Airflow home of the demo.
HOME_ENV = "WATCHKEEPER_HOME"
#: SQLAlchemy URL of the metric store; wins over the Airflow connection.
DATABASE_URL_ENV = "WATCHKEEPER_DATABASE_URL"
#: Id of the Airflow connection holding the metric store (default :data:`DEFAULT_STORE_CONN_ID`).
STORE_CONN_ID_ENV = "WATCHKEEPER_STORE_CONN_ID"
#: The Airflow connection read when ``$WATCHKEEPER_DATABASE_URL`` is not set.
DEFAULT_STORE_CONN_ID = "watchkeeper_store"
#: Folder holding the model configs (``<model>.yaml``).
CONFIG_DIR_ENV = "WATCHKEEPER_CONFIG_DIR"
#: When truthy, the DAG loader raises on the first invalid config instead of skipping it (for CI).
STRICT_ENV = "WATCHKEEPER_STRICT"

#: Executors that run every task on the machine of the scheduler: a local SQLite store is safe there.
LOCAL_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})
#: Connection types and the SQLAlchemy driver Watchkeeper uses for them (psycopg 3 is a dependency).
_DRIVERS = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg", "sqlite": "sqlite"}
#: Connection extras passed on to the database driver as URL query parameters.
_PASSED_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name", "options")
#: Query-string / DSN keys whose values are secrets (compared case-insensitively, as substrings).
_SECRET_KEYS = ("password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "credential")
_URL_FORMAT = "dialect+driver://user:password@host:port/database, e.g. postgresql+psycopg://watchkeeper:pw@db:5432/wk"


def state_dir() -> Path:
    """The local state folder (created on demand)."""
    path = Path(os.environ.get(HOME_ENV) or Path.cwd() / ".watchkeeper").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class StoreLocation:
    """Where the metric store is and which setting said so (for messages: never contains a secret)."""

    url: str
    #: ``$WATCHKEEPER_DATABASE_URL``, ``Airflow connection 'watchkeeper_store'`` or ``default SQLite file``.
    source: str

    @property
    def masked_url(self) -> str:
        """The URL with its secrets replaced by ``***``."""
        return mask_url(self.url)


def store_conn_id() -> str:
    """Id of the Airflow connection that holds the metric store."""
    return os.environ.get(STORE_CONN_ID_ENV) or DEFAULT_STORE_CONN_ID


def resolve_store() -> StoreLocation:
    """Find the metric store: the env var, then the Airflow connection, then (local executors only) SQLite.

    Call at task run time only (it may look up an Airflow connection). Raises :class:`StoreError` when the
    configured URL does not parse, or when no store is configured and the executor is distributed.
    """
    env_url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if env_url:
        return StoreLocation(parse_store_url(env_url, source=f"${DATABASE_URL_ENV}"), f"${DATABASE_URL_ENV}")
    conn_id = store_conn_id()
    conn_url = _connection_url(conn_id)
    if conn_url is not None:
        source = f"Airflow connection {conn_id!r}"
        return StoreLocation(parse_store_url(conn_url, source=source), source)
    executor = distributed_executor()
    if executor is not None:
        raise StoreError(
            f"no metric store configured: Airflow's executor {executor} runs tasks on other machines, where a "
            "local SQLite file would split the metric store (each worker and the API server writing their own) "
            f"-- create the Airflow connection {conn_id!r} (e.g. AIRFLOW_CONN_{conn_id.upper()}="
            f"'postgresql://user:password@host:5432/watchkeeper') or set {DATABASE_URL_ENV} to a SQLAlchemy URL, "
            "the same for the scheduler, every worker and the API server"
        )
    return StoreLocation(f"sqlite:///{state_dir() / 'watchkeeper.db'}", "default SQLite file")


def database_url() -> str:
    """The metric store URL (see :func:`resolve_store` for the order; call at task run time only)."""
    return resolve_store().url


def parse_store_url(url: str, *, source: str | None = None) -> str:
    """``url`` checked as a SQLAlchemy URL of a dialect that is installed, or a one-line :class:`StoreError`.

    ``postgres://`` and driver-less ``postgresql://`` URLs use psycopg 3 (Watchkeeper's PostgreSQL driver).
    The error names ``source`` (the env var or connection the URL came from), the masked URL and the fix.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    origin = source or f"${DATABASE_URL_ENV}"
    text = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            text = "postgresql+psycopg://" + text.removeprefix(prefix)
    try:
        parsed = make_url(text)
    except (ArgumentError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        reason = reason.replace(url, mask_url(url)).replace(text, mask_url(text))
        raise StoreError(
            f"metric store URL from {origin} is not a database URL ({mask_url(url)}: {reason[:120]}) -- "
            f"write it as {_URL_FORMAT}"
        ) from None
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise StoreError(
            f"metric store URL from {origin} names an unknown database dialect {parsed.drivername!r} "
            f"({mask_url(url)}) -- use postgresql+psycopg://... or sqlite:///path (any installed SQLAlchemy dialect)"
        ) from None
    except ImportError as exc:
        raise StoreError(
            f"metric store URL from {origin} needs a database driver that is not installed ({exc.name or exc}) "
            f"for {parsed.drivername!r} ({mask_url(url)}) -- install it or use postgresql+psycopg://"
        ) from None
    return text


def _connection_url(conn_id: str) -> str | None:
    """The SQLAlchemy URL of the Airflow connection ``conn_id``, or None when it is not defined.

    Only looked up inside an Airflow process (``airflow.sdk`` already imported: a task, the API server)
    or when ``AIRFLOW_CONN_<ID>`` defines it, so a plain CLI process never starts Airflow for it.
    """
    if "airflow.sdk" not in sys.modules and f"AIRFLOW_CONN_{conn_id.upper()}" not in os.environ:
        return None
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or no backend reachable in this process
        log.debug("Airflow connection %s not available: %s", conn_id, type(exc).__name__)
        return None
    return connection_to_url(conn)


def connection_to_url(conn: object) -> str:
    """A SQLAlchemy URL from an Airflow connection's fields (``postgres`` connections use psycopg 3).

    An ``extra`` of ``{"sqlalchemy_url": ...}`` is used as is (any dialect); ``sslmode`` and friends in the
    extra become query parameters.
    """
    from sqlalchemy.engine import URL

    extra = _extra(conn)
    if isinstance(extra.get("sqlalchemy_url"), str):
        return str(extra["sqlalchemy_url"])
    conn_type = str(getattr(conn, "conn_type", "") or "")
    driver = _DRIVERS.get(conn_type, conn_type)
    if driver == "sqlite":
        return f"sqlite:///{getattr(conn, 'host', None) or getattr(conn, 'schema', None) or ''}"
    port = getattr(conn, "port", None)
    url = URL.create(
        driver or "postgresql+psycopg",
        username=getattr(conn, "login", None) or None,
        password=getattr(conn, "password", None) or None,
        host=getattr(conn, "host", None) or None,
        port=int(port) if port else None,
        database=getattr(conn, "schema", None) or None,
        query={key: str(extra[key]) for key in _PASSED_EXTRAS if key in extra},
    )
    return url.render_as_string(hide_password=False)


def _extra(conn: object) -> dict[str, object]:
    try:
        extra = getattr(conn, "extra_dejson", None)
    except Exception:  # a malformed extra must not leak its text
        return {}
    return extra if isinstance(extra, dict) else {}


def distributed_executor() -> str | None:
    """The configured Airflow executor when it runs tasks away from the scheduler's machine, else None.

    Read only inside an Airflow process (Airflow already imported); ``[core] executor`` may list several
    executors (``LocalExecutor,CeleryExecutor``, module paths, ``alias:path``): any non-local one counts.
    """
    if "airflow" not in sys.modules:
        return None
    try:
        from airflow.sdk.configuration import conf

        configured = str(conf.get("core", "executor", fallback="") or "")
    except Exception:  # no readable Airflow configuration: not an Airflow deployment
        return None
    for entry in configured.split(","):
        name = entry.strip().rsplit(":", 1)[-1].rsplit(".", 1)[-1]
        if name and name not in LOCAL_EXECUTORS:
            return name
    return None


def config_dir() -> Path:
    """Folder of model configs: ``$WATCHKEEPER_CONFIG_DIR`` or ``dags/models`` under the working directory."""
    return Path(os.environ.get(CONFIG_DIR_ENV) or Path.cwd() / "dags" / "models").resolve()


def strict_mode() -> bool:
    """Whether invalid configs must fail loudly (CI) rather than be skipped."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


_QUERY_PAIR = re.compile(r"([?&;]|^)([^=&;#?]*)=([^&;#]*)")
_USERINFO = re.compile(r"(?P<user>[^:/@?#]*):(?P<password>.*)@(?P<tail>[^@]*)$", re.S)
_DSN_PAIR = re.compile(r"(^|\s)([A-Za-z_][\w.-]*)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")


def _is_secret_key(key: str) -> bool:
    lowered = unquote(key).lower()
    return any(word in lowered for word in _SECRET_KEYS)


def _mask_pairs(text: str, pattern: re.Pattern[str]) -> str:
    def repl(match: re.Match[str]) -> str:
        lead, key, _value = match.groups()
        return f"{lead}{key}=***" if _is_secret_key(key) else match.group(0)

    return pattern.sub(repl, text)


def mask_url(url: str) -> str:
    """A database URL (or libpq ``key=value`` DSN) with every secret replaced by ``***``, safe for logs.

    Masks the password of ``user:password@`` and the value of secret query parameters
    (``?password=``, ``&sslpassword=``, ``?token=``...).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _mask_pairs(url, _DSN_PAIR) if "=" in url else url
    userinfo = _USERINFO.match(rest)
    if userinfo is not None:  # user:password@: the password may hold '@', '/' or '?', so end at the last '@'
        user, tail = userinfo.group("user"), userinfo.group("tail")
        prefix = f"{user}:***@"
    else:
        prefix, tail = "", rest
    location, qmark, query = tail.partition("?")
    masked_query = _mask_pairs(query, _QUERY_PAIR) if qmark else ""
    return f"{scheme}://{prefix}{location}{qmark}{masked_query}"
