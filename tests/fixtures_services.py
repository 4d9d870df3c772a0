"""Reusable fixtures for real local services: an S3 endpoint (moto over HTTP) and PostgreSQL.

Import the ones you need into a test module explicitly (``tests/`` is on ``sys.path``, see
``tests/conftest.py``)::

    from fixtures_services import aws_connection, moto_s3, pg_url, s3_bucket  # noqa: F401

* ``moto_s3``: a moto S3 server on 127.0.0.1 at a free port; yields its endpoint URL, creates
  nothing. One server per test module (module scope, so state never leaks between modules).
* ``s3_bucket``: a uniquely named, empty bucket on that server; yields ``(client, bucket)``.
* ``aws_connection``: defines Airflow connection ``aws_default`` (env ``AIRFLOW_CONN_AWS_DEFAULT``)
  pointing at the server, with distinctive fake credentials; yields them as a dict so a test
  can assert they never reach logs.
* ``pg_url``: a fresh, uniquely named PostgreSQL database per test; yields a SQLAlchemy URL
  ``postgresql+psycopg2://postgres@127.0.0.1:5432/<db>`` and drops the database afterwards.
  ``BANTAY_TEST_PG_URL`` overrides the server (any database on it; it is used only to connect).

Only loopback traffic; every name is unique per run so parallel sessions do not collide.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

PG_URL_ENV = "BANTAY_TEST_PG_URL"
DEFAULT_PG_SERVER_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"

# Distinctive on purpose: tests grep logs for them.
FAKE_ACCESS_KEY = "AKIABANTAYFAKEKEY0042"
FAKE_SECRET_KEY = "bantay-fake-secret-Zq8x7Wv6Ut5"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serialised_moto_server(port: int) -> Any:
    """A ``ThreadedMotoServer`` whose requests are handled one at a time.

    Real S3 applies a conditional write (If-Match / If-None-Match) atomically. moto checks the
    condition and then writes, without a lock, so two truly simultaneous requests could both
    pass the check. Serialising requests restores S3's contract; it changes nothing else.
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class _SerialisedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def serialised(environ: dict[str, Any], start_response: Any) -> list[bytes]:
                with lock:
                    return list(app(environ, start_response))

            self._server = make_server(
                self._ip_address,
                self._port,
                serialised,
                threaded=True,
                request_handler=MotoRequestHandler,
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return _SerialisedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[str]:
    """Endpoint URL of a moto S3 server on 127.0.0.1 (real HTTP, conditional writes)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request
    port = free_port()
    server = _serialised_moto_server(port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_client_for(endpoint_url: str) -> Any:
    """A plain boto3 S3 client for the test endpoint (fake credentials, us-east-1)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=FAKE_ACCESS_KEY,
        aws_secret_access_key=FAKE_SECRET_KEY,
        region_name="us-east-1",
    )


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


def pg_server_url() -> str:
    """The PostgreSQL server tests use: ``$BANTAY_TEST_PG_URL`` or local trust-auth postgres."""
    return os.environ.get(PG_URL_ENV) or DEFAULT_PG_SERVER_URL


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for as long as the block runs; dropped (WITH FORCE) after."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    server = make_url(pg_server_url())
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"bantay_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {server.render_as_string(hide_password=True)} "
            f"({str(exc.orig).strip().splitlines()[0]}). Start it (.ci/run does: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set "
            f"{PG_URL_ENV} to a server URL such as {DEFAULT_PG_SERVER_URL}",
            pytrace=False,
        )
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL database, dropped (WITH FORCE) after the test."""
    with pg_database() as url:
        yield url
