"""SQL queries through SQLAlchemy, streamed with a server-side cursor.

The window reaches the database only as the bound parameters ``:start`` and ``:end``; rows come back in
chunks of ``batch_rows`` (``stream_results``), so memory stays bounded whatever the window holds. On
PostgreSQL the transaction's ``TimeZone`` is set to the log's time zone, so that a naive ``timestamp``
column compares with the bounds exactly as Watchkeeper reads naive timestamps. Every error names the
source by its URL with the password and secret query values masked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from watchkeeper.catalogs.sources import mask_secrets, mask_url
from watchkeeper.config import SqlSource, expand_env
from watchkeeper.exceptions import ConfigError, SourceError
from watchkeeper.sources.base import AnySource, ScanRecord, ScanRequest, SourceKind

if TYPE_CHECKING:
    import sqlalchemy as sa


class SqlKind(SourceKind):
    """A SQL query (url or Airflow connection); ``:start``/``:end`` are bound parameters."""

    kind = "sql"
    config = SqlSource

    def batches(self, request: ScanRequest, record: ScanRecord) -> Iterator[pd.DataFrame]:
        import sqlalchemy as sa

        source = request.source
        assert isinstance(source, SqlSource)
        url = sql_url(source)
        params = window_params(source, request, url)
        engine = sql_engine(url)
        closing = False
        try:
            with engine.connect() as conn:
                if conn.dialect.name == "postgresql" and request.timestamp is not None:
                    conn.execute(sa.text("SELECT set_config('TimeZone', :zone, true)"), {"zone": request.timezone})
                streaming = conn.execution_options(stream_results=True, max_row_buffer=request.batch_rows)
                result = streaming.execute(sa.text(source.query), params)
                names = [str(k) for k in result.keys()]
                record.set_schema(names)
                columns = request.wanted(names)
                for rows in result.partitions(request.batch_rows):
                    record.rows_scanned += len(rows)
                    frame = pd.DataFrame.from_records(rows, columns=names, coerce_float=True)
                    try:
                        yield frame if columns == names else frame[columns]
                    except GeneratorExit:  # the reader stopped early: close the cursor, report nothing
                        closing = True
                        raise
        except sa.exc.SQLAlchemyError as exc:
            if not closing:
                raise sql_error(url, exc) from None
        finally:
            engine.dispose()

    def fingerprint(self, source: AnySource, base: Path) -> str | None:
        """The query text, the masked URL and the row count the database reports (one cheap aggregate).

        A change that keeps the row count is not seen: run ``watchkeeper baseline MODEL`` (or change the
        query, e.g. a comment with a version) after rewriting a reference table in place.
        """
        import sqlalchemy as sa

        assert isinstance(source, SqlSource)
        if ":start" in source.query or ":end" in source.query:
            return None
        url = sql_url(source)
        engine = sql_engine(url)
        try:
            with engine.connect() as conn:
                query = source.query.strip().rstrip(";")
                count = conn.execute(sa.text(f"SELECT COUNT(*) FROM ({query}) AS wk_reference")).scalar()  # noqa: S608 -- the user's own query
        except sa.exc.SQLAlchemyError as exc:
            raise sql_error(url, exc) from None
        finally:
            engine.dispose()
        return hashlib.sha256(f"sql\n{mask_url(url)}\n{source.query}\n{count}".encode()).hexdigest()

    def describe(self, source: AnySource) -> str:
        assert isinstance(source, SqlSource)
        return f"sql {mask_url(source.url)}" if source.url else f"sql connection {source.conn_id}"

    def mask(self, source: AnySource, text: str) -> str:
        """The URL's password and secret query values masked, as written and with ``${VAR}`` expanded."""
        assert isinstance(source, SqlSource)
        if source.url is None:
            return text
        try:
            expanded = expand_env(source.url)
        except ConfigError:
            expanded = source.url
        return mask_secrets(mask_secrets(text, expanded), source.url)


def sql_url(source: SqlSource) -> str:
    """The SQLAlchemy URL of a SQL source (resolving an Airflow connection id at run time)."""
    if source.url is not None:
        return expand_env(source.url)
    from airflow.sdk import BaseHook  # only at task run time, never at parse time

    try:
        conn = BaseHook.get_connection(str(source.conn_id))
    except Exception as exc:
        raise SourceError(f"Airflow connection {source.conn_id!r} is not defined -- create it or set url") from exc
    uri = conn.get_uri()
    return uri.replace("postgres://", "postgresql+psycopg://", 1)


def sql_error(url: str, exc: BaseException) -> SourceError:
    """One line naming the masked URL, what the database said (secrets masked) and what to check."""
    cause = getattr(exc, "orig", None) or exc
    first = mask_secrets((str(cause).splitlines() or [""])[0].strip(), url)
    hint = "check the query and that the database is up"
    if "timeout" in first.lower() or "cancel" in first.lower():
        hint = "the query was cancelled or timed out: narrow it, add an index on the timestamp, or raise the timeout"
    return SourceError(f"SQL source {mask_url(url)} failed: {type(cause).__name__}: {first} -- {hint}")


def sql_engine(url: str) -> sa.Engine:
    """A SQLAlchemy engine for ``url``; a URL it cannot use is a :class:`SourceError` naming it masked."""
    import sqlalchemy as sa

    try:
        return sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError, ImportError) as exc:
        first = mask_secrets((str(exc).splitlines() or [""])[0], url)
        raise SourceError(
            f"SQL source {mask_url(url)}: not a usable SQLAlchemy URL ({first}) -- write "
            "dialect+driver://user@host:port/database and install the dialect's driver"
        ) from None


def window_params(source: SqlSource, request: ScanRequest, url: str) -> dict[str, Any]:
    """The values of the query's ``:start``/``:end`` for ``request.window`` (none when it uses neither)."""
    if ":start" not in source.query and ":end" not in source.query:
        return {}
    window = request.window
    if window is None:
        raise SourceError("the query uses :start/:end but no window was given -- use it for predictions only")
    if not url.startswith("sqlite"):
        return {"start": window.start, "end": window.end}
    # SQLite stores timestamps as text: compare in the same format, in the zone naive values are read in
    # (a superset when that zone moves its clocks inside the window; the exact filter follows)
    bounds = request.naive_bounds() if request.timestamp else None
    low, high = bounds or (window.start.replace(tzinfo=None), window.end.replace(tzinfo=None))
    if bounds:
        high += timedelta(seconds=1)
    return {"start": _text(low), "end": _text(high)}


def _text(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")
