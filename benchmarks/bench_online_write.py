"""One day's online materialization, store by store and lever by lever: where the time goes
(Feast's conversion of the rows to protobuf values against the store's own write) and the
process's peak memory.

Set-up (not timed): ``--learners`` x 3 simulated days, accepted by the data contract once and
shared by every variant. Each variant then runs in a fresh process with its own copy of the
feature repository (the shipped profile, changed only as the variant says), its own Feast
registry and online store: ``feast apply``, the first two days materialized, then the third day
materialized and timed (the nightly run: 3 views x one row per learner).

Variants (the first of each store is what bantay ships):

* ``sqlite``: ``feature_store.yaml`` (writes in batches of ``online_write_batch_size``);
* ``sqlite-one-batch``: the same without ``online_write_batch_size`` (one batch per view);
* ``redis``: ``feature_store.redis.yaml`` (batches, ``skip_dedup``: one round trip);
* ``redis-two-trips``: without ``skip_dedup`` (Redis reads the stored event times first);
* ``redis-one-batch``: without ``online_write_batch_size``.

Each variant runs ``--repeats`` times, the variants taking turns (so a slow minute of the machine
does not land on one of them); medians are reported. Redis: 127.0.0.1:6379, database
``--redis-db``, flushed before each Redis run and at the end. The peak RSS is the process's, which
also ran the untimed two-day materialization of the same shape just before.

    .venv/bin/python benchmarks/bench_online_write.py                  # 50,000 learners, 3 runs
    .venv/bin/python benchmarks/bench_online_write.py --learners 500000 --repeats 1 \
        --variants redis redis-one-batch
    .venv/bin/python benchmarks/bench_online_write.py --quick          # 2,000 learners
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

SCRIPT = Path(__file__).resolve()
FIRST = dt.date(2026, 3, 1)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(3)]
VARIANTS = {
    "sqlite": ("feature_store.yaml", {}),
    "sqlite-one-batch": ("feature_store.yaml", {"materialization": None}),
    "redis": ("feature_store.redis.yaml", {}),
    "redis-two-trips": ("feature_store.redis.yaml", {"online_store.skip_dedup": False}),
    "redis-one-batch": ("feature_store.redis.yaml", {"materialization": None}),
}


def variant_repo(home: Path, variant: str) -> tuple[Path, str]:
    """A copy of the feature repository whose profile carries the variant's changes."""
    import yaml

    name, changes = VARIANTS[variant]
    repo = home / "feature_repo"
    shutil.copytree(_bench.ROOT / "feature_repo", repo)
    profile = yaml.safe_load((repo / name).read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        node = profile
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    (repo / name).write_text(yaml.safe_dump(profile, sort_keys=False))
    return repo, name


def _step_variant(p: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process (``_bench.run_step``): apply, materialize two days, time the third."""
    import logging

    repo, profile = variant_repo(Path(p["home"]), p["variant"])
    os.environ.update(
        {
            "BANTAY_DATA_DIR": p["data"],
            "BANTAY_FEAST__REPO_PATH": str(repo),
            "BANTAY_FEAST__STORE_YAML": profile,
            "BANTAY_FEAST_REDIS": f"127.0.0.1:6379,db={p['redis_db']}",
        }
    )
    logging.disable(logging.INFO)
    from feast.infra.online_stores.redis import RedisOnlineStore
    from feast.infra.online_stores.sqlite import SqliteOnlineStore

    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import apply
    from bantay.stores.feast_store import store as feature_store

    settings = _bench.settings()
    apply(settings)
    materialize(
        DAYS[:-1],
        feast=feature_store(settings),
        lateness_days=settings.features.contract.max_lateness_days,
    )
    in_store = [0.0]
    for cls in (SqliteOnlineStore, RedisOnlineStore):
        write = cls.online_write_batch

        def timed(self, *args, _write=write, **kwargs):
            t0 = time.perf_counter()
            try:
                return _write(self, *args, **kwargs)
            finally:
                in_store[0] += time.perf_counter() - t0

        cls.online_write_batch = timed
    t0 = time.perf_counter()
    summary = materialize(
        DAYS[-1:],
        feast=feature_store(settings),
        lateness_days=settings.features.contract.max_lateness_days,
    )
    seconds = time.perf_counter() - t0
    return {
        "_wall_s": seconds,
        "store_write_seconds": in_store[0],
        "feast_read_and_convert_seconds": seconds - in_store[0],
        "views": summary["materialized"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument("--quick", action="store_true", help="2,000 learners, one run")
    _bench.add_step_args(parser)
    args = parser.parse_args()
    if args._step:
        _bench.child_main(args, {"variant": _step_variant})
        return
    if args.quick:
        args.learners, args.repeats = 2_000, 1

    home = _bench.isolated_home("online-write")
    from bantay import simulate as sim
    from bantay.features.contract import enforce_for, label_sources

    data_dir = home / "data"
    sim.write_range(data_dir / "raw", FIRST, len(DAYS), sim.Scenario(learners=args.learners))
    lake = _bench.settings()
    enforce_for(  # the accepted tree every variant's Feast reads
        DAYS, layout=lake.layout, features=lake.features, labels=label_sources(lake.models)
    )
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in args.variants}
    for n in range(args.repeats):
        for variant in args.variants:
            if variant.startswith("redis"):
                _bench.flush_redis(args.redis_db)
            variant_home = home / variant
            payload = {
                "home": str(variant_home),
                "variant": variant,
                "data": str(data_dir),
                "redis_db": args.redis_db,
            }
            step = _bench.run_step(SCRIPT, "variant", payload)
            shutil.rmtree(variant_home)
            result = {
                "seconds": step["_wall_s"],
                "store_write_seconds": step["store_write_seconds"],
                "feast_read_and_convert_seconds": step["feast_read_and_convert_seconds"],
                "views": step["views"],
                "peak_rss_mib": step["_peak_rss_mib"],
            }
            runs[variant].append(result)
            print(f"run {n + 1}, {variant}: {result['seconds']:.1f} s", flush=True)
    numbers: dict[str, Any] = {}
    rows = []
    for variant, results in runs.items():
        med = {
            key: _bench.median([r[key] for r in results])
            for key in (
                "seconds",
                "store_write_seconds",
                "feast_read_and_convert_seconds",
                "peak_rss_mib",
            )
        }
        med["rows_per_s"] = args.learners * len(results[0]["views"]) / med["seconds"]
        numbers[variant] = {**med, "runs": results}
        rows.append(
            (
                variant,
                med["seconds"],
                med["store_write_seconds"],
                med["feast_read_and_convert_seconds"],
                med["rows_per_s"],
                med["peak_rss_mib"] / 1024,
            )
        )
    _bench.flush_redis(args.redis_db)
    print(
        _bench.table(
            rows,
            [
                "one day (median)",
                "seconds",
                "store write s",
                "read + convert s",
                "rows/s",
                "peak GiB",
            ],
        )
    )
    name = "online_write" + (".quick" if args.quick else f".{args.learners}")
    params = {
        "learners": args.learners,
        "variants": args.variants,
        "repeats": args.repeats,
        "days": len(DAYS),
    }
    print(f"wrote {_bench.write_results(name, params, numbers)}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
