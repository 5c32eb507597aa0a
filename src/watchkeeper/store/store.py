"""The metric store: check results, runs, baselines, alerts, the alert outbox and retraining triggers.

Writes are keyed by the data interval (model, window, check, metric, subject) and replace what an
earlier run of the same window wrote, so task retries and backfills never duplicate rows. Every
database failure surfaces as :class:`~watchkeeper.exceptions.StoreError` with the password masked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    or_,
    select,
    text,
    union,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from watchkeeper import settings
from watchkeeper.exceptions import StoreError
from watchkeeper.results import CheckResult, Status, Window, worst
from watchkeeper.store.schema import (
    HEAD_REVISION,
    VERSION_TABLE,
    Baseline,
    Metric,
    ModelHealth,
    Run,
    WindowProfileRecord,
)

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)


#: Seconds before giving up on connecting to a PostgreSQL server (fail fast when it is down).
CONNECT_TIMEOUT_S = 5
#: Seconds a SQLite writer waits for another process holding the file lock.
SQLITE_BUSY_TIMEOUT_S = 30
#: Attempts of one write transaction; the retry absorbs a concurrent writer of the same keys.
WRITE_ATTEMPTS = 2

_MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
#: Key of the PostgreSQL advisory lock that serializes concurrent ``migrate()`` calls ("WKMIGR").
_PG_MIGRATION_LOCK = 0x574B4D494752
#: Execution option marking write transactions (SQLite opens them with BEGIN IMMEDIATE).
_WRITE_OPTION = "watchkeeper_write"
#: Where an explicit ``MetricStore(url)`` came from, for the hint of its errors.
_GIVEN_SOURCE = "the url argument of MetricStore"
_MISSING_TABLE_HINT = "the tables do not exist yet -- call MetricStore.migrate() first"
_CONFLICT_HINT = "another process wrote the same rows at the same time -- retry"


@dataclass(frozen=True)
class MetricRow:
    """One stored check result. Datetimes are aware UTC."""

    id: int
    model: str
    window_start: datetime
    window_end: datetime
    check: str
    metric: str
    subject: str
    value: float | None
    threshold: float | None
    status: Status
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    #: Id of the run that wrote the row; None for rows written by ``record_results``.
    run_fk: int | None = None

    @property
    def window(self) -> Window:
        """The row's window."""
        return Window(self.window_start, self.window_end)

    @property
    def key(self) -> tuple[str, str, str]:
        """(check, metric, subject), as :attr:`CheckResult.key`."""
        return (self.check, self.metric, self.subject)

    def to_result(self) -> CheckResult:
        """The row as the :class:`CheckResult` it was stored from."""
        return CheckResult(
            check=self.check,
            metric=self.metric,
            subject=self.subject,
            value=self.value,
            threshold=self.threshold,
            status=self.status,
            message=self.message,
            details=dict(self.details),
        )


@dataclass(frozen=True)
class RunRow:
    """One stored monitoring run of a window. Datetimes are aware UTC."""

    id: int
    model: str
    window_start: datetime
    window_end: datetime
    run_id: str
    source: str
    status: Status
    n_rows: int
    started_at: datetime
    finished_at: datetime
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def window(self) -> Window:
        """The run's window."""
        return Window(self.window_start, self.window_end)


@dataclass(frozen=True)
class WindowProfileRow:
    """The stored profile of one model window (see ``watchkeeper.profile.codec`` for the payload)."""

    id: int
    model: str
    window_start: datetime
    window_end: datetime
    baseline_hash: str
    n_rows: int
    created_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def window(self) -> Window:
        """The profile's window."""
        return Window(self.window_start, self.window_end)


from watchkeeper.store.alerting_repo import (  # noqa: E402 -- re-exported: callers import the rows from here
    AlertingPlan,
    AlertingRepository,
    AlertRow,
    AlertStateRow,
    NotificationRow,
)
from watchkeeper.store.common import (  # noqa: E402
    T,
    _copy_row,
    _dumps,
    _finite,
    _in_window,
    _now,
    _serialize,
    _time_filter,
    to_jsonable,
)
from watchkeeper.store.health_repo import HealthRepository, HealthRow, refresh_health  # noqa: E402
from watchkeeper.store.retrain_repo import RetrainRepository, RetrainRow  # noqa: E402

__all__ = [
    "AlertRow",
    "AlertStateRow",
    "AlertingPlan",
    "HealthRow",
    "MetricRow",
    "MetricStore",
    "NotificationRow",
    "RetrainRow",
    "RunRow",
    "WindowProfileRow",
    "to_jsonable",
]


class MetricStore(AlertingRepository, RetrainRepository, HealthRepository):
    """Read and write Watchkeeper's metric store at ``url`` (default: ``settings.resolve_store()``).

    The engine is created on first use, so building a store is free (safe at DAG parse time). Call
    :meth:`migrate` once per process before anything else; it is cheap when the schema is current.
    """

    def __init__(self, url: str | None = None) -> None:
        if url is None:
            location = settings.resolve_store()
            url, self._source = location.url, location.source
        else:
            self._source = _GIVEN_SOURCE
        self._url = url
        self._engine_obj: Engine | None = None
        self._writer_obj: Engine | None = None
        self._lock = threading.Lock()
        self._migrated = False

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def masked_url(self) -> str:
        """The store URL with its password replaced by ``***``."""
        return settings.mask_url(self._url)

    def __repr__(self) -> str:
        return f"MetricStore({self.masked_url!r})"

    def __enter__(self) -> MetricStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections (the store can still be used afterwards: it reconnects)."""
        with self._lock:
            if self._engine_obj is not None:
                self._engine_obj.dispose()
            self._engine_obj = self._writer_obj = None

    @property
    def _hint(self) -> str:
        """What to check when the database cannot be used: the setting its (masked) URL came from."""
        return f"is the database up? check {self._source}"

    def _engine(self) -> Engine:
        if self._engine_obj is None:
            with self._lock:
                if self._engine_obj is None:
                    # checked here, not in __init__: building a store stays free (DAG parse time)
                    url = settings.parse_store_url(self._url, source=self._source)
                    engine = _create_engine(make_url(url))
                    self._writer_obj = engine.execution_options(**{_WRITE_OPTION: True})
                    self._engine_obj = engine
        return self._engine_obj

    def _writer(self) -> Engine:
        self._engine()
        assert self._writer_obj is not None
        return self._writer_obj

    def _error(self, action: str, exc: BaseException) -> StoreError:
        """A StoreError for ``exc`` naming the masked URL, with a one-line reason and a hint."""
        orig = getattr(exc, "orig", None)  # the DBAPI error: its text has no SQL nor parameters
        lines = str(orig if orig is not None else exc).strip().splitlines()
        reason = lines[0].strip() if lines else type(exc).__name__
        if isinstance(exc, ImportError):
            reason = f"database driver not installed ({reason})"
        password = _password(self._url)
        if password:
            reason = reason.replace(password, "***")
        lowered = reason.lower()
        missing_table = "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered)
        hint = _MISSING_TABLE_HINT if missing_table else self._hint
        if isinstance(exc, IntegrityError) and not missing_table:
            hint = _CONFLICT_HINT
        return StoreError(f"metric store {self.masked_url}: cannot {action}: {reason[:300]} -- {hint}")

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except (SQLAlchemyError, OSError, ImportError) as exc:
            raise self._error(action, exc) from exc

    def _transact(self, action: str, work: Callable[[Session], T], *, write: bool = True) -> T:
        """Run ``work`` in one transaction; retry a write once if a concurrent writer won a unique key."""
        with self._guard(action):
            engine = self._writer() if write else self._engine()
            attempt = 1
            while True:
                try:
                    with Session(engine, expire_on_commit=False) as session, session.begin():
                        return work(session)
                except IntegrityError:
                    if not write or attempt >= WRITE_ATTEMPTS:
                        raise
                    logger.info("retrying to %s after a concurrent write (attempt %d)", action, attempt)
                    attempt += 1

    # -- schema --------------------------------------------------------------------------------

    def alembic_config(self) -> Config:
        """An Alembic config for this store (no alembic.ini needed), e.g. for ``command.revision``."""
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS_DIR))
        config.set_main_option("path_separator", "os")
        config.set_main_option("sqlalchemy.url", self._url.replace("%", "%%"))
        return config

    def _at_head(self) -> bool:
        """Whether the schema is at :data:`HEAD_REVISION` (read with SQLAlchemy alone)."""
        with self._guard("migrate the schema"):
            with self._engine().connect() as connection:
                if not inspect(connection).has_table(VERSION_TABLE):
                    return False
                versions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        return set(versions) == {HEAD_REVISION}

    def migrate(self) -> None:
        """Bring the schema to the latest revision (Alembic ``upgrade head``).

        Idempotent and cheap once at head (a table check and one query, and Alembic is not even imported;
        nothing at all on a second call). Concurrent callers are serialized (BEGIN IMMEDIATE on SQLite, an
        advisory lock on PostgreSQL), and a "table already exists" race is retried once.
        """
        if self._migrated:
            return
        if self._at_head():
            self._migrated = True
            return
        from alembic import command
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        config = self.alembic_config()
        script = ScriptDirectory.from_config(config)
        heads = set(script.get_heads())
        known = {revision.revision for revision in script.walk_revisions()}
        action = "migrate the schema"
        with self._guard(action):
            with self._engine().connect() as connection:
                context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
                current = set(context.get_current_heads())
            if current == heads:
                self._migrated = True
                return
            if current - known:
                raise StoreError(
                    f"metric store {self.masked_url}: schema revision {sorted(current - known)} is newer than this "
                    f"Watchkeeper knows (head {sorted(heads)}) -- upgrade Watchkeeper, or point "
                    f"{settings.DATABASE_URL_ENV} at another database"
                )
            attempt = 1
            while True:
                try:
                    with self._writer().begin() as connection:
                        if connection.dialect.name == "postgresql":
                            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
                        config.attributes["connection"] = connection
                        command.upgrade(config, "head")
                    break
                except DBAPIError as exc:
                    if attempt >= WRITE_ATTEMPTS or "already exists" not in str(exc.orig).lower():
                        raise
                    logger.info("schema created concurrently by another process; retrying the migration")
                    attempt += 1
                except CommandError as exc:
                    raise StoreError(f"metric store {self.masked_url}: cannot {action}: {exc} -- {self._hint}") from exc
                finally:
                    config.attributes.pop("connection", None)
        logger.info("metric store %s migrated to %s", self.masked_url, sorted(heads))
        self._migrated = True

    # -- check results -------------------------------------------------------------------------

    def record_window(
        self,
        model: str,
        window: Window,
        results: Sequence[CheckResult],
        *,
        run_id: str,
        source: str,
        n_rows: int,
        summary: Mapping[str, Any],
        started_at: datetime | None = None,
    ) -> int:
        """Store the run of one window and its results, replacing an earlier run of the same window.

        In one transaction: delete the window's previous run and every row it wrote, plus any row of
        the window in a check family present in ``results``; then insert the new run and results.
        Rows that :meth:`record_results` added for other check families (e.g. performance, computed
        later when labels arrive) are kept. Duplicate result keys: the later result wins (a warning is
        logged). Returns the id of the new run row.
        """
        rows = _dedupe(model, window, results)
        checks = {result.check for result in rows}
        status = worst([result.status for result in rows])

        def work(session: Session) -> int:
            _serialize(session, model, window)
            old_runs = list(session.scalars(select(Run.id).where(*_in_window(Run, model, window))))
            replaced: list[ColumnElement[bool]] = []
            if old_runs:
                replaced.append(Metric.run_fk.in_(old_runs))
            if checks:
                replaced.append(Metric.check.in_(checks))
            if replaced:
                session.execute(
                    delete(Metric).where(*_in_window(Metric, model, window), or_(*replaced)),
                    execution_options={"synchronize_session": False},
                )
            if old_runs:
                session.execute(
                    delete(Run).where(Run.id.in_(old_runs)), execution_options={"synchronize_session": False}
                )
            finished_at = _now()
            run = Run(
                model=model,
                window_start=window.start,
                window_end=window.end,
                run_id=run_id,
                source=source,
                status=str(status),
                n_rows=int(n_rows),
                started_at=started_at or finished_at,
                finished_at=finished_at,
                summary=dict(summary),
            )
            session.add(run)
            session.flush()
            if rows:
                session.execute(insert(Metric), [_metric_values(model, window, r, run.id) for r in rows])
            refresh_health(session, model)
            return run.id

        run_pk = self._transact(f"record window {window.start.isoformat()} of model {model!r}", work)
        logger.info(
            "stored %d results of model %s window %s..%s (run %s, source %s, status %s)",
            len(rows),
            model,
            window.start.isoformat(),
            window.end.isoformat(),
            run_id,
            source,
            status,
        )
        return run_pk

    def record_results(
        self, model: str, window: Window, results: Sequence[CheckResult], *, checks: Collection[str]
    ) -> int:
        """Replace the window's rows of the check families ``checks`` by ``results``; leave other rows alone.

        For results computed after the window's run (the performance DAG, once labels arrive). The run
        row is not touched and the new rows belong to no run. Every result's check must be in
        ``checks`` (ValueError otherwise). Duplicate keys: the later result wins. Returns the row count.
        """
        families = {checks} if isinstance(checks, str) else set(checks)
        rows = _dedupe(model, window, results)
        stray = sorted({result.check for result in rows} - families)
        if stray:
            raise ValueError(
                f"record_results for model {model!r}: results of checks {stray} are outside "
                f"checks={sorted(families)} -- add them to `checks`"
            )
        if not families:
            return 0

        def work(session: Session) -> int:
            _serialize(session, model, window)
            session.execute(
                delete(Metric).where(*_in_window(Metric, model, window), Metric.check.in_(families)),
                execution_options={"synchronize_session": False},
            )
            if rows:
                session.execute(insert(Metric), [_metric_values(model, window, r, None) for r in rows])
            refresh_health(session, model)
            return len(rows)

        count = self._transact(f"record {sorted(families)} results of model {model!r}", work)
        logger.info(
            "stored %d %s results of model %s window %s..%s",
            count,
            sorted(families),
            model,
            window.start.isoformat(),
            window.end.isoformat(),
        )
        return count

    def metrics(
        self,
        model: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        window: Window | None = None,
        check: str | None = None,
        metric: str | None = None,
        subject: str | None = None,
    ) -> list[MetricRow]:
        """Stored results of ``model``, ordered by window start then (check, metric, subject).

        ``start``/``end`` keep windows starting in ``[start, end)``; ``window`` keeps exactly one window;
        ``subject=""`` selects model-wide metrics.
        """
        stmt = select(Metric).where(Metric.model == model, *_time_filter(Metric, start, end, window))
        if check is not None:
            stmt = stmt.where(Metric.check == check)
        if metric is not None:
            stmt = stmt.where(Metric.metric == metric)
        if subject is not None:
            stmt = stmt.where(Metric.subject == subject)
        stmt = stmt.order_by(Metric.window_start, Metric.window_end, Metric.check, Metric.metric, Metric.subject)
        return self._transact(
            f"read metrics of model {model!r}",
            lambda session: [_metric_row(m) for m in session.scalars(stmt)],
            write=False,
        )

    def runs(self, model: str, limit: int | None = None) -> list[RunRow]:
        """Stored runs of ``model``, newest window first (at most ``limit``)."""
        stmt = select(Run).where(Run.model == model).order_by(Run.window_start.desc(), Run.window_end.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        return self._transact(
            f"read runs of model {model!r}", lambda session: [_run_row(r) for r in session.scalars(stmt)], write=False
        )

    def models(self) -> list[str]:
        """Names of every model with anything stored, sorted.

        Reads the health summary (one row per model with runs, results or alerts) and the baselines, never
        the history tables, so listing models costs the same after years of windows.
        """
        stmt = union(select(ModelHealth.model), select(Baseline.model))
        return self._transact("list models", lambda session: sorted(session.scalars(stmt)), write=False)

    def latest_window(self, model: str) -> Window | None:
        """The most recent window (latest end) of ``model`` with a run, or with results; None if none."""

        def work(session: Session) -> Window | None:
            for table in (Run, Metric):
                latest = session.execute(
                    select(table.window_start, table.window_end)
                    .where(table.model == model)
                    .order_by(table.window_end.desc(), table.window_start.desc())
                    .limit(1)
                ).first()
                if latest is not None:
                    return Window(latest[0], latest[1])
            return None

        return self._transact(f"read the latest window of model {model!r}", work, write=False)

    # -- baselines -----------------------------------------------------------------------------

    def save_baseline(
        self, model: str, content_hash: str, payload: Mapping[str, Any], *, replace: bool = False
    ) -> bool:
        """Store a baseline and make it the model's current one. True if new, False if the hash existed.

        Saving an existing hash does not rewrite its payload (same hash, same content) unless ``replace``
        (a forced rebuild): it only becomes current again and its ``updated_at`` is touched.
        """

        def work(session: Session) -> bool:
            _serialize(session, "baseline", model)
            now = _now()
            existing = session.scalar(
                select(Baseline.id).where(Baseline.model == model, Baseline.content_hash == content_hash)
            )
            # Two statements, not one: the "one current baseline per model" index must hold after each.
            session.execute(
                update(Baseline).where(Baseline.model == model, Baseline.is_current.is_(True)).values(is_current=False),
                execution_options={"synchronize_session": False},
            )
            if existing is not None:
                session.execute(
                    update(Baseline)
                    .where(Baseline.id == existing)
                    .values(is_current=True, updated_at=now, **({"payload": dict(payload)} if replace else {})),
                    execution_options={"synchronize_session": False},
                )
                return False
            session.add(
                Baseline(
                    model=model,
                    content_hash=content_hash,
                    created_at=now,
                    updated_at=now,
                    is_current=True,
                    payload=dict(payload),
                )
            )
            return True

        created = self._transact(f"save baseline {content_hash} of model {model!r}", work)
        logger.info("baseline %s of model %s is current (%s)", content_hash, model, "new" if created else "existing")
        return created

    def get_baseline(self, model: str) -> tuple[str, dict[str, Any]] | None:
        """(content hash, payload) of the model's current baseline; None if it has none."""
        stmt = (
            select(Baseline.content_hash, Baseline.payload)
            .where(Baseline.model == model)
            .order_by(Baseline.is_current.desc(), Baseline.updated_at.desc(), Baseline.id.desc())
            .limit(1)
        )

        def work(session: Session) -> tuple[str, dict[str, Any]] | None:
            row = session.execute(stmt).first()
            return None if row is None else (row[0], row[1])

        return self._transact(f"read the baseline of model {model!r}", work, write=False)

    def baseline_by_hash(self, model: str, content_hash: str) -> dict[str, Any] | None:
        """The payload of the model's baseline with ``content_hash`` (current or not); None if unknown."""
        stmt = select(Baseline.payload).where(Baseline.model == model, Baseline.content_hash == content_hash).limit(1)
        return self._transact(
            f"read baseline {content_hash} of model {model!r}", lambda session: session.scalar(stmt), write=False
        )

    # -- window profiles -----------------------------------------------------------------------

    def save_window_profile(self, model: str, window: Window, profile: Any) -> int:
        """Store the profile of one window, replacing an earlier one of the same window. Returns its row id.

        ``profile`` is a finished :class:`~watchkeeper.profile.window.WindowProfile` or its payload
        (``watchkeeper.profile.codec.to_payload``).
        """
        if isinstance(profile, Mapping):
            payload = dict(profile)
        else:
            from watchkeeper.profile.codec import to_payload

            payload = to_payload(profile)

        def work(session: Session) -> int:
            _serialize(session, "profile", model, window)
            session.execute(
                delete(WindowProfileRecord).where(*_in_window(WindowProfileRecord, model, window)),
                execution_options={"synchronize_session": False},
            )
            record = WindowProfileRecord(
                model=model,
                window_start=window.start,
                window_end=window.end,
                baseline_hash=str(payload.get("baseline_hash") or ""),
                n_rows=int(payload.get("rows") or 0),
                created_at=_now(),
                payload=payload,
            )
            session.add(record)
            session.flush()
            return record.id

        row_id = self._transact(f"save the profile of window {window.start.isoformat()} of model {model!r}", work)
        logger.info(
            "stored the profile of model %s window %s..%s", model, window.start.isoformat(), window.end.isoformat()
        )
        return row_id

    def window_profile(self, model: str, window: Window) -> WindowProfileRow | None:
        """The stored profile of exactly ``window`` of ``model``; None if it has none."""
        stmt = select(WindowProfileRecord).where(*_in_window(WindowProfileRecord, model, window)).limit(1)

        def work(session: Session) -> WindowProfileRow | None:
            record = session.scalar(stmt)
            return None if record is None else _copy_row(WindowProfileRow, record)

        return self._transact(f"read the profile of a window of model {model!r}", work, write=False)

    def window_profiles(
        self, model: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[WindowProfileRow]:
        """Stored profiles of ``model`` whose window starts in ``[start, end)``, oldest first."""
        stmt = (
            select(WindowProfileRecord)
            .where(WindowProfileRecord.model == model, *_time_filter(WindowProfileRecord, start, end, None))
            .order_by(WindowProfileRecord.window_start, WindowProfileRecord.window_end)
        )
        return self._transact(
            f"read the window profiles of model {model!r}",
            lambda session: [_copy_row(WindowProfileRow, r) for r in session.scalars(stmt)],
            write=False,
        )

    def run(self, model: str, window: Window) -> RunRow | None:
        """The stored run of exactly ``window`` of ``model``; None if it has none."""
        stmt = select(Run).where(*_in_window(Run, model, window)).limit(1)

        def work(session: Session) -> RunRow | None:
            record = session.scalar(stmt)
            return None if record is None else _run_row(record)

        return self._transact(f"read the run of a window of model {model!r}", work, write=False)

    def baseline_hashes(self, model: str) -> list[str]:
        """Content hashes of every stored baseline of ``model``, oldest first."""
        stmt = select(Baseline.content_hash).where(Baseline.model == model).order_by(Baseline.created_at, Baseline.id)
        return self._transact(
            f"read baseline hashes of model {model!r}", lambda session: list(session.scalars(stmt)), write=False
        )


def _create_engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {"json_serializer": _dumps}
    if backend == "sqlite":
        _ensure_sqlite_folder(url)
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
    elif backend == "postgresql":
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
        if "application_name" not in url.query:
            connect_args["application_name"] = "watchkeeper"
        options["pool_pre_ping"] = True  # long-lived Airflow processes outlive server restarts
    engine = create_engine(url, connect_args=connect_args, **options)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _ensure_sqlite_folder(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (see _sqlite_on_begin): pysqlite's own transaction handling
    # would defer BEGIN and make DDL non-transactional.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # Writers take the write lock up front: a deferred transaction that reads then writes can fail
    # with "database is locked" at once instead of waiting for the busy timeout.
    immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except Exception:  # an unparsable URL: mask_url still hides the part after ':'
        scheme, sep, rest = url.partition("://")
        creds = rest.rpartition("@")[0] if sep else ""
        return creds.partition(":")[2] or None


def _dedupe(model: str, window: Window, results: Sequence[CheckResult]) -> list[CheckResult]:
    by_key: dict[tuple[str, str, str], CheckResult] = {}
    duplicated: set[tuple[str, str, str]] = set()
    for result in results:
        key = (result.check, result.metric, result.subject or "")
        if key in by_key:
            duplicated.add(key)
        by_key[key] = result
    if duplicated:
        logger.warning(
            "model %s window %s: duplicate result keys %s, keeping the last result of each",
            model,
            window.start.isoformat(),
            sorted(duplicated),
        )
    return list(by_key.values())


def _metric_values(model: str, window: Window, result: CheckResult, run_fk: int | None) -> dict[str, Any]:
    return {
        "model": model,
        "window_start": window.start,
        "window_end": window.end,
        "check": result.check,
        "metric": result.metric,
        "subject": result.subject or "",
        "value": _finite(result.value),
        "threshold": _finite(result.threshold),
        "status": str(result.status),
        "message": result.message or "",
        "details": dict(result.details or {}),
        "run_fk": run_fk,
    }


def _metric_row(m: Metric) -> MetricRow:
    return _copy_row(MetricRow, m, status=Status(m.status))


def _run_row(r: Run) -> RunRow:
    return _copy_row(RunRow, r, status=Status(r.status))
