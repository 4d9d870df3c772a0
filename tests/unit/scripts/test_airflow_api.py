"""The demo's Airflow REST client against a real HTTP server on loopback that fails on purpose:
idempotent calls are retried through 5xx and dropped connections, a retried trigger that finds
its run (409) succeeds, a 4xx is not retried, and giving up says what happened."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))

from airflow_api import Api, ApiError, ApiGaveUp  # noqa: E402


class Script:
    """What the fake API answers, call after call: (status, body) or "drop"."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls: list[tuple[str, str]] = []


@pytest.fixture
def server():
    script = Script([])

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            script.calls.append((self.command, self.path))
            answer = script.answers.pop(0) if script.answers else (200, {})
            if answer == "drop":
                self.close_connection = True
                self.connection.close()
                return
            status, body = answer
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], script
    httpd.shutdown()


def _api(port: int, budget: float = 10.0) -> tuple[Api, list[str]]:
    lines: list[str] = []
    return Api(port, budget=budget, timeout=5, log=lines.append, hint="see the logs"), lines


def test_get_is_retried_through_5xx_and_dropped_connections(server):
    port, script = server
    script.answers = [(500, {"detail": "database is locked"}), "drop", (200, {"state": "running"})]
    api, lines = _api(port)
    assert api.run("d", "r")["state"] == "running"
    assert len(script.calls) == 3 and api.retries == 2
    assert "HTTP 500" in lines[0] and "database is locked" in lines[0]


def test_a_retried_trigger_that_finds_its_run_is_a_success(server):
    port, script = server
    # The first POST reached Airflow (the run exists) but its answer was a 500.
    script.answers = [(500, {"detail": "INSERT INTO log failed"}), (409, {"detail": "exists"})]
    api, _ = _api(port)
    assert api.trigger("bantay_features", "demo__features__2026-11-01", {}) == (
        "demo__features__2026-11-01"
    )
    assert [c[0] for c in script.calls] == ["POST", "POST"]


def test_a_conflict_on_the_first_trigger_is_an_error(server):
    port, script = server
    script.answers = [(409, {"detail": "already exists"})]
    api, _ = _api(port)
    with pytest.raises(ApiError, match="409"):
        api.trigger("bantay_features", "demo__x", {})
    assert len(script.calls) == 1


def test_client_errors_are_not_retried(server):
    port, script = server
    script.answers = [(404, {"detail": "DAG not found"})]
    api, _ = _api(port)
    with pytest.raises(ApiError, match="DAG not found"):
        api.run("nope", "r")
    assert len(script.calls) == 1


def test_giving_up_says_which_call_how_often_and_where_to_look(server):
    port, script = server
    script.answers = [(503, {"detail": "busy"})] * 50
    api, _ = _api(port, budget=2.0)
    with pytest.raises(ApiGaveUp) as err:
        api.run("bantay_scoring", "r1")
    message = str(err.value)
    assert "GET /dags/bantay_scoring/dagRuns/r1" in message
    assert "attempt(s)" in message and "HTTP 503" in message and "see the logs" in message
    assert 2 <= len(script.calls) <= 6
