"""``make demo``: the whole bantay lifecycle on embedded defaults, through Airflow's real scheduler.

Local stand-ins on loopback (an S3 endpoint, an SMTP sink keeping .eml files), Airflow's
scheduler, dag-processor, triggerer and API server (SQLite metadata, LocalExecutor), the feature
repo applied, ~90 simulated days with a covariate drift near the end, then:

  feature backfill -> first training and promotion -> each day: features -> (Asset) scoring ->
  drift report + e-mail -> drift confirmed -> (Asset) retraining -> new version promoted

It ends with a summary and leaves Airflow running so you can look around; ``make stop`` (or the
next ``make demo``) stops it. Everything lives under ``.demo/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEMO = Path(os.environ.get("BANTAY_DEMO_DIR", ROOT / ".demo")).resolve()
PIDS = DEMO / "pids"
LOGS = DEMO / "logs"
MODEL = "learner_risk"
SHIFTED = "study_minutes,quiz_score_avg"
TIMINGS: list[tuple[str, float]] = []


def say(msg: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class phase:  # noqa: N801 (reads like a statement)
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self):
        self.t0 = time.perf_counter()
        say(f"== {self.name}")

    def __exit__(self, *exc):
        TIMINGS.append((self.name, time.perf_counter() - self.t0))


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise RuntimeError("no free port on 127.0.0.1")


def stop_leftovers() -> None:
    """Stop processes a previous demo left running (pid files under .demo/pids)."""
    if not PIDS.is_dir():
        return
    for pidfile in PIDS.glob("*.pid"):
        try:
            pid = int(pidfile.read_text())
            os.killpg(pid, signal.SIGTERM)
            say(f"stopped leftover {pidfile.stem} (pid {pid})")
        except (ValueError, ProcessLookupError, PermissionError):
            pass
        pidfile.unlink(missing_ok=True)
    time.sleep(2)


def environment(api_port: int, s3_port: int, smtp_port: int) -> dict[str, str]:
    home = DEMO / "bantay"
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(DEMO / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
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
            "BANTAY_CONFIG": str(ROOT / "bantay.yaml"),
            # The demo drives features and drift day by day itself; the Asset-triggered DAGs
            # (scoring, retraining) are started by the scheduler as in production.
            "BANTAY_FEATURES__SCHEDULE": "manual",
            "BANTAY_DRIFT_SCHEDULE": "manual",
            "BANTAY_MODELS": json.dumps([{"name": MODEL, "training_schedule": "manual"}]),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def spawn(name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 (lives as long as the process)
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )
    (PIDS / f"{name}.pid").write_text(str(proc.pid))
    return proc


def run(cmd: list[str], env: dict[str, str]) -> None:
    subprocess.run(cmd, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


class Api:
    """The few Airflow REST calls the demo needs (all-admins demo mode: no token)."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v2"

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def wait_ready(self, dag_ids: list[str], timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                dags = {d["dag_id"] for d in self.call("GET", "/dags?limit=100")["dags"]}
                if set(dag_ids) <= dags:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(2)
        raise TimeoutError(f"Airflow did not list {dag_ids} within {timeout}s; see {LOGS}")

    def trigger(self, dag_id: str, conf: dict) -> str:
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns?limit=100&order_by=-run_after")["dag_runs"]

    def wait(self, dag_id: str, run_id: str, timeout: float = 900) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                if state == "failed":
                    say(f"!! {dag_id} {run_id} failed; see the UI or {LOGS}")
                return state
            time.sleep(2)
        raise TimeoutError(f"{dag_id} {run_id} did not finish in {timeout}s")

    def wait_new_run(self, dag_id: str, known: set[str], timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self.runs(dag_id):
                if r["dag_run_id"] not in known:
                    return r["dag_run_id"]
            time.sleep(2)
        raise TimeoutError(f"no new {dag_id} run within {timeout}s")


def midnight(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(), dt.UTC).isoformat()


def write_summary(api: Api, env: dict[str, str], api_port: int) -> dict:
    """Everything a person (or the end-to-end test) wants to check, as ``summary.json``."""
    os.environ.update({k: v for k, v in env.items() if k.startswith(("BANTAY_", "AIRFLOW"))})
    from bantay.config import get_settings
    from bantay.lifecycle import registry

    reg = registry(get_settings())
    runs = []
    for dag_id in ("bantay_features", "bantay_scoring", "bantay_training", "bantay_drift"):
        for r in api.runs(dag_id):
            runs.append(
                {
                    k: r.get(k)
                    for k in (
                        "dag_id",
                        "dag_run_id",
                        "run_type",
                        "state",
                        "start_date",
                        "end_date",
                        "conf",
                    )
                }
            )
    runs.sort(key=lambda r: r["start_date"] or "")
    data = {
        "ui": f"http://127.0.0.1:{api_port}",
        "runs": runs,
        "versions": [
            {
                "version": v.version,
                "status": v.status,
                "reason": v.reason,
                "run_id": v.airflow_run_id,
            }
            for v in reg.list_versions(MODEL)
        ],
        "promotions": [
            {"kind": p.kind, "from": p.from_version, "to": p.to_version, "actor": p.actor}
            for p in reg.promotions(MODEL)
        ],
        "drift": [
            {
                "date": r.report_date.isoformat(),
                "verdict": r.verdict,
                "decision": r.decision,
                "n_drifted": r.n_drifted,
                "report": r.report_html_uri,
            }
            for r in reg.drift_reports(MODEL)
        ],
        "emails": [p.name for p in sorted((DEMO / "mail").glob("*.eml"))],
        "timings": TIMINGS,
    }
    (DEMO / "summary.json").write_text(json.dumps(data, indent=2, default=str))
    return data


def summary(env: dict[str, str], api_port: int) -> None:
    from bantay.config import get_settings
    from bantay.lifecycle import registry

    reg = registry(get_settings())
    print("\n================ bantay demo summary ================")
    print("\nModel versions:")
    for v in reg.list_versions(MODEL):
        roc = (v.metrics.get("test") or {}).get("roc_auc")
        print(
            f"  {v.version}  {v.status:<10} roc_auc={roc:.3f}  why: {v.reason}"
            if roc
            else f"  {v.version} {v.status}"
        )
    print("\nPromotions (audit log):")
    for p in reg.promotions(MODEL):
        print(
            f"  {p.at:%Y-%m-%d %H:%M} {p.kind:<8} {p.from_version} -> {p.to_version}  by {p.actor}"
        )
    print("\nDrift, day by day:")
    for r in reg.drift_reports(MODEL):
        print(
            f"  {r.report_date}  {r.verdict:<12} {r.n_drifted}/{r.n_features} drifted  decision: {r.decision}"
        )
    mails = sorted((DEMO / "mail").glob("*.eml"))
    print(f"\nE-mails kept by the SMTP sink: {len(mails)} in {DEMO / 'mail'}")
    print(
        f"Reports: s3://bantay/bantay/reports/drift/{MODEL}/<date>/report.html on the local S3 endpoint"
    )
    print(f"Airflow UI: http://127.0.0.1:{api_port}  (demo mode: no login; every user is admin)")
    print("Stop everything with: make stop")
    print("\nWall time by phase:")
    for name, seconds in TIMINGS:
        print(f"  {seconds:7.1f} s  {name}")
    print(f"  {sum(s for _, s in TIMINGS):7.1f} s  total")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--learners", type=int, default=5000)
    parser.add_argument(
        "--airflow-only", action="store_true", help="start services and Airflow, nothing else"
    )
    parser.add_argument("--stop", action="store_true", help="stop a running demo and exit")
    args = parser.parse_args()

    stop_leftovers()
    if args.stop:
        return 0
    with phase("reset .demo and start local S3 + SMTP sink"):
        for sub in ("airflow", "bantay", "mail", "logs"):
            shutil.rmtree(DEMO / sub, ignore_errors=True)
        api_port, s3_port, smtp_port = free_port(8080), free_port(9010), free_port(1025)
        env = environment(api_port, s3_port, smtp_port)
        ready = DEMO / "services.ready"
        ready.unlink(missing_ok=True)
        spawn(
            "services",
            [
                str(BIN / "python"),
                "-m",
                "bantay.devservices",
                "--s3-port",
                str(s3_port),
                "--smtp-port",
                str(smtp_port),
                "--mail-dir",
                str(DEMO / "mail"),
                "--ready-file",
                str(ready),
            ],
            env,
        )
        for _ in range(60):
            if ready.exists():
                break
            time.sleep(0.5)
        import boto3

        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{s3_port}",
            aws_access_key_id="demo",
            aws_secret_access_key="demo-secret",
            region_name="us-east-1",
        ).create_bucket(Bucket="bantay")

    today = dt.datetime.now(dt.UTC).date()
    last = today - dt.timedelta(days=1)
    first = last - dt.timedelta(days=args.days - 1)
    drift_start = last - dt.timedelta(days=4)
    check_days = [drift_start - dt.timedelta(days=1) + dt.timedelta(days=i) for i in range(6)]
    warm_days = [check_days[0] - dt.timedelta(days=i) for i in range(6, 0, -1)]
    backfill_end = warm_days[0] - dt.timedelta(days=1)

    with phase(f"simulate {args.days} days x {args.learners} learners (drift from {drift_start})"):
        run(
            [
                str(BIN / "bantay"),
                "simulate",
                "--start",
                first.isoformat(),
                "--days",
                str(args.days),
                "--learners",
                str(args.learners),
                "--shift",
                f"{SHIFTED}@{drift_start}:2.0",
            ],
            env,
        )
    with phase("airflow db migrate + feast apply (deploy steps)"):
        run([str(BIN / "airflow"), "db", "migrate"], env)
        run([str(BIN / "bantay"), "features", "apply"], env)
    with phase("start Airflow (scheduler, dag-processor, triggerer, api-server)"):
        for component in ("scheduler", "dag-processor", "triggerer", "api-server"):
            spawn(f"airflow-{component}", [str(BIN / "airflow"), component], env)
        api = Api(api_port)
        api.wait_ready(
            [
                "bantay_features",
                "bantay_training",
                "bantay_scoring",
                "bantay_drift",
                "bantay_rollback",
            ]
        )
    if args.airflow_only:
        say(f"Airflow is up at http://127.0.0.1:{api_port}; make stop to stop it")
        return 0

    with phase(f"feature backfill {first} .. {backfill_end} (one run, Params range)"):
        scoring_known = {r["dag_run_id"] for r in api.runs("bantay_scoring")}
        rid = api.trigger(
            "bantay_features",
            {"start_date": first.isoformat(), "end_date": backfill_end.isoformat()},
        )
        api.wait("bantay_features", rid)
        api.wait(
            "bantay_scoring", api.wait_new_run("bantay_scoring", scoring_known)
        )  # Asset-triggered
    with phase("first training, validation gate, promotion"):
        rid = api.trigger(
            "bantay_training",
            # Trained a little before the daily loop, so its cooldown is over when drift starts.
            {
                "reason": "first model (make demo)",
                "as_of": midnight(warm_days[0] - dt.timedelta(days=2)),
            },
        )
        api.wait("bantay_training", rid)
    with phase(f"daily features -> scoring -> drift for {warm_days[0]} .. {last}"):
        training_known = {r["dag_run_id"] for r in api.runs("bantay_training")}
        for day in warm_days + check_days:
            scoring_known = {r["dag_run_id"] for r in api.runs("bantay_scoring")}
            api.wait(
                "bantay_features", api.trigger("bantay_features", {"start_date": day.isoformat()})
            )
            api.wait("bantay_scoring", api.wait_new_run("bantay_scoring", scoring_known))
            if day in check_days:
                api.wait("bantay_drift", api.trigger("bantay_drift", {"date": day.isoformat()}))
                say(f"{day}: drift checked")
            else:
                say(f"{day}: scored")
    with phase("retraining started by the drift Asset event"):
        new = [r for r in api.runs("bantay_training") if r["dag_run_id"] not in training_known]
        if new:
            for r in new:
                say(
                    f"bantay_training {r['dag_run_id']} ({r['run_type']}): {api.wait('bantay_training', r['dag_run_id'])}"
                )
        else:
            say("no drift-triggered training run (see the drift decisions below)")
    write_summary(api, env, api_port)
    summary(env, api_port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
