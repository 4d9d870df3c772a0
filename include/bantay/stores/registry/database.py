"""The registry database itself: one engine per backend, sessions, and the Alembic migrations.

``RegistryDatabase`` is shared by every repository of a ``Registry`` (versions, promotions,
drift reports, baselines): one engine and one pair of session factories per registry.

SQLite gets real transactions (SQLAlchemy's documented recipe), so a writer can take the write
lock up front; PostgreSQL serialises concurrent upgrades with an advisory lock. The schema is
owned by the migrations in ``bantay/migrations``; no ``alembic.ini`` is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bantay.stores.connections import DEFAULT_REGISTRY_CONN_ID, redact_url
from bantay.stores.registry.errors import RegistryError

log = logging.getLogger(__name__)

# The migrations stay beside the registry package, in ``bantay/stores/migrations``.
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
# Own version table, so the registry can share a database (even Airflow's) without colliding.
ALEMBIC_VERSION_TABLE = "bantay_alembic_version"
# Arbitrary constant: serialises concurrent ``upgrade()`` calls on PostgreSQL.
_PG_MIGRATION_LOCK = 0x62616E746179  # "bantay"


def _is_sqlite_memory(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _make_engine(url: str) -> Engine:
    """An engine tuned per backend; SQLite gets real transactions (see ``_sqlite_begin``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if _is_sqlite_memory(parsed):
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions start (SQLAlchemy's
    # documented recipe): DDL becomes transactional and BEGIN IMMEDIATE becomes possible.
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: sa.Connection) -> None:
    # Writers take the write lock up front so two read-then-write transactions cannot deadlock
    # into an immediate "database is locked"; they queue on the busy timeout instead.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(connection: sa.Connection | None = None, url: str | None = None) -> Config:
    """An Alembic ``Config`` for bantay's migrations, built in code (no ``alembic.ini``).

    Pass an open ``connection`` (preferred) or a ``url``; useful for ``alembic.command.*``, e.g.
    ``command.revision(alembic_config(url=...), autogenerate=True, message="...")``.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


class RegistryDatabase:
    """The engine, sessions and migrations of the registry database at ``url``."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._engine = _make_engine(url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._writer = self._engine.execution_options(sqlite_begin="IMMEDIATE")
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.redacted_url!r})"

    @property
    def redacted_url(self) -> str:
        """The database URL with its password masked: safe to log."""
        return redact_url(self._url)

    @property
    def engine(self) -> Engine:
        return self._engine

    def dispose(self) -> None:
        """Close pooled connections (tests, and before dropping a database)."""
        self._engine.dispose()

    # -- migrations ------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``; safe to call on every start, from many processes.

        PostgreSQL: serialised with a transaction-scoped advisory lock. SQLite: the whole upgrade
        runs in one ``BEGIN IMMEDIATE`` transaction, so a second caller waits, then finds head.
        """
        engine = self._writer
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
                command.upgrade(alembic_config(conn), revision)
        except OperationalError as exc:
            raise RegistryError(
                f"cannot migrate the registry database {redact_url(self._url)}: "
                f"{exc.orig.__class__.__name__}: {str(exc.orig).strip()}. Check that the "
                "database is reachable and the URL ($BANTAY_REGISTRY_URL or Airflow connection "
                f"{DEFAULT_REGISTRY_CONN_ID!r}) is right."
            ) from None
        log.info("registry %s at migration %s", redact_url(self._url), self.current_revision())

    def require_current(self) -> None:
        """Fail with what to run when the database is not at the code's migration head.

        Migrations are a deploy step (``bantay registry upgrade``), never a side effect of a task.
        """
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        current = self.current_revision()
        if current != head:
            raise RegistryError(
                f"the registry database {redact_url(self._url)} is at migration "
                f"{current or 'none (empty database)'}, this code needs {head}: run "
                "`bantay registry upgrade` (a deploy step) and retry"
            )

    def current_revision(self) -> str | None:
        """The applied migration revision, or None for an empty database."""
        with self._engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": ALEMBIC_VERSION_TABLE})
            return ctx.get_current_revision()

    # -- sessions --------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (no transaction held open beyond what the reads need)."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction, committed on success (SQLite: the write lock is
        taken at its start, so two read-then-write transactions queue instead of deadlocking)."""
        with self._write_sessions() as session, session.begin():
            yield session
