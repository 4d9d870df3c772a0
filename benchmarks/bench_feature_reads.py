"""A day's features for every learner, side by side: Feast online reads from SQLite, from Redis,
and scoring's batch read of the accepted partitions (``bantay.serving.batch_features``); and one
day's materialization into each online store, in rows/s.

Set-up: ``--learners`` x ``--days`` simulated days (the views' TTL is 14 days, so a longer history
changes neither read), ``feast apply``, every day but the last materialized into both stores. Then
the last day is materialized into SQLite and into Redis (timed), and the three reads run
``--repeats`` times each, interleaved, for every learner enrolled that day; the three frames must
be equal to the SQLite online store's, or the benchmark fails (Redis differences are counted).

Redis: 127.0.0.1:6379, database ``--redis-db`` (flushed before and after; the tests use db 7).

    .venv/bin/python benchmarks/bench_feature_reads.py              # 50,000 learners x 16 days
    .venv/bin/python benchmarks/bench_feature_reads.py --quick      # 2,000 learners
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import time
from pathlib import Path
from typing import Any

import _bench

FIRST = dt.date(2026, 3, 1)
SERVICE = "learner_risk_v1"


def _store_settings(store_yaml: str):
    """Settings for one online store, with a Feast registry of its own: the registry records
    what was materialized, and bantay skips windows older than that, so two stores sharing one
    registry would see each other's progress (the second store's history would be skipped)."""
    os.environ["BANTAY_FEAST__STORE_YAML"] = store_yaml
    registry = Path(os.environ["BANTAY_HOME"]) / f"feast_registry.{store_yaml}.db"
    os.environ["BANTAY_FEAST_REGISTRY_URL"] = f"sqlite:///{registry}"
    return _bench.settings()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.learners, args.repeats = 2_000, 2

    home = _bench.isolated_home("reads")
    os.environ["BANTAY_FEAST_REDIS"] = f"127.0.0.1:6379,db={args.redis_db}"
    import logging

    import pandas as pd

    logging.disable(logging.INFO)
    from bantay import simulate as sim
    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import materialize
    from bantay.serving.batch_features import batch_features
    from bantay.serving.scoring import active_learners, online_feature_frame
    from bantay.stores.feast_store import apply
    from bantay.stores.feast_store import store as feature_store

    _bench.flush_redis(args.redis_db)
    days = [FIRST + dt.timedelta(days=i) for i in range(args.days)]
    sim.write_range(home / "data" / "raw", FIRST, args.days, sim.Scenario(learners=args.learners))
    lake = _store_settings("feature_store.yaml")
    enforce_for(  # the accepted tree Feast reads
        days, layout=lake.layout, features=lake.features, labels=label_sources(lake.models)
    )
    numbers: dict[str, Any] = {"materialize_one_day": {}, "read_seconds": {}}
    for yaml in ("feature_store.yaml", "feature_store.redis.yaml"):
        settings = _store_settings(yaml)
        apply(settings)
        materialize(
            days[:-1],
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        t0 = time.perf_counter()
        summary = materialize(
            days[-1:],
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        seconds = time.perf_counter() - t0
        store = "redis" if "redis" in yaml else "sqlite"
        # Feast writes the latest row of each learner seen in the window, per view.
        rows = args.learners * len(summary["materialized"])
        numbers["materialize_one_day"][store] = {
            "seconds": seconds,
            "entity_rows": rows,
            "rows_per_s": rows / seconds,
        }
        print(f"materialize one day into {store}: {seconds:.1f} s, {rows / seconds:,.0f} rows/s")

    settings = _store_settings("feature_store.yaml")
    learners = active_learners(settings.layout, days[-1], settings.features.population)
    reads = {
        "Feast online, SQLite": lambda: online_feature_frame(
            feature_store(_store_settings("feature_store.yaml")), SERVICE, learners
        ),
        "Feast online, Redis": lambda: online_feature_frame(
            feature_store(_store_settings("feature_store.redis.yaml")), SERVICE, learners
        ),
        "batch read of accepted partitions": lambda: batch_features(
            feature_store(_store_settings("feature_store.yaml")), SERVICE, learners, days[-1]
        ),
    }
    frames = {}
    for name, read in reads.items():  # warm-up (imports, registry), and the frames to compare
        frames[name] = read().set_index("learner_id").sort_index()
    sqlite = frames["Feast online, SQLite"]
    cols = sorted(sqlite.columns)
    # Scoring's read must give exactly what the SQLite online store holds.
    pd.testing.assert_frame_equal(
        frames["batch read of accepted partitions"][cols], sqlite[cols], check_dtype=False
    )
    redis_frame = frames["Feast online, Redis"][cols]
    differs = ~((redis_frame == sqlite[cols]) | (redis_frame.isna() & sqlite[cols].isna()))
    numbers["redis_rows_differing_from_sqlite"] = int(differs.any(axis=1).sum())
    numbers["redis_rows_missing_where_sqlite_has_values"] = int(
        (redis_frame.isna() & sqlite[cols].notna()).any(axis=1).sum()
    )
    print(
        f"Redis vs SQLite online store: {numbers['redis_rows_differing_from_sqlite']} of "
        f"{len(sqlite)} learners differ "
        f"({numbers['redis_rows_missing_where_sqlite_has_values']} missing in Redis)"
    )
    samples: dict[str, list[float]] = {name: [] for name in reads}
    for _ in range(args.repeats):
        for name, read in reads.items():
            t0 = time.perf_counter()
            read()
            samples[name].append(time.perf_counter() - t0)
    rows = []
    for name, values in samples.items():
        med = _bench.median(values)
        numbers["read_seconds"][name] = {"median": med, "all": values}
        rows.append((name, med, len(learners) / med))
    print(_bench.table(rows, ["read (every enrolled learner)", "seconds", "learners/s"]))
    _bench.flush_redis(args.redis_db)
    params = {"learners": args.learners, "days": args.days, "repeats": args.repeats}
    numbers["learners_read"] = len(learners)
    numbers["batch_equals_sqlite_online"] = True
    name = "feature_reads" + (".quick" if args.quick else "")
    print(f"wrote {_bench.write_results(name, params, numbers)}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
