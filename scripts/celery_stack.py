"""Airflow's CeleryExecutor on this machine, configured from the file the compose stack uses.

``docker/airflow.env`` holds the executor settings of ``docker-compose.yaml`` (its ``env_file``).
``scripts/demo.py --executor celery`` (and so the Celery test tier) reads the same file and changes
only where things are: the broker moves from the ``redis`` service to a Redis on loopback, and the
result backend is the metadata database (``db+<url>``), as in the stack. A Celery worker process
then runs every task; each task instance's ``hostname`` names that worker (the worker's
``hostname_callable`` below), as a container's hostname does in the stack.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / "docker" / "airflow.env"
BROKER_KEY = "AIRFLOW__CELERY__BROKER_URL"
RESULT_BACKEND_KEY = "AIRFLOW__CELERY__RESULT_BACKEND"
METADATA_KEY = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
WORKER_NAME_ENV = "BANTAY_CELERY_WORKER"
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """``KEY=VALUE`` lines as Compose reads an ``env_file`` (comments and blank lines skipped)."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: {line!r} is not KEY=VALUE")
        values[key.strip()] = value.strip()
    return values


def celery_environment(metadata_url: str, broker_url: str, path: Path = ENV_FILE) -> dict[str, str]:
    """The shared executor settings with the broker at ``broker_url`` and the result backend on
    the metadata database ``metadata_url`` (PostgreSQL, as in the stack)."""
    settings = read_env_file(path)
    executor = settings.get("AIRFLOW__CORE__EXECUTOR")
    if executor != "CeleryExecutor":
        raise ValueError(f"{path}: AIRFLOW__CORE__EXECUTOR is {executor!r}, not CeleryExecutor")
    if BROKER_KEY not in settings:
        raise ValueError(f"{path}: no {BROKER_KEY}; the stack's broker belongs in this file")
    if not metadata_url.startswith("postgresql"):
        raise ValueError(
            f"the CeleryExecutor needs PostgreSQL as metadata database and result backend; set "
            f"{METADATA_KEY} to a postgresql+psycopg2:// URL (got {metadata_url or 'nothing'!r})"
        )
    settings[BROKER_KEY] = broker_url
    settings[RESULT_BACKEND_KEY] = f"db+{metadata_url}"
    return settings


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the demo's worker: its Celery node name."""
    return os.environ[WORKER_NAME_ENV]


def worker_name() -> str:
    return f"bantay-worker-{os.getpid()}@{socket.gethostname()}"


def worker(env: dict[str, str], name: str) -> tuple[list[str], dict[str, str]]:
    """Command and environment of one Celery worker process named ``name``."""
    airflow = Path(sys.executable).with_name("airflow")
    cmd = [str(airflow), "celery", "worker", "--celery-hostname", name]
    cmd += ["--concurrency", env.get("AIRFLOW__CELERY__WORKER_CONCURRENCY", "2")]
    scripts = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(p for p in (scripts, env.get("PYTHONPATH", "")) if p)
    worker_env = env | {
        WORKER_NAME_ENV: name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{Path(__file__).stem}.worker_hostname",
        "PYTHONPATH": path,
    }
    return cmd, worker_env


def ping(env: dict[str, str], timeout: float = 10) -> list[str]:
    """Node names of the Celery workers that answer on the broker."""
    celery = Path(sys.executable).with_name("celery")
    cmd = [str(celery), "--app", CELERY_APP, "inspect", "ping", "--json", "--timeout", str(timeout)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout + 60)
    if done.returncode != 0:
        return []
    lines = [line for line in done.stdout.splitlines() if line.strip().startswith("{")]
    return sorted(json.loads(lines[-1])) if lines else []
