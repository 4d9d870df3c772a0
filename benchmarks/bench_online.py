"""Online stores at reference scale: Redis (the stack's store) against SQLite (the embedded one).

For ``--learners`` (50,000) simulated learners and ``--days`` (14) days of raw partitions, each
store gets the same Feast definitions and the same bantay code (only ``BANTAY_FEAST__STORE_YAML``
differs), each step in a fresh subprocess (wall time and peak RSS of that process):

1. materialize the whole history (``bantay.features.materialize.materialize``): every learner's
   latest row of each of the 3 views is written;
2. simulate the next day and materialize only that day (the nightly run);
3. read every learner's online features by feature service in one call (what scoring does);
4. single-learner reads: ``--single`` calls of one learner each (p50, p95, p99 latency).

Redis is the server on 127.0.0.1:6379 (``BANTAY_BENCH_REDIS`` host:port overrides), database
12, flushed before and after.

    .venv/bin/python benchmarks/bench_online.py            # 50,000 learners x 14 days
    .venv/bin/python benchmarks/bench_online.py --quick    # 2,000 learners x 5 days
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path
from typing import Any

import _bench

SCRIPT = Path(__file__).resolve()
FEATURES_SCRIPT = SCRIPT.with_name("bench_features.py")
FIRST_DAY = dt.date(2026, 1, 1)
FIRST_ID = 100_001
REDIS_DB = 12
STORES = {
    "sqlite": ("feature_store.yaml", {}),
    "redis": ("feature_store.redis.yaml", {"BANTAY_FEAST_REDIS": "{redis},db={db}"}),
}


def _step_apply(p: dict[str, Any]) -> dict[str, Any]:
    from bantay.stores.feast_store import apply

    apply(_bench.settings())
    return {}


def _step_read(p: dict[str, Any]) -> dict[str, Any]:
    """All learners in one call, then ``single`` one-learner calls (after one warm-up call)."""
    import logging

    import numpy as np

    from bantay.stores.feast_store import online_features, store

    logging.disable(logging.INFO)
    s = _bench.settings()
    ids = list(range(FIRST_ID, FIRST_ID + p["learners"]))
    service = s.model("learner_risk").feature_service
    store(s)  # registry and store set-up, paid once per process
    t0 = time.perf_counter()
    frame = online_features(s, ids, service)
    batch_s = time.perf_counter() - t0
    missing = int(frame.drop(columns=["learner_id"]).isna().all(axis=1).sum())

    fs = store(s)
    features = fs.get_feature_service(service)
    rng = np.random.default_rng(3)
    fs.get_online_features(features=features, entity_rows=[{"learner_id": ids[0]}]).to_dict()
    latencies = []
    for learner in rng.choice(ids, size=p["single"], replace=True):
        t = time.perf_counter()
        fs.get_online_features(features=features, entity_rows=[{"learner_id": int(learner)}])
        latencies.append(time.perf_counter() - t)
    ms = np.array(latencies) * 1000
    return {
        "_wall_s": batch_s,
        "batch_rows": len(frame),
        "batch_learners_per_s": len(frame) / batch_s,
        "learners_without_features": missing,
        "single_ms": {q: float(np.percentile(ms, int(q[1:]))) for q in ("p50", "p95", "p99")},
    }


STEPS = {"apply": _step_apply, "read": _step_read}


def _redis_client():
    import redis

    host, port = os.environ.get("BANTAY_BENCH_REDIS", "127.0.0.1:6379").split(":")
    return redis.Redis(host=host, port=int(port), db=REDIS_DB)


def run_store(name: str, home: Path, data: Path, days: list[dt.date], args) -> dict[str, Any]:
    store_yaml, extra = STORES[name]
    redis_at = os.environ.get("BANTAY_BENCH_REDIS", "127.0.0.1:6379")
    env = {k: v.format(redis=redis_at, db=REDIS_DB) for k, v in extra.items()}
    env["BANTAY_FEAST__STORE_YAML"] = store_yaml
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    if not (home / "data").exists():
        (home / "data").symlink_to(data)
    payload = {"home": str(home)}
    _bench.run_step(SCRIPT, "apply", payload, env=env)
    step = "materialize"
    history = _bench.run_step(
        FEATURES_SCRIPT, step, payload | {"days": [d.isoformat() for d in days]}, env=env
    )
    next_day = days[-1] + dt.timedelta(days=1)
    one = _bench.run_step(
        FEATURES_SCRIPT, step, payload | {"days": [next_day.isoformat()]}, env=env
    )
    read = _bench.run_step(
        SCRIPT, "read", payload | {"learners": args.learners, "single": args.single}, env=env
    )
    out = {
        "materialize_history_s": history["_wall_s"],
        "materialize_history_peak_rss_mib": history["_peak_rss_mib"],
        "materialize_one_day_s": one["_wall_s"],
        "materialize_one_day_peak_rss_mib": one["_peak_rss_mib"],
        "read_all_s": read["_wall_s"],
        "read_all_learners_per_s": read["batch_learners_per_s"],
        "read_all_peak_rss_mib": read["_peak_rss_mib"],
        "learners_without_features": read["learners_without_features"],
        "single_read_ms": read["single_ms"],
    }
    if name == "redis":
        out["redis_keys"] = _redis_client().dbsize()
    print(f"{name}: {out}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--single", type=int, default=300, help="single-learner reads")
    parser.add_argument("--quick", action="store_true", help="smoke scale: 2,000 x 5 days")
    _bench.add_step_args(parser)
    args = parser.parse_args()
    if args._step:
        _bench.child_main(args, STEPS)
        return
    if args.quick:
        args.learners, args.days, args.single = 2_000, 5, 50

    root = _bench.isolated_home("online")
    data = root / "data"
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range(args.days)]
    print(f"BANTAY_HOME={root}; {args.learners:,} learners x {args.days} days", flush=True)
    sim = {"home": str(root), "learners": args.learners}
    _bench.run_step(
        FEATURES_SCRIPT, "simulate", sim | {"start": days[0].isoformat(), "days": args.days}
    )
    next_day = days[-1] + dt.timedelta(days=1)
    _bench.run_step(FEATURES_SCRIPT, "simulate", sim | {"start": next_day.isoformat(), "days": 1})

    client = _redis_client()
    client.flushdb()
    try:
        numbers = {name: run_store(name, root / name, data, days, args) for name in STORES}
    finally:
        client.flushdb()
    rows = [
        [
            name,
            n["materialize_history_s"],
            n["materialize_one_day_s"],
            n["read_all_s"],
            n["read_all_learners_per_s"],
            n["single_read_ms"]["p50"],
            n["single_read_ms"]["p99"],
        ]
        for name, n in numbers.items()
    ]
    headers = [
        "store",
        "history s",
        "one day s",
        "read all s",
        "learners/s",
        "1 read p50 ms",
        "p99 ms",
    ]
    print(_bench.table(rows, headers))
    name = "online_stores" if not args.quick else "online_stores.quick"
    path = _bench.write_results(
        name,
        {"learners": args.learners, "days": args.days, "single_reads": args.single},
        numbers,
        notes=[
            "Same definitions and bantay code; only BANTAY_FEAST__STORE_YAML differs.",
            "Redis on 127.0.0.1 (same machine): no network latency, which a remote Redis adds.",
            "The machine is shared with other jobs (2 cores): see load_average_at_start.",
        ],
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
