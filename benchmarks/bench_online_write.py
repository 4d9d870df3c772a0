"""One day's online materialization, store by store and lever by lever: where the time goes
(reading and converting the rows against the store's own write), the process's peak memory, and
the physical limit beside it: the same bytes written by a plain pipelined client.

Set-up (not timed): ``--learners`` x 3 simulated days, accepted by the data contract once and
shared by every variant. Each variant then runs in a fresh process with its own copy of the
feature repository (the shipped profile, changed only as the variant says), its own Feast
registry and online store: ``feast apply``, the first two days materialized, then the third day
materialized and timed (the nightly run: 3 views x one row per learner).

Variants (the first of each store is what bantay ships):

* ``sqlite``: ``feature_store.yaml`` (writes in batches of ``online_write_batch_size``);
* ``sqlite-one-batch``: the same without ``online_write_batch_size`` (one batch per view);
* ``redis``: ``feature_store.redis.yaml``, written by bantay in Feast's format
  (``bantay.features.online_write``: the day's partitions read once, values encoded a column at a
  time, HSETs sent as one RESP buffer per 50,000 learners);
* ``redis-feast``: the same profile through Feast's own materialization (batches, ``skip_dedup``:
  one round trip), what bantay shipped before;
* ``redis-two-trips``: Feast's, without ``skip_dedup`` (Redis reads the stored event times first);
* ``redis-one-batch``: Feast's, without ``online_write_batch_size``;
* ``plain``: the physical limit. The same day's rows (bantay's read, untimed) converted by Feast's
  own code exactly as Feast's Redis writer builds each HSET (``_convert_arrow_to_proto``,
  ``_redis_key``, ``_mmh3``, ``Timestamp``; untimed), then written with a plain pipelined redis-py
  client (``pipeline(transaction=False)``, ``hset(key, mapping=...)``, one ``execute`` per 50,000
  learners): only the write is timed. The same process then writes the day with bantay's writer
  and checks that every key of the day holds the same bytes (``same_bytes_as_bantay``).

With ``plain`` among the variants, ``ratio_to_plain`` in the results is ``redis`` / ``plain`` and
``redis-feast`` / ``plain`` (medians of the wall times).

Each variant runs ``--repeats`` times, the variants taking turns (so a slow minute of the machine
does not land on one of them); medians are reported. Redis: 127.0.0.1:6379, database
``--redis-db``, flushed before each Redis run and at the end. The peak RSS is the process's, which
also ran the untimed two-day materialization of the same shape just before. Redis's
``used_memory`` after the day is reported for the Redis variants.

    .venv/bin/python benchmarks/bench_online_write.py                  # 50,000 learners, 3 runs
    .venv/bin/python benchmarks/bench_online_write.py --learners 500000 --variants redis plain
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
    "redis-feast": ("feature_store.redis.yaml", {}),
    "redis-two-trips": ("feature_store.redis.yaml", {"online_store.skip_dedup": False}),
    "redis-one-batch": ("feature_store.redis.yaml", {"materialization": None}),
    "plain": ("feature_store.redis.yaml", {}),
}
BANTAY_WRITES = {"redis", "plain"}  # the variants whose Redis days bantay writes itself
PLAIN_BATCH = 50_000


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

    from bantay.features import online_write
    from bantay.features.materialize import materialize
    from bantay.stores import feast_redis
    from bantay.stores.feast_store import apply
    from bantay.stores.feast_store import store as feature_store

    settings = _bench.settings()
    lateness = settings.features.contract.max_lateness_days
    bulk = p["variant"] in BANTAY_WRITES
    apply(settings)
    materialize(DAYS[:-1], feast=feature_store(settings), lateness_days=lateness, bulk=bulk)
    if p["variant"] == "plain":
        return _plain(feature_store(settings), lateness)
    timers = {"store": [0.0], "read": [0.0]}
    _time(SqliteOnlineStore, "online_write_batch", timers["store"])
    _time(RedisOnlineStore, "online_write_batch", timers["store"])
    _time(feast_redis, "send", timers["store"])
    _time(online_write, "latest_rows", timers["read"])
    t0 = time.perf_counter()
    summary = materialize(
        DAYS[-1:], feast=feature_store(settings), lateness_days=lateness, bulk=bulk
    )
    seconds = time.perf_counter() - t0
    client = feast_redis.bulk_client(feature_store(settings).config)
    memory = client.info("memory")["used_memory"] if client is not None else None
    return {
        "_wall_s": seconds,
        "redis_used_memory_mib": memory / 2**20 if memory is not None else None,
        "store_write_seconds": timers["store"][0],
        "read_and_convert_seconds": seconds - timers["store"][0],
        "read_seconds": timers["read"][0] if bulk else None,
        "views": summary["materialized"],
    }


def _time(owner: Any, name: str, total: list[float]) -> None:
    """Add the time spent in ``owner.name`` to ``total[0]``."""
    inner = getattr(owner, name)

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - t0

    setattr(owner, name, timed)


def _feast_hsets(fs: Any, view: Any, rows: Any) -> list[tuple[bytes, dict]]:
    """Each row's Redis key and HSET mapping, built by Feast's own code the way
    ``RedisOnlineStore.online_write_batch`` builds them."""
    from feast import utils
    from feast.infra.online_stores.helpers import _mmh3, _redis_key
    from google.protobuf.timestamp_pb2 import Timestamp

    join_keys = {e.name: e.dtype.to_value_type() for e in view.entity_columns}
    out = []
    for entity_key, values, event_time, _ in utils._convert_arrow_to_proto(rows, view, join_keys):
        ts = Timestamp()
        ts.FromDatetime(utils.make_tzaware(event_time))
        mapping: dict[Any, bytes] = {f"_ts:{view.name}": ts.SerializeToString()}
        for feature, value in values.items():
            mapping[_mmh3(f"{view.name}:{feature}")] = value.SerializeToString()
        key = _redis_key(fs.project, entity_key, fs.config.entity_key_serialization_version)
        out.append((key, mapping))
    return out


def _plain(fs: Any, lateness: int) -> dict[str, Any]:
    """The third day in Feast's bytes through a plain pipelined client (only the write timed),
    then the same day by bantay's writer, compared key by key."""
    from bantay.features.materialize import materialization_window
    from bantay.features.online_write import latest_rows
    from bantay.stores import feast_redis

    start, end = materialization_window(DAYS[-1:], lateness)
    views = sorted(fv.name for fv in fs.list_feature_views())
    hsets = []
    for name in views:
        view = fs.get_feature_view(name)
        hsets.extend(_feast_hsets(fs, view, latest_rows(view, start, end, lateness)))
    client = feast_redis.bulk_client(fs.config)
    client.flushdb()  # both writes start from an empty database, so their contents compare
    t0 = time.perf_counter()
    for offset in range(0, len(hsets), PLAIN_BATCH):
        with client.pipeline(transaction=False) as pipe:
            for key, mapping in hsets[offset : offset + PLAIN_BATCH]:
                pipe.hset(key, mapping=mapping)
            pipe.execute()
    seconds = time.perf_counter() - t0
    keys = sorted({key for key, _ in hsets})

    def dump() -> list[dict]:
        out = []
        for offset in range(0, len(keys), PLAIN_BATCH):
            with client.pipeline(transaction=False) as pipe:
                for key in keys[offset : offset + PLAIN_BATCH]:
                    pipe.hgetall(key)
                out.extend(pipe.execute())
        return out

    written = dump()
    from bantay.features.materialize import materialize

    client.flushdb()
    materialize(DAYS[-1:], feast=fs, lateness_days=lateness, bulk=True)
    return {
        "_wall_s": seconds,
        "store_write_seconds": seconds,
        "read_and_convert_seconds": 0.0,
        "read_seconds": None,
        "hsets": len(hsets),
        "same_bytes_as_bantay": written == dump(),
        "views": views,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--redis-db", type=int, default=14)
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
            if VARIANTS[variant][0] == "feature_store.redis.yaml":
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
                "read_and_convert_seconds": step["read_and_convert_seconds"],
                "read_seconds": step["read_seconds"],
                "views": step["views"],
                **{
                    k: step[k]
                    for k in ("hsets", "same_bytes_as_bantay", "redis_used_memory_mib")
                    if k in step
                },
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
                "read_and_convert_seconds",
                "peak_rss_mib",
            )
        }
        if results[0]["read_seconds"] is not None:
            med["read_seconds"] = _bench.median([r["read_seconds"] for r in results])
        med["rows_per_s"] = args.learners * len(results[0]["views"]) / med["seconds"]
        numbers[variant] = {**med, "runs": results}
        rows.append(
            (
                variant,
                med["seconds"],
                med["store_write_seconds"],
                med["read_and_convert_seconds"],
                med["rows_per_s"],
                med["peak_rss_mib"] / 1024,
            )
        )
    _bench.flush_redis(args.redis_db)
    if "plain" in numbers:
        limit = numbers["plain"]["seconds"]
        numbers["ratio_to_plain"] = {
            v: numbers[v]["seconds"] / limit for v in ("redis", "redis-feast") if v in numbers
        }
        numbers["plain"]["same_bytes_as_bantay"] = all(
            r["same_bytes_as_bantay"] for r in runs["plain"]
        )
        print(f"ratio to the plain pipelined write: {numbers['ratio_to_plain']}")
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
