"""The CLI against services that are not there: one line naming the service, where it was looked
for and what to do, a non-zero exit, never a traceback. Run as a subprocess, as a person would."""

from __future__ import annotations

import socket

import pytest

from support import cli as cli_support
from support.cli import error_line, run_bantay

# What every CLI failure promises (docs/RELIABILITY.md).
ONE_LINE = "One line naming the service, where it was looked for and what to do; a non-zero exit; no traceback."


env = cli_support.env  # the fixture: a clean deployment environment


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.promise("CLI", "a PostgreSQL registry that is not there", says=ONE_LINE)
def test_an_unreachable_postgresql_registry(env):
    port = _closed_port()
    env["BANTAY_REGISTRY_URL"] = f"postgresql://bantay:s3cret-pw@127.0.0.1:{port}/bantay"
    line = error_line(
        run_bantay(
            env, "promote", "--model", "learner_risk", "--to", "v1", "--actor", "a", "--reason", "r"
        )
    )
    assert "bantay registry database" in line and f"127.0.0.1:{port}" in line, line
    assert "s3cret-pw" not in line and "BANTAY_REGISTRY_URL" in line


@pytest.mark.promise("CLI", "a stopped Redis online store", says=ONE_LINE)
def test_a_stopped_redis_online_store(env):
    env["BANTAY_FEAST__STORE_YAML"] = "feature_store.redis.yaml"
    env["BANTAY_FEAST_REDIS"] = f"127.0.0.1:{_closed_port()}"
    applied = run_bantay(env, "features", "apply")  # definitions into Feast's (SQLite) registry
    assert applied.returncode == 0, applied.stderr
    line = error_line(run_bantay(env, "features", "show", "--learners", "1"))
    assert "Redis online store" in line and env["BANTAY_FEAST_REDIS"] in line, line
    assert "BANTAY_FEAST_REDIS" in line


@pytest.mark.promise("CLI", "an unreachable Feast registry", says=ONE_LINE)
def test_an_unreachable_feast_registry(env):
    port = _closed_port()
    env["BANTAY_FEAST__STORE_YAML"] = "feature_store.redis.yaml"
    env["BANTAY_FEAST_REGISTRY_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:{port}/feast"
    line = error_line(run_bantay(env, "features", "show", "--learners", "1"))
    assert "Feast registry" in line and f"127.0.0.1:{port}" in line, line
    assert "BANTAY_FEAST_REGISTRY_URL" in line
