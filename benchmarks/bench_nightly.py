"""The nightly cycle (features -> scoring -> drift) at reference scale under Airflow's real
scheduler (not ``dag.test``), using the demo's local stack (``scripts/airflow_local.py``).

Set-up (not timed): a fresh local stack (S3 endpoint, SMTP sink, Airflow metadata on PostgreSQL
when one answers on loopback), ``--learners`` x ``--days`` simulated days, the registry, ``feast
apply``, every day but the last ``--cycles`` validated and materialized (``bantay features
materialize``), and a first model trained and promoted by the real training DAG (one logistic
regression, 28-day window: set-up only).

Measured, for each of the last ``--cycles`` days, as a scheduler-driven night would run it:
trigger ``bantay_features`` for the day, wait for the Asset-triggered ``bantay_scoring`` run
(started when the day's partitions are accepted, beside the online materialization), then
trigger ``bantay_drift`` for the day. From Airflow's REST API (task instance start and end):

* **cycle wall**: from the features trigger until the last of its runs ends (the online
  materialization runs beside scoring and drift, so the features run may end last);
* **per DAG**: run wall (queued -> end) and the sum of its task durations;
* **per task**: duration;
* **scheduler overhead**: the part of the cycle in which no task of it was running (cycle wall
  minus the union of the tasks' start-end intervals), as a share of the cycle: queueing,
  scheduling, process start before the task's clock starts;
* **peak memory**: the largest resident set of the whole stack (every process of its sessions)
  and of one process, sampled every 0.25 s.

    .venv/bin/python benchmarks/bench_nightly.py                    # 50,000 x 120, 3 cycles
    .venv/bin/python benchmarks/bench_nightly.py --quick            # 2,000 x 40, 2 cycles
    .venv/bin/python benchmarks/bench_nightly.py --label before     # results/nightly.before.json
    .venv/bin/python benchmarks/bench_nightly.py --executor local   # Airflow's stock LocalExecutor
    .venv/bin/python benchmarks/bench_nightly.py --learners 500000 --days 40 --online redis \
        --training-window 28                                         # 500,000 learners

Nothing in the nightly cycle reads further back than its windows (the views' 14-day TTL, the
drift check's 7-day window and 14-day reference, the 42-day label look-back), so the history's
length changes the set-up, not the cycle: at 500,000 learners 40 days stand in for 120.

``--online redis`` runs the production-shaped online store (``feature_store.redis.yaml``) on the
Redis server at 127.0.0.1:6379, database ``--redis-db``, flushed before and after.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _bench

sys.path.insert(0, str(_bench.ROOT / "scripts"))

from airflow_local import BIN, LocalAirflow  # noqa: E402

MODEL = "learner_risk"
TRAINING = f"bantay_training_{MODEL}"


def bench_models(training_window: int, explain: bool = True) -> list[dict[str, Any]]:
    """One logistic regression, trained once in the set-up: the cycle scores with it (with
    reasons and attributions unless ``explain`` is off)."""
    return [
        {
            "name": MODEL,
            "explain": {"enabled": explain},
            "training_schedule": "manual",
            "training_window_days": training_window,
            "search_space": [
                {"name": "logreg", "estimator": "logistic_regression", "params": {"C": [1.0]}}
            ],
        }
    ]


class MemorySampler(threading.Thread):
    """Peak RSS of every process in the sessions of the stack's components."""

    def __init__(self, stack: LocalAirflow, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.stack, self.every = stack, every
        self.peak_total = 0
        self.peak_process = 0
        self.peak_process_name = ""
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            total = 0
            for proc in list(self.stack.procs.values()):
                try:
                    root = psutil.Process(proc.pid)
                    for p in [root, *root.children(recursive=True)]:
                        rss = p.memory_info().rss
                        total += rss
                        if rss > self.peak_process:
                            self.peak_process = rss
                            self.peak_process_name = " ".join(p.cmdline())[:80]
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self.peak_total = max(self.peak_total, total)
            time.sleep(self.every)


def _ts(value: str | None) -> float | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def run_report(api, dag_id: str, run_id: str) -> dict[str, Any]:
    run = api.run(dag_id, run_id)
    tis = api.task_instances(dag_id, run_id)
    tasks = []
    for ti in tis:
        start, end = _ts(ti.get("start_date")), _ts(ti.get("end_date"))
        name = ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else "")
        tasks.append(
            {
                "task": name,
                "state": ti["state"],
                "start": start,
                "end": end,
                "seconds": (end - start) if start and end else 0.0,
            }
        )
    tasks.sort(key=lambda t: t["start"] or 0)
    queued, end = _ts(run.get("queued_at")), _ts(run.get("end_date"))
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "state": run["state"],
        "queued": queued,
        "end": end,
        "wall_seconds": (end - queued) if queued and end else None,
        "task_seconds_sum": sum(t["seconds"] for t in tasks),
        "tasks": tasks,
    }


def one_cycle(api, stack: LocalAirflow, day: dt.date) -> dict[str, Any]:
    known = {r["dag_run_id"] for r in api.runs("bantay_scoring")}
    t0 = time.time()
    features = api.trigger("bantay_features", f"bench__features__{day}", {"start_date": str(day)})
    # Scoring starts on the features Asset (emitted once the day is accepted) while the features
    # run writes the online store; the drift check (at night: its own cron) follows scoring.
    scoring = api.wait_new_run("bantay_scoring", known, on_wait=stack.check_alive)
    api.wait("bantay_scoring", scoring, on_wait=stack.check_alive)
    drift = api.trigger("bantay_drift", f"bench__drift__{day}", {"date": str(day)})
    api.wait("bantay_drift", drift, on_wait=stack.check_alive)
    api.wait("bantay_features", features, on_wait=stack.check_alive)
    runs = [
        run_report(api, "bantay_features", features),
        run_report(api, "bantay_scoring", scoring),
        run_report(api, "bantay_drift", drift),
    ]
    wall = max(r["end"] for r in runs) - t0
    busy = busy_seconds([(t["start"], t["end"]) for r in runs for t in r["tasks"]])
    return {
        "day": str(day),
        "states": {r["dag_id"]: r["state"] for r in runs},
        "cycle_wall_seconds": wall,
        "task_seconds_sum": sum(r["task_seconds_sum"] for r in runs),
        "task_busy_seconds": busy,
        "scheduler_overhead_seconds": wall - busy,
        "scheduler_overhead_share": (wall - busy) / wall,
        "runs": runs,
    }


def busy_seconds(intervals: list[tuple[float | None, float | None]]) -> float:
    """Length of the union of [start, end] intervals: time in which some task was running."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted((s, e) for s, e in intervals if s is not None and e is not None):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def set_up(stack: LocalAirflow, args, first: dt.date, last: dt.date) -> dict[str, float]:
    bantay = str(BIN / "bantay")
    times = {}
    t0 = time.perf_counter()
    stack.run(
        [bantay, "simulate", "--start", str(first), "--days", str(args.days)]
        + ["--learners", str(args.learners)]
    )
    times["simulate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    stack.run([bantay, "registry", "upgrade"])
    stack.run([bantay, "features", "apply"])
    backfill_end = last - dt.timedelta(days=args.cycles)
    stack.run(
        [bantay, "features", "materialize", "--start", str(first), "--end", str(backfill_end)]
    )
    times["apply_and_backfill_materialize"] = time.perf_counter() - t0
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2,000 learners x 40 days, 2 cycles")
    parser.add_argument("--label", default="", help="results go to nightly.<label>.json")
    parser.add_argument("--keep", action="store_true", help="leave the stack running at the end")
    parser.add_argument(
        "--executor",
        choices=("warm", "local"),
        default="warm",
        help="bantay's WarmLocalExecutor (as shipped) or Airflow's stock LocalExecutor",
    )
    parser.add_argument(
        "--online",
        choices=("sqlite", "redis"),
        default="sqlite",
        help="the embedded SQLite online store (the demo's) or Redis (feature_store.redis.yaml)",
    )
    parser.add_argument("--redis-db", type=int, default=10)
    parser.add_argument(
        "--training-window", type=int, default=28, help="days of the set-up training (only)"
    )
    parser.add_argument(
        "--no-explain", action="store_true", help="score without reasons and attributions"
    )
    args = parser.parse_args()
    if args.quick:
        args.learners, args.days, args.cycles = 2_000, 40, 2

    workdir = Path(tempfile.mkdtemp(prefix="bantay-bench-nightly-"))
    stack = LocalAirflow(workdir, purpose="bench", log=print)
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=args.days - 1)
    sampler = MemorySampler(stack)
    load_at_start = list(__import__("os").getloadavg())
    try:
        stack.prepare(ports=(0, 0, 0))
        stack.env["BANTAY_MODELS"] = json.dumps(
            bench_models(args.training_window, explain=not args.no_explain)
        )
        if args.online == "redis":
            _bench.flush_redis(args.redis_db)
            stack.env["BANTAY_FEAST__STORE_YAML"] = "feature_store.redis.yaml"
            stack.env["BANTAY_FEAST_REDIS"] = f"127.0.0.1:6379,db={args.redis_db}"
        if args.executor == "local":
            stack.env["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
        stack.migrate()
        stack.start_components()
        setup = set_up(stack, args, first, last)
        api = stack.api()
        stack.wait_ready(api)
        t0 = time.perf_counter()
        as_of = dt.datetime.combine(last - dt.timedelta(days=args.cycles), dt.time(), dt.UTC)
        conf = {"reason": "nightly benchmark set-up", "as_of": as_of.isoformat()}
        state = api.wait(TRAINING, api.trigger(TRAINING, "bench__training", conf), timeout=3600)
        if state != "success":
            raise RuntimeError(f"the set-up training run {state}; see {stack.logs}")
        setup["first_training"] = time.perf_counter() - t0
        print(f"set-up done: {setup}", flush=True)
        sampler.start()
        cycles = []
        for n in range(args.cycles, 0, -1):
            day = last - dt.timedelta(days=n - 1)
            cycles.append(one_cycle(api, stack, day))
            c = cycles[-1]
            print(
                f"{day}: cycle {c['cycle_wall_seconds']:.1f} s, tasks running "
                f"{c['task_busy_seconds']:.1f} s, overhead {c['scheduler_overhead_share']:.0%} "
                f"{c['states']}",
                flush=True,
            )
        sampler.stop.set()
        metadata = stack.metadata.describe() if stack.metadata else None
    finally:
        if not args.keep:
            stack.stop(drop_database=True)
            if args.online == "redis":
                _bench.flush_redis(args.redis_db)
    report(args, cycles, setup, sampler, metadata, load_at_start)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


def report(args, cycles, setup, sampler: MemorySampler, metadata, load_at_start) -> None:
    med = _bench.median
    per_dag: dict[str, list[float]] = {}
    per_task: dict[str, list[float]] = {}
    for c in cycles:
        for r in c["runs"]:
            per_dag.setdefault(r["dag_id"], []).append(r["wall_seconds"] or 0.0)
            for t in r["tasks"]:
                per_task.setdefault(f"{r['dag_id']}.{t['task']}", []).append(t["seconds"])
    rows = [
        (
            "nightly cycle (features trigger -> last run end)",
            med([c["cycle_wall_seconds"] for c in cycles]),
        )
    ]
    rows += [(f"  {dag} run (queued -> end)", med(v)) for dag, v in per_dag.items()]
    rows += [(f"    {task}", med(v)) for task, v in per_task.items()]
    rows += [
        ("sum of task durations", med([c["task_seconds_sum"] for c in cycles])),
        (
            "some task running (union of task intervals)",
            med([c["task_busy_seconds"] for c in cycles]),
        ),
        (
            "scheduler overhead (no task running)",
            med([c["scheduler_overhead_seconds"] for c in cycles]),
        ),
    ]
    print()
    print(_bench.table(rows, ["median over cycles", "seconds"]))
    share = med([c["scheduler_overhead_share"] for c in cycles])
    print(f"scheduler overhead share: {share:.0%}")
    print(
        f"peak RSS: whole stack {sampler.peak_total / 2**20:,.0f} MiB; one process "
        f"{sampler.peak_process / 2**20:,.0f} MiB ({sampler.peak_process_name})"
    )
    numbers = {
        "cycle_wall_seconds_median": med([c["cycle_wall_seconds"] for c in cycles]),
        "scheduler_overhead_share_median": share,
        "dag_wall_seconds_median": {k: med(v) for k, v in per_dag.items()},
        "task_seconds_median": {k: med(v) for k, v in per_task.items()},
        "peak_rss_mib_stack": sampler.peak_total / 2**20,
        "peak_rss_mib_one_process": sampler.peak_process / 2**20,
        "peak_rss_process": sampler.peak_process_name,
        "setup_seconds": setup,
        "metadata_database": metadata,
        "load_average_at_start": load_at_start,
        "cycles": cycles,
    }
    name = "nightly" + (f".{args.label}" if args.label else "")
    if args.quick:
        name += ".quick"
    elif (args.learners, args.days) != (50_000, 120):
        name += f".{args.learners}x{args.days}"
    if args.online != "sqlite":
        name += f".{args.online}"
    params = {
        "learners": args.learners,
        "days": args.days,
        "cycles": args.cycles,
        "executor": args.executor,
        "online_store": args.online,
        "set_up_training_window_days": args.training_window,
    }
    print(f"wrote {_bench.write_results(name, params, numbers)}")


if __name__ == "__main__":
    main()
