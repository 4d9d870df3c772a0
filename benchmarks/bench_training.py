"""Training cost at reference scale (50,000 learners x 120 days), step by step, plus the
orchestration overhead of the real ``bantay_training`` DAG at a smaller scale.

Steps, each in a fresh subprocess, ``--repeats`` times (median wall time of the function and
median peak RSS of the process; heavy libraries are imported before the clock starts and their
import time is reported apart):

1. ``bantay.training.dataset.build_training_set``: labels as the entity frame, Feast's point-in-time
   join over the raw partitions (DuckDB offline store);
2. ``bantay.training.tuning.trials`` and ``tune_one`` for every trial, one after the other, and their
   sum (what the mapped ``tune`` tasks cost on one worker slot); again with
   ``OMP_NUM_THREADS=1`` (HistGradientBoosting is OpenMP-parallel: this is its cost when mapped
   tasks share the cores);
3. ``--dag`` (default on): the real ``bantay_training`` DAG with ``dag.test()`` at
   ``--dag-learners`` x ``--dag-days`` (S3 = moto server on loopback, registry = SQLite, Airflow
   metadata = SQLite), comparing the DAG run's wall time with the sum of its task durations from
   the TaskInstance table. ``dag.test()`` runs every task inside its own process (no scheduler
   loop, no task process start-up), so this overhead is a lower bound for a real deployment.

The training window is the whole simulated history unless ``--window-days`` says otherwise
(``training_window_days`` in a generated ``bantay.yaml``).

    .venv/bin/python benchmarks/bench_training.py            # reference scale
    .venv/bin/python benchmarks/bench_training.py --quick    # 3,000 x 60 days, DAG 2,000 x 60
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _bench

SCRIPT = Path(__file__).resolve()
FEATURES_SCRIPT = SCRIPT.with_name("bench_features.py")
FIRST_DAY = dt.date(2026, 1, 1)
MODEL = "learner_risk"


def write_config(home: Path, window_days: int) -> Path:
    """A ``bantay.yaml`` whose only change from the defaults is the training window."""
    path = home / "bantay.yaml"
    path.write_text(
        json.dumps({"models": [{"name": MODEL, "training_window_days": window_days}]}, indent=2)
    )
    os.environ["BANTAY_CONFIG"] = str(path)
    return path


def as_of(first_day: dt.date, days: int) -> str:
    last = first_day + dt.timedelta(days=days - 1)
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC).isoformat()


def _context(p: dict[str, Any]):
    from bantay.training.run import RunContext

    return RunContext(model=MODEL, run_id=p["run_id"], as_of=p["as_of"], reason="benchmark")


def _preimport(*modules: str) -> float:
    import importlib

    t0 = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    return time.perf_counter() - t0


# -- steps ----------------------------------------------------------------------------------------


def _step_build(p: dict[str, Any]) -> dict[str, Any]:
    import logging

    logging.disable(logging.INFO)
    os.environ["BANTAY_CONFIG"] = p["config"]
    import_s = _preimport(
        "pandas", "pyarrow.dataset", "feast", "bantay.features", "bantay.training.dataset"
    )
    from bantay.stores.feast_store import store
    from bantay.training.dataset import build_training_set

    s = _bench.settings()
    t0 = time.perf_counter()
    summary = build_training_set(_context(p), model=s.model(MODEL), layout=s.layout, feast=store(s))
    return {"_wall_s": time.perf_counter() - t0, "import_s": import_s, "summary": summary}


def _step_tune(p: dict[str, Any]) -> dict[str, Any]:
    import logging

    logging.disable(logging.INFO)
    os.environ["BANTAY_CONFIG"] = p["config"]
    import_s = _preimport(
        "pandas",
        "sklearn.ensemble",
        "sklearn.linear_model",
        "bantay.training",
        "bantay.training.tuning",
    )
    from bantay.simulate.catalogue import feature_set
    from bantay.training.tuning import tune_one

    s = _bench.settings()
    training = {"path": p["path"], "features": feature_set()}
    t0 = time.perf_counter()
    result = tune_one(training, p["trial"], model=s.model(MODEL))
    return {"_wall_s": time.perf_counter() - t0, "import_s": import_s, "result": result}


def _step_dag(p: dict[str, Any]) -> dict[str, Any]:
    """Run the real DAG once with dag.test(); everything but dag.test() is set-up."""
    import uuid

    home = Path(p["home"])
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(_bench.ROOT / "dags")
    os.environ["BANTAY_REGISTRY_URL"] = f"sqlite:///{home / 'registry.db'}"
    bucket = f"bantay-bench-{uuid.uuid4().hex[:8]}"
    os.environ["BANTAY_STORAGE__BUCKET"] = bucket
    os.environ["BANTAY_CONFIG"] = p["config"]

    import logging

    import boto3

    sys.path.insert(0, str(_bench.ROOT / "scripts"))
    from devservices import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, free_port, serialised_moto_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = serialised_moto_server(port)  # the dev endpoint of the demo and the tests
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=FAKE_ACCESS_KEY,
        aws_secret_access_key=FAKE_SECRET_KEY,
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": FAKE_ACCESS_KEY,
            "password": FAKE_SECRET_KEY,
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )
    setup: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        airflow = Path(sys.executable).with_name("airflow")
        for args in (["db", "migrate"], ["dags", "reserialize"]):
            subprocess.run([str(airflow), *args], check=True, capture_output=True, cwd=_bench.ROOT)
        setup["airflow_migrate_and_reserialize_s"] = time.perf_counter() - t0

        from airflow.dag_processing.dagbag import DagBag
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        bag = DagBag(str(_bench.ROOT / "dags"))
        if bag.import_errors:
            raise RuntimeError(f"DAG import errors: {bag.import_errors}")
        dag = bag.get_dag("bantay_training_learner_risk")
        logical = dt.datetime.fromisoformat(p["as_of"])
        t0 = time.perf_counter()
        run = dag.test(
            logical_date=logical, run_conf={"reason": "benchmark run", "as_of": p["as_of"]}
        )
        wall = time.perf_counter() - t0
        with create_session() as session:
            tis = (
                session.query(TaskInstance)
                .filter(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
                .all()
            )
            tasks = [
                {
                    "task_id": ti.task_id,
                    "map_index": ti.map_index,
                    "state": str(ti.state),
                    "duration_s": ti.duration,
                    "start": ti.start_date.isoformat() if ti.start_date else None,
                    "end": ti.end_date.isoformat() if ti.end_date else None,
                }
                for ti in tis
            ]
        starts = [ti.start_date for ti in tis if ti.start_date]
        ends = [ti.end_date for ti in tis if ti.end_date]
        span = (max(ends) - min(starts)).total_seconds() if starts and ends else None
        return {
            "_wall_s": wall,
            "state": str(run.state),
            "run_id": run.run_id,
            "first_task_start_to_last_task_end_s": span,
            "tasks": sorted(tasks, key=lambda t: (t["start"] or "", t["task_id"])),
            "setup": setup,
        }
    finally:
        server.stop()


STEPS = {"build": _step_build, "tune": _step_tune, "dag": _step_dag}


# -- parent -------------------------------------------------------------------------------------


def prepare_data(home: Path, learners: int, days: int) -> dict[str, Any]:
    """Simulate ``days`` days and ``feast apply`` (skipped when ``home`` already has the data)."""
    settings = _bench.settings()
    marker = home / f"simulated-{learners}x{days}"
    out: dict[str, Any] = {"reused": marker.exists()}
    if not marker.exists():
        sim = _bench.run_step(
            FEATURES_SCRIPT,
            "simulate",
            {"home": str(home), "start": FIRST_DAY.isoformat(), "days": days, "learners": learners},
        )
        out["simulate_s"] = sim["_wall_s"]
        marker.touch()
    from bantay.stores.feast_store import apply

    t0 = time.perf_counter()
    apply(settings)
    out["feast_apply_s"] = time.perf_counter() - t0
    return out


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, plus every run's wall time and the median peak RSS."""
    ordered = sorted(runs, key=lambda r: r["_wall_s"])
    mid = dict(ordered[(len(ordered) - 1) // 2])
    mid["_wall_s_all"] = [r["_wall_s"] for r in runs]
    mid["_peak_rss_mib"] = _bench.median([r["_peak_rss_mib"] for r in runs])
    return mid


def run_dag_case(learners: int, days: int, window: int) -> dict[str, Any]:
    """Orchestration overhead: the real DAG at a smaller scale in its own BANTAY_HOME."""
    home = _bench.isolated_home("training-dag")
    config = write_config(home, window)
    data = prepare_data(home, learners, days)
    res = _bench.run_step(
        SCRIPT,
        "dag",
        {"home": str(home), "config": str(config), "as_of": as_of(FIRST_DAY, days)},
    )
    ran = [t for t in res["tasks"] if t["duration_s"] is not None]
    task_sum = sum(t["duration_s"] for t in ran)
    res.update(
        {
            "learners": learners,
            "days": days,
            "window_days": window,
            "data": data,
            "task_duration_sum_s": task_sum,
            "overhead_s": res["_wall_s"] - task_sum,
            "overhead_share": (res["_wall_s"] - task_sum) / res["_wall_s"],
        }
    )
    shutil.rmtree(home, ignore_errors=True)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--window-days", type=int, help="training window (default: --days)")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per step")
    parser.add_argument("--home", type=Path, help="reuse (and keep) this BANTAY_HOME and its data")
    parser.add_argument("--no-dag", action="store_true", help="skip the dag.test() overhead run")
    parser.add_argument("--dag-learners", type=int, default=5_000)
    parser.add_argument("--dag-days", type=int, default=70)
    parser.add_argument("--quick", action="store_true", help="3,000 x 60 days; DAG 2,000 x 60")
    _bench.add_step_args(parser)
    args = parser.parse_args()
    if args._step:
        _bench.child_main(args, STEPS)
        return
    if args.quick:
        args.learners, args.days, args.dag_learners, args.dag_days = 3_000, 60, 2_000, 60
        args.repeats = 1
    window = args.window_days or args.days

    home = _bench.isolated_home("training", args.home)
    config = write_config(home, window)
    print(f"BANTAY_HOME={home}; {args.learners:,} learners x {args.days} days", flush=True)
    data = prepare_data(home, args.learners, args.days)
    ctx = {"home": str(home), "config": str(config), "as_of": as_of(FIRST_DAY, args.days)}
    ctx["run_id"] = f"bench__{args.learners}x{args.days}"

    build = median_run([_bench.run_step(SCRIPT, "build", ctx) for _ in range(args.repeats)])
    summary = build["summary"]
    print(f"training set: {summary['rows']:,} rows in {build['_wall_s']:.1f} s", flush=True)

    from bantay.training.tuning import trials as list_trials

    trials = list_trials(_bench.settings().model(MODEL))
    tuned = []
    for trial in trials:
        payload = {**ctx, "path": summary["path"], "trial": trial}
        res = median_run([_bench.run_step(SCRIPT, "tune", payload) for _ in range(args.repeats)])
        one = median_run(
            [
                _bench.run_step(SCRIPT, "tune", payload, env={"OMP_NUM_THREADS": "1"})
                for _ in range(args.repeats)
            ]
        )
        res["one_thread"] = {"seconds_median": one["_wall_s"], "seconds_all": one["_wall_s_all"]}
        tuned.append({"trial": trial["trial_id"], **res})
        print(f"trial {trial['trial_id']}: {res['_wall_s']:.1f} s", flush=True)
    tune_sum = sum(t["_wall_s"] for t in tuned)
    tune_sum_one = sum(t["one_thread"]["seconds_median"] for t in tuned)

    dag = None
    if not args.no_dag:
        dag = run_dag_case(args.dag_learners, args.dag_days, args.dag_days)
        print(
            f"dag.test(): {dag['_wall_s']:.1f} s wall, tasks {dag['task_duration_sum_s']:.1f} s",
            flush=True,
        )

    rows = [
        (
            "build_training_set",
            build["_wall_s"],
            build["_peak_rss_mib"],
            build["import_s"],
            f"{summary['rows']:,} rows",
        )
    ]
    rows += [
        (
            f"tune_one {t['trial']}",
            t["_wall_s"],
            t["_peak_rss_mib"],
            t["import_s"],
            f"PR AUC {t['result']['pr_auc']:.3f}, fit {t['result']['fit_seconds']:.1f} s",
        )
        for t in tuned
    ]
    rows.append(("tune: sum of trials (medians)", tune_sum, "", "", f"{len(tuned)} trials"))
    rows.append(("tune: sum, OMP_NUM_THREADS=1", tune_sum_one, "", "", "one core per trial"))
    print()
    print(
        _bench.table(
            rows, ["step", "seconds (median)", "peak RSS MiB", "imports s (excl.)", "what"]
        )
    )
    if dag:
        print()
        print(
            _bench.table(
                [(t["task_id"], t["map_index"], t["state"], t["duration_s"]) for t in dag["tasks"]],
                ["task", "map", "state", "duration s"],
            )
        )
        print(
            f"\nDAG {dag['learners']:,} x {dag['days']} days ({dag['state']}): "
            f"dag.test() wall {dag['_wall_s']:.1f} s, sum of task durations "
            f"{dag['task_duration_sum_s']:.1f} s, overhead {dag['overhead_s']:.1f} s "
            f"({dag['overhead_share']:.0%}); first task start to last task end "
            f"{dag['first_task_start_to_last_task_end_s']:.1f} s"
        )
        print(
            "note: dag.test() runs every task in this one process (no scheduler loop, no task "
            "process start-up), so this overhead is a lower bound of a real deployment's"
        )

    numbers = {
        "data": data,
        "build_training_set": {
            "seconds_median": build["_wall_s"],
            "seconds_all": build["_wall_s_all"],
            "peak_rss_mib": build["_peak_rss_mib"],
            "rss_before_step_mib": build["_rss_before_mib"],
            "import_seconds_not_included": build["import_s"],
            "rows": summary["rows"],
            "positives": summary["positives"],
            "window": summary["window"],
        },
        "tune": [
            {
                "trial": t["trial"],
                "seconds_median": t["_wall_s"],
                "seconds_all": t["_wall_s_all"],
                "omp_num_threads_1": t["one_thread"],
                "fit_seconds": t["result"]["fit_seconds"],
                "peak_rss_mib": t["_peak_rss_mib"],
                "import_seconds_not_included": t["import_s"],
                "pr_auc": t["result"]["pr_auc"],
                "roc_auc": t["result"]["roc_auc"],
                "valid_rows": t["result"]["valid_rows"],
            }
            for t in tuned
        ],
        "tune_sum_seconds": tune_sum,
        "tune_sum_seconds_omp_num_threads_1": tune_sum_one,
        "dag_test": dag,
    }
    params = {
        "learners": args.learners,
        "days": args.days,
        "training_window_days": window,
        "repeats": args.repeats,
        "as_of": ctx["as_of"],
        "trials": [t["trial_id"] for t in trials],
        "dag_learners": None if args.no_dag else args.dag_learners,
        "dag_days": None if args.no_dag else args.dag_days,
        "registry_for_dag": "sqlite",
        "quick": args.quick,
    }
    name = "training"
    if args.quick:
        name = "training.quick"
    elif (args.learners, args.days, window) != (50_000, 120, 120):
        name = f"training.{args.learners}x{args.days}.window{window}"  # keep the reference file
    path = _bench.write_results(name, params, numbers)
    print(f"\nwrote {path}")
    if not args.home:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
