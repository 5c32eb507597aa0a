"""Alembic environment of the metric store, shipped inside the package.

Normally run by :meth:`watchkeeper.store.MetricStore.migrate`, which passes an open connection in
``config.attributes["connection"]`` (inside a transaction it owns). Without one, a connection is made
to ``sqlalchemy.url`` of the Alembic config or, failing that, to ``$WATCHKEEPER_DATABASE_URL``. The
logging setup of the host process (Airflow) is left alone on purpose: no ``fileConfig`` here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from watchkeeper import settings
from watchkeeper.store.schema import VERSION_TABLE, Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or settings.database_url()


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things: later migrations need batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit the migration SQL as text (``alembic upgrade --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new one to the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.begin() as own_connection:
            _configure(own_connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
