"""Where one machine stops: the point-in-time training-set build with Feast's DuckDB offline store
(the embedded profile) against the Spark offline store on local Spark (``local[2]``, the
``feature_store.spark.yaml`` profile), as the population grows.

For each size (learners x simulated days, training window in days) the raw partitions are
simulated once; then, per engine, ``feast apply`` and ``bantay.training.dataset.build_training_set``
(labels of the window as the entity frame, ``get_historical_features`` by feature service) run in
a fresh process. The parent samples the RSS of that process and all its children (Spark's JVM and
Python workers are children) every 0.2 s: **peak memory is of the whole process tree**. A build
whose tree grows past ``--memory-budget-gib`` is stopped and recorded as not fitting (the machine
is shared; the budget stands for the memory a worker may take), as is one past ``--timeout``.

    .venv/bin/python benchmarks/bench_crossover.py                 # 50k, 200k, 500k learners
    .venv/bin/python benchmarks/bench_crossover.py --sizes 50000:70:56 200000:70:56
    .venv/bin/python benchmarks/bench_crossover.py --quick         # 2k and 10k learners
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _bench

SCRIPT = Path(__file__).resolve()
FEATURES_SCRIPT = SCRIPT.with_name("bench_features.py")
FIRST_DAY = dt.date(2026, 1, 1)
MODEL = "learner_risk"
ENGINES = {"duckdb": "feature_store.yaml", "spark": "feature_store.spark.yaml"}
DEFAULT_SIZES = ["50000:70:56", "200000:70:56", "500000:35:21"]
QUICK_SIZES = ["2000:30:14", "10000:30:14"]


def _step_build(p: dict[str, Any]) -> dict[str, Any]:
    import logging

    logging.disable(logging.WARNING)
    os.environ["BANTAY_CONFIG"] = p["config"]
    from bantay.stores.feast_store import apply, store
    from bantay.training.dataset import build_training_set
    from bantay.training.run import RunContext

    s = _bench.settings()
    t0 = time.perf_counter()
    apply(s)
    apply_s = time.perf_counter() - t0
    ctx = RunContext(model=MODEL, run_id=f"crossover-{p['engine']}", as_of=p["as_of"], reason="b")
    t0 = time.perf_counter()
    summary = build_training_set(ctx, model=s.model(MODEL), layout=s.layout, feast=store(s))
    return {"_wall_s": time.perf_counter() - t0, "apply_s": apply_s, "summary": summary}


STEPS = {"build": _step_build}


def tree_rss(proc) -> int:
    import psutil

    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker that just exited
            total += p.memory_info().rss
    return total


def measured(payload: dict[str, Any], env: dict[str, str], budget: float, timeout: float) -> dict:
    """Run the build step; sample the process tree's RSS; stop it past ``budget`` bytes."""
    import psutil

    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    cmd = [sys.executable, str(SCRIPT), "--_step", "build", "--_payload", json.dumps(payload)]
    cmd += ["--_out", str(out)]
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            cmd, env=os.environ | env, cwd=_bench.ROOT, stderr=err, start_new_session=True
        )
        proc, peak, status, t0 = psutil.Process(child.pid), 0, "ok", time.perf_counter()
        try:
            while child.poll() is None:
                peak = max(peak, tree_rss(proc))
                if peak > budget or time.perf_counter() - t0 > timeout:
                    status = "over memory budget" if peak > budget else "timeout"
                    break
                time.sleep(0.2)
        finally:  # never leave a build (or Spark's JVM) running behind
            if child.poll() is None:
                os.killpg(child.pid, 9)
                child.wait()
        elapsed = time.perf_counter() - t0
        err.seek(0)
        tail = err.read()[-3000:].decode(errors="replace")
    result: dict[str, Any] = {"status": status, "peak_tree_rss_gib": peak / 1024**3}
    result["process_s"] = elapsed
    if status == "ok" and child.returncode != 0:
        result["status"], result["error"] = f"failed (exit {child.returncode})", tail
    elif status == "ok":
        data = json.loads(out.read_text())
        result |= {"build_s": data["_wall_s"], "apply_s": data["apply_s"]}
        result["rows"] = data["summary"]["rows"]
    out.unlink(missing_ok=True)
    return result


def run_size(spec: str, engines: list[str], args, root: Path) -> dict[str, Any]:
    learners, days, window = (int(x) for x in spec.split(":"))
    home = root / f"{learners}x{days}"
    print(f"== {learners:,} learners x {days} days, window {window} d ({home})", flush=True)
    sim = {"home": str(home), "start": FIRST_DAY.isoformat(), "days": days, "learners": learners}
    simulated = _bench.run_step(FEATURES_SCRIPT, "simulate", sim)
    out: dict[str, Any] = {
        "learners": learners,
        "days": days,
        "window_days": window,
        "simulate_s": simulated["_wall_s"],
        "raw_gib": sum(f.stat().st_size for f in (home / "data" / "raw").rglob("*.parquet"))
        / 1024**3,
    }
    as_of = dt.datetime.combine(FIRST_DAY + dt.timedelta(days=days), dt.time(), dt.UTC)
    for engine in engines:
        engine_home = home / engine
        (engine_home / "airflow").mkdir(parents=True, exist_ok=True)
        if not (engine_home / "data").exists():
            (engine_home / "data").symlink_to(home / "data")
        config = engine_home / "bantay.yaml"
        model = {"name": MODEL, "training_window_days": window}
        config.write_text(json.dumps({"models": [model]}))
        payload = {"home": str(engine_home), "config": str(config), "engine": engine}
        payload["as_of"] = as_of.isoformat()
        env = {"BANTAY_FEAST__STORE_YAML": ENGINES[engine]}
        env["BANTAY_FEAST_REDIS"] = f"{args.redis},db=13"  # the Spark profile's online store
        budget = args.memory_budget_gib * 1024**3
        out[engine] = measured(payload, env, budget, args.timeout)
        print(f"   {engine}: {out[engine]}", flush=True)
    return out


def save(args, sizes: list[str], engines: list[str], results: list[dict], started: dict) -> Path:
    name = "crossover.quick" if args.quick else "crossover"
    if args.label:
        name += f".{args.label}"
    path = _bench.write_results(
        name,
        {"sizes": sizes, "engines": engines, "memory_budget_gib": args.memory_budget_gib},
        {"results": results, "load_average_at_end": list(os.getloadavg())},
        notes=[
            "Shared machine: 2 cores and 24 GiB for several concurrent jobs (load average in "
            "machine and numbers); wall times are upper bounds, memory is this job's own.",
            "Peak memory: RSS of the build process and all its children (Spark's JVM and Python "
            "workers), sampled every 0.2 s; build s excludes imports, feast apply and start-up.",
            "Spark: local[2], spark.driver.memory 2g (feature_store.spark.yaml); it spills "
            "shuffles to disk instead of growing. DuckDB: Feast's DuckDB offline store as shipped.",
            f"Machine at start: {started['load_average_at_start']} load average.",
        ],
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", help="learners:days:window_days", default=None)
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--memory-budget-gib", type=float, default=12.0)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per build")
    parser.add_argument("--redis", default="127.0.0.1:6379")
    parser.add_argument("--quick", action="store_true", help="2k and 10k learners")
    parser.add_argument("--label", default="", help="results go to crossover.<label>.json")
    _bench.add_step_args(parser)
    args = parser.parse_args()
    if args._step:
        _bench.child_main(args, STEPS)
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on a kill
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    engines = args.engines.split(",")
    root = _bench.isolated_home("crossover")
    started = _bench.machine()
    results = []
    for spec in sizes:  # results are written after every size: a long run keeps what it measured
        results.append(run_size(spec, engines, args, root))
        path = save(args, sizes, engines, results, started)
    rows = []
    for r in results:
        for engine in engines:
            e = r[engine]
            rows.append(
                [
                    f"{r['learners']:,} x {r['days']} d (window {r['window_days']})",
                    engine,
                    e["status"],
                    e.get("rows", "-"),
                    e.get("build_s", e["process_s"]),
                    e["peak_tree_rss_gib"],
                ]
            )
    print(_bench.table(rows, ["size", "engine", "status", "rows", "build s", "peak tree RSS GiB"]))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
