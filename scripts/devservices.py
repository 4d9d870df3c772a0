"""Local stand-ins for the stack's services, on loopback: an S3 endpoint (moto's server: real S3
API over HTTP, conditional writes included, requests serialised so those writes are atomic as on
S3) and an SMTP sink that keeps every message as an ``.eml`` file. Runs until interrupted.

The one dev S3 endpoint for ``make demo``, the tests (``tests/fixtures_services.py``) and the
benchmarks: import ``serialised_moto_server`` / ``s3_endpoint`` from here (``scripts/`` on
``sys.path``), never a copy.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Distinctive on purpose: tests grep logs for them. Dev-only; the endpoint accepts any key.
FAKE_ACCESS_KEY = "AKIABANTAYFAKEKEY0042"
FAKE_SECRET_KEY = "bantay-fake-secret-Zq8x7Wv6Ut5"
PG_URL_ENV = "BANTAY_TEST_PG_URL"
DEFAULT_PG_SERVER_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def free_port(preferred: int = 0) -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago: ``preferred`` when it is, else any."""
    for port in dict.fromkeys((preferred, 0)):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free TCP port on 127.0.0.1")


def serialised_moto_server(port: int, ip_address: str = "127.0.0.1") -> Any:
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

    return _SerialisedMotoServer(ip_address=ip_address, port=port, verbose=False)


@contextlib.contextmanager
def s3_endpoint(port: int | None = None) -> Iterator[str]:
    """A serialised moto S3 server on 127.0.0.1 for as long as the block runs; yields its URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request
    port = port or free_port()
    server = serialised_moto_server(port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_client_for(endpoint_url: str) -> Any:
    """A boto3 S3 client for the dev endpoint (fake credentials, us-east-1, SigV4)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=FAKE_ACCESS_KEY,
        aws_secret_access_key=FAKE_SECRET_KEY,
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
    )


def s3_hook_over(client: Any) -> Any:
    """The amazon provider's ``S3Hook`` working through ``client`` (the dev endpoint's client, or
    a test's wrapper around it) instead of one it would build from an Airflow connection.

    The hook has no connection to build anything else from, so ``client`` should sign with
    SigV4, as ``s3_client_for`` does: presigned links are then made by this very client."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=None)
    hook.conn = client  # ``conn`` caches the hook's client; every hook call goes through it
    return hook


def pg_server_url() -> str:
    """The PostgreSQL server to use: ``$BANTAY_TEST_PG_URL`` or local trust-auth postgres."""
    return os.environ.get(PG_URL_ENV) or DEFAULT_PG_SERVER_URL


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for as long as the block runs; dropped (WITH FORCE) after.

    RuntimeError naming the server and how to start it when it is not reachable."""
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
        raise RuntimeError(
            f"PostgreSQL is not reachable at {server.render_as_string(hide_password=True)} "
            f"({str(exc.orig).strip().splitlines()[0]}). Start it (.ci/run does: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set "
            f"{PG_URL_ENV} to a server URL such as {DEFAULT_PG_SERVER_URL}"
        ) from None
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclasses.dataclass(frozen=True)
class ReceivedMessage:
    content: bytes  # the message exactly as received (envelope.content)
    mail_from: str
    rcpt_tos: list[str]


class MailSink:
    """aiosmtpd handler that keeps every accepted message: in memory (``messages``) and, given a
    folder, as ``<n>-<timestamp>.eml`` there. It can answer the next N DATA commands with an
    error reply, as a failing relay would (``fail_next``), or drop the connection once the
    message is in, before any reply, as a relay that crashes or restarts would (``drop_next``)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        self.messages: list[ReceivedMessage] = []
        self.data_attempts = 0
        self._lock = threading.Lock()
        self._failures: list[str] = []
        self._drops = 0

    def drop_next(self, count: int) -> None:
        """Close the connection of the next ``count`` messages in the middle of DATA: the
        message is received but neither kept nor answered, so the client never hears back."""
        with self._lock:
            self._drops = count

    def fail_next(self, count: int, reply: str = "421 4.3.0 try again later") -> None:
        with self._lock:
            self._failures = [reply] * count

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook)
        with self._lock:
            self.data_attempts += 1
            if self._drops:
                self._drops -= 1
                server.transport.close()
                return "421 4.4.2 connection dropped"  # never written: the transport is closed
            if self._failures:
                return self._failures.pop(0)
            content = envelope.content
            if isinstance(content, str):
                content = content.encode("utf-8")
            self.messages.append(
                ReceivedMessage(content, envelope.mail_from, list(envelope.rcpt_tos))
            )
            if self.folder is None:
                return "250 Message accepted for delivery"
            n = len(list(self.folder.glob("*.eml"))) + 1
            path = self.folder / f"{n:04d}-{time.strftime('%Y%m%dT%H%M%S')}.eml"
            path.write_bytes(envelope.original_content or content)
        return "250 OK kept as " + path.name


def serve(s3_port: int, smtp_port: int, mail_dir: Path, ready_file: Path | None = None) -> None:
    from aiosmtpd.controller import Controller

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    s3 = serialised_moto_server(s3_port)
    s3.start()
    smtp = Controller(MailSink(mail_dir), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    print(
        f"S3 endpoint http://127.0.0.1:{s3_port}  SMTP sink 127.0.0.1:{smtp_port} -> {mail_dir}",
        flush=True,
    )
    if ready_file:
        ready_file.write_text("ready")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    smtp.stop()
    s3.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--s3-port", type=int, default=9010)
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--mail-dir", type=Path, default=Path(".demo/mail"))
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args()
    serve(args.s3_port, args.smtp_port, args.mail_dir, args.ready_file)


if __name__ == "__main__":
    main()
