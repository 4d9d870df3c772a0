"""Running the ``bantay`` command as a person would: a subprocess in a clean deployment
environment, and what its one error says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BANTAY = str(Path(sys.executable).with_name("bantay"))


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A clean deployment environment: nothing inherited from the test run's own services."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BANTAY_", "AIRFLOW_CONN_", "AWS_"))
    }
    return {**clean, "BANTAY_HOME": str(tmp_path), "BANTAY_DATA_DIR": str(tmp_path / "data")}


def run_bantay(
    env: dict[str, str], *args: str, cwd: Path | str | None = None
) -> subprocess.CompletedProcess[str]:
    """``bantay ARGS`` in ``env``, from ``cwd`` (default: the environment's home)."""
    return subprocess.run(
        [BANTAY, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd or env["BANTAY_HOME"],
    )


def error_text(done: subprocess.CompletedProcess[str], exit_code: int | None = None) -> str:
    """The run's one ``bantay: error:`` and what follows it (a configuration error lists every
    problem on lines of its own); the run failed, with ``exit_code`` if given, and no traceback."""
    if exit_code is None:
        assert done.returncode != 0, done.stdout
    else:
        assert done.returncode == exit_code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("bantay: error:")]
    assert len(errors) == 1, done.stderr
    return done.stderr[done.stderr.index("bantay: error:") :]


def error_line(done: subprocess.CompletedProcess[str], exit_code: int | None = None) -> str:
    """The line of the run's one error."""
    return error_text(done, exit_code).splitlines()[0]
