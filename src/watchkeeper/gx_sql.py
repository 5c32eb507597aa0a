"""Run a model's GX suite inside the database of a ``kind: sql`` prediction log: rows never leave it.

GX's SQL datasource validates a query asset (the log's query with the window bounds written in as
literals) by sending its metrics to the database as SQL. Semantics are GX's SQL semantics: regular
expressions and comparisons run in the database's engine; type expectations are ``skipped`` (GX knows
no column types for a query, see :data:`TYPE_REASON`). The window bounds are the only values written into the query,
rendered by Watchkeeper from datetimes (never from user text).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from watchkeeper.gx_runner import _Outcome, outcomes_of, pandas_batch_definition, to_check_result
from watchkeeper.results import CheckResult, Status, Window

if TYPE_CHECKING:
    from watchkeeper.config import LoadedConfig

log = logging.getLogger(__name__)

#: Expectations GX cannot evaluate on a query asset (it does not know the column types of a query).
TYPE_EXPECTATIONS = frozenset(
    {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list", "expect_column_type_to_be"}
)
TYPE_REASON = (
    "GX does not know the column types of a SQL query, so type expectations are not evaluated in the database "
    "-- the database's schema enforces types; drop the expectation or keep it for file sources"
)


def window_query(query: str, window: Window, url: str, *, timestamp: str, timezone: str) -> str:
    """The log's query for ``window`` as literal SQL (GX query assets take no parameters).

    ``:start``/``:end`` become ``CAST('<UTC ISO>' AS TIMESTAMP WITH TIME ZONE)`` (SQLite: the bounds as
    text in the log's zone, as timestamps are stored there). A query without them is wrapped in a filter
    on the timestamp column.
    """
    import sqlalchemy as sa

    class _Sql(sa.types.UserDefinedType[str]):
        cache_ok = True

        def literal_processor(self, dialect: Any) -> Any:
            return lambda value: value  # values are rendered below from datetimes, never from user text

    sqlite = url.startswith("sqlite")
    engine = sa.create_engine(url) if not sqlite else None
    dialect = engine.dialect if engine is not None else sa.create_engine("sqlite://").dialect

    def bound(value: Any) -> str:
        if sqlite:
            local = value.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
            return f"'{local:%Y-%m-%d %H:%M:%S}'"
        return f"CAST('{value.isoformat()}' AS TIMESTAMP WITH TIME ZONE)"

    text = query.strip().rstrip(";")
    if ":start" not in text and ":end" not in text:
        column = dialect.identifier_preparer.quote(timestamp)
        text = f"SELECT * FROM ({text}) AS wk_window WHERE {column} >= :start AND {column} < :end"  # noqa: S608
    params = [
        sa.bindparam(name, value=bound(getattr(window, name)), type_=_Sql())
        for name in ("start", "end")
        if f":{name}" in text
    ]
    statement = sa.text(text).bindparams(*params)
    rendered = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if engine is not None:
        engine.dispose()
    return rendered


def run_suite_in_database(config: LoadedConfig, window: Window, baseline: dict[str, Any]) -> list[CheckResult]:
    """The model's suite on ``window`` of its SQL prediction log, computed by the database (one result each).

    An empty window is one ``skipped`` result (as for files); a database or GX failure is one ``error``
    result naming the masked URL -- the other checks of the run stand.
    """
    from watchkeeper.catalogs.sources import mask_secrets, mask_url
    from watchkeeper.config import SqlSource
    from watchkeeper.gx_suite import load_suite_dict, suite_parameters
    from watchkeeper.sources import sql_url

    suite_name = config.model.quality.suite
    if suite_name is None:
        return []
    source = config.model.predictions.source
    if not isinstance(source, SqlSource):
        raise TypeError(f"model {config.model.name}: run_suite_in_database needs a kind: sql prediction log")

    def error(text: str) -> list[CheckResult]:
        return [CheckResult("quality", "gx_suite", suite_name, None, None, Status.ERROR, text)]

    try:
        data = load_suite_dict(config)
    except Exception as exc:
        return error(str(exc))
    assert data is not None
    url = sql_url(source)
    log_cfg = config.model.predictions
    try:
        query = window_query(source.query, window, url, timestamp=log_cfg.timestamp, timezone=log_cfg.timezone)
        n_rows = _count(url, query, log_cfg.timezone)
        if n_rows == 0:
            return [CheckResult("quality", "gx_suite", suite_name, None, None, Status.SKIPPED, "no data in window")]
        expectations = data["expectations"]
        outcomes = _validate(
            config,
            url,
            query,
            expectations=expectations,
            parameters=suite_parameters(baseline),
            timezone=log_cfg.timezone,
        )
    except Exception as exc:  # the database or GX failed: one error result, secrets masked
        first = mask_secrets((str(exc).splitlines() or [""])[0], url)
        log.error("model=%s: GX suite %s in the database failed: %s", config.model.name, suite_name, first)
        return error(
            f"GX suite {suite_name} could not run in the database {mask_url(url)}: {type(exc).__name__}: {first} "
            "-- check the query and that the database is up"
        )
    return [to_check_result(exp, outcomes[i]) for i, exp in enumerate(expectations)]


def _connect_args(url: str, timezone: str) -> dict[str, Any]:
    """PostgreSQL sessions in the log's zone: a naive ``timestamp`` compares like Watchkeeper reads it."""
    if url.startswith(("postgresql", "postgres")):
        return {"connect_args": {"options": f"-c TimeZone={timezone}"}}
    return {}


def _count(url: str, query: str, timezone: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url, **_connect_args(url, timezone))
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM ({query}) AS wk_count")).scalar() or 0)  # noqa: S608
    finally:
        engine.dispose()


def _datasource(context: Any, url: str, timezone: str) -> Any:
    """GX's datasource for the dialect (PostgreSQL and SQLite have their own; others the generic SQL one)."""
    sources = context.data_sources
    if url.startswith("sqlite"):
        return sources.add_sqlite("watchkeeper_sql", connection_string=url)
    if url.startswith(("postgresql", "postgres")):
        return sources.add_postgres("watchkeeper_sql", connection_string=url, kwargs=_connect_args(url, timezone))
    return sources.add_sql("watchkeeper_sql", connection_string=url)


def _validate(
    config: LoadedConfig,
    url: str,
    query: str,
    *,
    expectations: list[dict[str, Any]],
    parameters: dict[str, Any],
    timezone: str,
) -> dict[int, _Outcome]:
    pandas_batch_definition(config.model.name)  # a quiet GX (loggers, progress bars) before the SQL context
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    try:
        context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    except Exception:  # progress bars only cost log noise
        log.debug("cannot disable GX progress bars")
    datasource = _datasource(context, url, timezone)
    asset = datasource.add_query_asset(config.model.name, query=query)
    batch = asset.add_batch_definition_whole_table("window").get_batch()
    outcomes: dict[int, _Outcome] = {}
    tagged = []
    for i, exp in enumerate(expectations):
        if exp.get("type") in TYPE_EXPECTATIONS:
            outcomes[i] = _Outcome(str(exp["type"]), dict(exp.get("kwargs") or {}), True, {}, skipped=TYPE_REASON)
            continue
        copy = json.loads(json.dumps(exp))
        copy["meta"] = {**(copy.get("meta") or {}), "__watchkeeper_index__": i}
        tagged.append(copy)
    if tagged:
        suite = gx.ExpectationSuite(name=str(config.model.quality.suite), expectations=tagged)
        outcomes.update(outcomes_of(batch.validate(suite, expectation_parameters=parameters)))
    return outcomes
