"""Reusable fixtures for real local services: an S3 endpoint (moto over HTTP) and PostgreSQL.

Import the ones you need into a test module explicitly (``tests/`` is on ``sys.path``, see
``tests/conftest.py``)::

    from support.services import aws_connection, moto_s3, pg_url, s3_bucket  # noqa: F401

* ``moto_s3``: a moto S3 server on 127.0.0.1 at a free port; yields its endpoint URL, creates
  nothing. One server per test module (module scope, so state never leaks between modules).
* ``s3_bucket``: a uniquely named, empty bucket on that server; yields ``(client, bucket)``.
* ``aws_connection``: defines Airflow connection ``aws_default`` (env ``AIRFLOW_CONN_AWS_DEFAULT``)
  pointing at the server, with distinctive fake credentials; yields them as a dict so a test
  can assert they never reach logs.
* ``redis_database(db)``: a client on Redis database ``db`` (``$BANTAY_TEST_REDIS`` host:port,
  default 127.0.0.1:6379), flushed before and after; each test module uses its own number.
* ``pg_url``: a fresh, uniquely named PostgreSQL database per test; yields a SQLAlchemy URL
  ``postgresql+psycopg2://postgres@127.0.0.1:5432/<db>`` and drops the database afterwards.
  ``BANTAY_TEST_PG_URL`` overrides the server (any database on it; it is used only to connect).

Only loopback traffic; every name is unique per run so parallel sessions do not collide.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
REDIS_ENV = "BANTAY_TEST_REDIS"

import devservices  # noqa: E402  (the one dev S3 endpoint, shared with the demo and benchmarks)
from devservices import (  # noqa: E402, F401  (re-exported for test modules)
    DEFAULT_PG_SERVER_URL,
    FAKE_ACCESS_KEY,
    FAKE_SECRET_KEY,
    PG_URL_ENV,
    free_port,
    pg_server_url,
    s3_client_for,
    s3_hook_over,
    serialised_moto_server,
)


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[str]:
    """Endpoint URL of a moto S3 server on 127.0.0.1 (real HTTP, conditional writes)."""
    with devservices.s3_endpoint() as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(moto_s3: str) -> Iterator[tuple[Any, str]]:
    """``(client, bucket)``: a new, uniquely named, empty bucket on the moto server."""
    client = s3_client_for(moto_s3)
    bucket = f"bantay-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    yield client, bucket


@pytest.fixture
def aws_connection(moto_s3: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Airflow connection ``aws_default`` -> the moto server, via ``AIRFLOW_CONN_AWS_DEFAULT``.

    Yields ``{"conn_id", "login", "password", "endpoint_url"}``; ``login``/``password`` are
    distinctive fake secrets to search logs for.
    """
    conn = {
        "conn_type": "aws",
        "login": FAKE_ACCESS_KEY,
        "password": FAKE_SECRET_KEY,
        "extra": {"endpoint_url": moto_s3, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    yield {
        "conn_id": "aws_default",
        "login": FAKE_ACCESS_KEY,
        "password": FAKE_SECRET_KEY,
        "endpoint_url": moto_s3,
    }


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for as long as the block runs; the test fails (with how to
    start PostgreSQL) when the server is not reachable."""
    try:
        manager = devservices.pg_database()
        url = manager.__enter__()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield url
    finally:
        manager.__exit__(None, None, None)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL database, dropped (WITH FORCE) after the test."""
    with pg_database() as url:
        yield url


def redis_address() -> str:
    """``host:port`` of the test Redis: ``$BANTAY_TEST_REDIS`` or 127.0.0.1:6379."""
    return os.environ.get(REDIS_ENV, "127.0.0.1:6379")


@contextlib.contextmanager
def redis_database(db: int) -> Iterator[Any]:
    """A client on Redis database ``db``, flushed before and after the block."""
    import redis

    host, port = redis_address().split(":")
    client = redis.Redis(host=host, port=int(port), db=db)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(
            f"Redis is not reachable at {redis_address()} ({exc}); start it (.ci/run does: "
            "redis-server --daemonize yes --bind 127.0.0.1 --port 6379) or set "
            f"{REDIS_ENV}=host:port",
            pytrace=False,
        )
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()
