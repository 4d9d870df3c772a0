"""A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts.

Bind the fixtures in a test module (``tests/`` is on ``sys.path``, see tests/conftest.py)::

    from support import smtp as fixtures_smtp
    smtp_server = fixtures_smtp.smtp_server
    smtp_connection = fixtures_smtp.smtp_connection
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest
from aiosmtpd.controller import Controller
from devservices import MailSink, ReceivedMessage, free_port  # scripts/: see tests/conftest.py


@dataclasses.dataclass
class SmtpServer:
    host: str
    port: int
    handler: MailSink

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages

    @property
    def data_attempts(self) -> int:
        return self.handler.data_attempts

    def fail_next(self, count: int, reply: str = "421 4.3.0 try again later") -> None:
        """Reject the next ``count`` messages with ``reply`` (4xx transient, 5xx permanent)."""
        self.handler.fail_next(count, reply)

    def drop_next(self, count: int) -> None:
        """Drop the connection in the middle of DATA, without a reply, for the next ``count``
        messages: none of them is kept."""
        self.handler.drop_next(count)


@contextlib.contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    """aiosmtpd Controller on 127.0.0.1 and a free port for as long as the block runs."""
    handler = MailSink()
    last_error: OSError | None = None
    for _ in range(5):  # the free port can be taken between probing and binding
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        try:
            controller.start()
        except OSError as exc:
            last_error = exc
            continue
        try:
            yield SmtpServer("127.0.0.1", port, handler)
        finally:
            controller.stop()
        return
    raise RuntimeError(f"could not start the test SMTP server on 127.0.0.1: {last_error}")


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """aiosmtpd Controller on 127.0.0.1 and a free port; ``.messages`` holds what arrived."""
    with running_smtp_server() as server:
        yield server


def smtp_conn_json(host: str, port: int, **extra: object) -> str:
    """An Airflow ``smtp`` Connection as JSON for ``AIRFLOW_CONN_<ID>``: plain SMTP, no TLS."""
    return json.dumps(
        {
            "conn_type": "smtp",
            "host": host,
            "port": port,
            "extra": {
                "disable_tls": True,
                "disable_ssl": True,
                "timeout": 10,
                "retry_limit": 0,
                "from_email": "bantay@example.org",
                **extra,
            },
        }
    )


@pytest.fixture
def smtp_connection(smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """``smtp_default`` pointing at :func:`smtp_server`; returns the connection id."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_json(smtp_server.host, smtp_server.port)
    )
    return "smtp_default"


class _TableRows(HTMLParser):
    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.rows: list[list[str]] = []
        self._in_table = self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._in_table = dict(attrs).get("id") == self.table_id
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag == "td":
            self._in_cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_table = False
        elif tag == "td":
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.rows[-1][-1] += data.strip()


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """Cell texts of the data rows (``<td>``, not the ``<th>`` header) of ``<table id=...>``."""
    parser = _TableRows(table_id)
    parser.feed(html)
    return [row for row in parser.rows if row]
