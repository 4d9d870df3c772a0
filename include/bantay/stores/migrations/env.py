"""Alembic environment of the bantay registry, run from code (``bantay.stores.registry``).

``Registry.upgrade()`` passes an open connection in ``config.attributes["connection"]`` inside a
transaction it owns (with a lock held), so migrations here never open their own. A URL in the
``sqlalchemy.url`` main option works too (see ``bantay.stores.registry.alembic_config``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from bantay.stores.registry import ALEMBIC_VERSION_TABLE, Base

config = context.config
target_metadata = Base.metadata


def _options(dialect_name: str) -> dict[str, object]:
    return {
        "target_metadata": target_metadata,
        "version_table": ALEMBIC_VERSION_TABLE,
        "render_as_batch": dialect_name == "sqlite",  # SQLite ALTER needs table rebuilds
        "compare_type": True,
    }


def _run_with(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL for review instead of running it (``alembic upgrade --sql``)."""
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "offline migrations need sqlalchemy.url (bantay.stores.registry.alembic_config)"
        )
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_options(url.split(":", 1)[0].split("+", 1)[0]),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(
            "no connection or sqlalchemy.url given; use bantay.stores.registry.Registry(url).upgrade()"
        )
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            _run_with(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
