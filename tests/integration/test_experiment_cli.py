"""``bantay experiment start|status|stop`` against the local S3 endpoint and a real registry:
the design printed with its sample size (never the assignment key), a second start refused in
one line, the status before any outcome matured, and a recorded stop."""

from __future__ import annotations

import contextlib
import io
import json
from types import SimpleNamespace

import pytest

from bantay.cli import main
from support import model_versions
from support.model_versions import MODEL, publish
from support.services import moto_s3, s3_bucket  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.integration

registry = model_versions.registry
store = model_versions.store
promo = model_versions.promo


def payload(stdout: str) -> dict:
    """The command's JSON: in this process the S3 hook's INFO lines share stdout (a
    subprocess of the CLI logs at WARNING and prints the JSON alone)."""
    return json.loads(stdout[stdout.index("{\n") :])


@pytest.fixture
def bantay(store, promo, registry, monkeypatch):
    """``bantay ARGS`` in this process, on the test's bucket and registry."""
    publish(promo, "v1", 1)
    publish(promo, "v2", 2)
    promo.promote(MODEL, "v1", actor="t", reason="first")
    monkeypatch.setattr("bantay.cli.experiment._store", lambda args: store)
    monkeypatch.setattr("bantay.stores.registry.registry_for", lambda settings: registry)
    monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

    def run(*args: str) -> SimpleNamespace:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())

    return run


def test_start_status_stop(bantay, store):
    done = bantay(
        "experiment", "start", MODEL, "v2", "--share", "0.3", "--min-effect", "0.03",
        "--start", "2026-03-02", "--reason", "does v2 help?",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = payload(done.stdout)
    assert "key" not in record and store.pointers.experiment(MODEL)["key"]
    assert record["control"] == "v1" and record["plan"]["share"] == 0.3
    assert record["sample_size"]["per_arm"] > record["sample_size"]["fixed_per_arm"] > 1000
    assert record["schedule"][0] == "2026-03-23"

    again = bantay("experiment", "start", MODEL, "v2", "--reason", "twice")
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    assert "already runs experiment" in again.stderr

    status = bantay("experiment", "status", MODEL, "--as-of", "2026-03-10")
    assert status.returncode == 0, status.stderr
    assert "decision: not yet" in status.stdout and "let bantay_scoring run" in status.stdout

    stopped = bantay("experiment", "stop", MODEL, "--reason", "staff asked", "--actor", "ana")
    assert stopped.returncode == 0, stopped.stderr
    assert payload(stopped.stdout)["stopped_by"] == "ana"
    shown = bantay("experiment", "status", MODEL, "--json")
    assert shown.returncode == 0, shown.stdout[:300] + shown.stderr
    shown = payload(shown.stdout)
    assert shown["experiment"]["status"] == "stopped"
    assert shown["experiment"]["stop_reason"] == "staff asked"


def test_a_bad_share_is_one_line_naming_the_option(bantay):
    done = bantay("experiment", "start", MODEL, "v2", "--share", "1.5", "--reason", "r")
    assert done.returncode == 2 and "--share 1.5 must be in (0, 1)" in done.stderr
