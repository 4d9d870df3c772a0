"""``make demo`` three times back to back while two busy loops keep both cores busy.

Each run is ``scripts/demo.py`` as a newcomer runs it (fresh ``.demo/`` each time; the next run
stops the previous one's Airflow); the busy loops (``python -c 'while True: pass'``, one per core)
start before the first run and are stopped after the last. Records, per run: exit code, wall
time, the summary's completeness, wall time by phase, DAG runs and their states, API calls the
client had to retry, versions, promotions and drift decisions; writes
``benchmarks/results/demo_under_load.json``.

    .venv/bin/python benchmarks/bench_demo_under_load.py            # 3 runs
    .venv/bin/python benchmarks/bench_demo_under_load.py --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import _bench

DEMO = Path(os.environ.get("BANTAY_DEMO_DIR", _bench.ROOT / ".demo"))


def one_run(n: int, timeout: float) -> dict:
    (DEMO / "summary.json").unlink(missing_ok=True)
    log = _bench.ROOT / "benchmarks" / "results" / f"demo_under_load.run{n}.log.tmp"
    t0 = time.monotonic()
    with open(log, "w") as out:
        try:
            code = subprocess.run(
                [sys.executable, str(_bench.ROOT / "scripts" / "demo.py")],
                cwd=_bench.ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            ).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    wall = time.monotonic() - t0
    summary = (
        json.loads((DEMO / "summary.json").read_text()) if (DEMO / "summary.json").exists() else {}
    )
    runs = summary.get("runs", [])
    return {
        "run": n,
        "exit_code": code,
        "wall_seconds": round(wall, 1),
        "load_average_after": list(os.getloadavg()),
        "complete": summary.get("complete", False),
        "error": summary.get("error"),
        "metadata_database": summary.get("metadata_database"),
        "api_retries": summary.get("api_retries"),
        "phases_seconds": {name: round(s, 1) for name, s in summary.get("timings", [])},
        "dag_runs": dict(Counter(f"{r['dag_id']} {r['state']}" for r in runs)),
        "versions": [(v["version"], v["status"]) for v in summary.get("versions", [])],
        "promotions": [(p["kind"], p["from"], p["to"]) for p in summary.get("promotions", [])],
        "drift": [(d["date"], d["verdict"], d["decision"]) for d in summary.get("drift", [])],
        "emails": len(summary.get("emails", [])),
        "log_tail": log.read_text().splitlines()[-25:] if code != 0 else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="busy loops")
    parser.add_argument("--timeout", type=float, default=1800, help="per run, seconds")
    args = parser.parse_args()
    load_before = list(os.getloadavg())
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    results: list[dict] = []
    params = {"runs": args.runs, "busy_loops": args.busy, "load_average_before": load_before}
    notes = [
        "Busy loops ran for the whole series on top of whatever else the shared machine was "
        "running (see the load averages)."
    ]
    try:
        for n in range(1, args.runs + 1):
            print(f"run {n}/{args.runs} ...", flush=True)
            results.append(one_run(n, args.timeout))
            r = results[-1]
            print(
                f"run {n}: exit {r['exit_code']}, {r['wall_seconds']} s, complete={r['complete']}"
            )
            # Written after every run: a series stopped half-way keeps what it measured.
            path = _bench.write_results("demo_under_load", params, {"runs": results}, notes)
    finally:
        for proc in busy:
            proc.terminate()
        for proc in busy:
            proc.wait(timeout=10)
        subprocess.run(
            [sys.executable, str(_bench.ROOT / "scripts" / "demo.py"), "--stop"],
            cwd=_bench.ROOT,
            capture_output=True,
            timeout=300,
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
