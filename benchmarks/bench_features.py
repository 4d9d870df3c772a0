"""Feature materialization at reference scale: 50,000 learners x 120 days.

Measures, each heavy step in a fresh subprocess (wall time and peak RSS of that process):

1. simulate the history (``bantay.simulate.write_range``);
2. ``feast apply`` (``bantay.features.apply``);
3. materialize the full history (``bantay.features.materialize.materialize``, median of
   ``--history-repeats``; re-running the same window is idempotent): rows/s, where rows = the raw
   feature-partition rows of those days;
4. simulate day N+1 and materialize ONLY that day (median of ``--repeats`` fresh processes);
   the ratios one-day-time / history-time and one-day-rows / history-rows show whether the
   nightly cost follows the day or the history;
5. the same one-day materialization with only the last k days of history visible to Feast
   (older partitions moved aside), to see what the one-day cost grows with;
6. ``bantay.features.contract.enforce`` for one day (median of ``--repeats``, in process).

    .venv/bin/python benchmarks/bench_features.py            # reference scale (minutes)
    .venv/bin/python benchmarks/bench_features.py --quick    # smoke scale (seconds)
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import _bench

from bantay.layout import accepted_root

SCRIPT = Path(__file__).resolve()
FIRST_DAY = dt.date(2026, 1, 1)
FEATURE_SOURCES = ("learning_activity", "family_contact", "learner_profile")


# -- steps (each runs in its own process) ---------------------------------------------------


def _step_simulate(p: dict[str, Any]) -> dict[str, Any]:
    """Simulate the raw deliveries, then let the data contract accept them (Feast and training
    read only the accepted tree), as the nightly DAG does before it materializes."""
    from bantay import simulate as sim
    from bantay.features.contract import enforce_for, label_sources

    s = _bench.settings()
    start = dt.date.fromisoformat(p["start"])
    t0 = time.perf_counter()
    days = sim.write_range(
        s.raw_dir, start, p["days"], sim.Scenario(learners=p["learners"], seed=7)
    )
    wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    enforce_for(days, layout=s.layout, features=s.features, labels=label_sources(s.models))
    return {"_wall_s": wall, "accept_s": time.perf_counter() - t0}


def _step_materialize(p: dict[str, Any]) -> dict[str, Any]:
    import logging

    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import store as feature_store

    logging.disable(logging.INFO)
    s = _bench.settings()
    days = [dt.date.fromisoformat(d) for d in p["days"]]
    t0 = time.perf_counter()
    import feast  # noqa: F401  (a fresh task process pays this too; reported apart)

    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = materialize(
        days, feast=feature_store(s), lateness_days=s.features.contract.max_lateness_days
    )
    return {"_wall_s": time.perf_counter() - t0, "import_feast_s": import_s, "summary": summary}


def _step_store_overhead(p: dict[str, Any]) -> dict[str, Any]:
    """The fixed part of every materialize call: FeatureStore and registry reads, no data."""
    import feast  # noqa: F401

    from bantay.stores.feast_store import store

    s = _bench.settings()
    t0 = time.perf_counter()
    fs = store(s)
    for name in FEATURE_SOURCES:
        fs.get_feature_view(name)
    return {"_wall_s": time.perf_counter() - t0}


def _step_online_rows(p: dict[str, Any]) -> dict[str, Any]:
    """Rows per feature view in the SQLite online store (what materialize wrote)."""
    import sqlite3

    s = _bench.settings()
    from bantay.stores.feast_store import feast_env

    path = feast_env(s)["BANTAY_FEAST_ONLINE_PATH"]
    with sqlite3.connect(path) as db:
        counts = {
            name: db.execute(f"SELECT COUNT(*) FROM {s.project}_{name}").fetchone()[0]
            for name in FEATURE_SOURCES
        }
    return {"rows": counts}


# Feast 0.67's local compute engine runs each feature view as a plan of nodes; their cumulative
# profile times say where a materialization spends its time.
_PROFILE_PARTS = {
    "offline read (DuckDB)": ("compute_engines/local/nodes.py", "LocalSourceReadNode"),
    "filter": ("compute_engines/local/nodes.py", "LocalFilterNode"),
    "dedup (latest per learner)": ("compute_engines/local/nodes.py", "LocalDedupNode"),
    "arrow -> protobuf": ("feast/utils.py", "_convert_arrow_to_proto"),
    "online write (SQLite)": ("online_stores/sqlite.py", "online_write_batch"),
}


def _step_profile(p: dict[str, Any]) -> dict[str, Any]:
    """cProfile one materialization; cumulative seconds per part (profiling inflates them)."""
    import cProfile
    import inspect
    import logging
    import pstats

    import feast  # noqa: F401
    from feast.infra.compute_engines.local import nodes

    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import store as feature_store

    logging.disable(logging.INFO)
    s = _bench.settings()
    days = [dt.date.fromisoformat(d) for d in p["days"]]
    lines = {
        name: inspect.getsourcelines(getattr(nodes, cls).execute)[1]
        for name, (_, cls) in _PROFILE_PARTS.items()
        if isinstance(getattr(nodes, cls, None), type)
    }
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    lateness = s.features.contract.max_lateness_days
    prof.runcall(lambda: materialize(days, feast=feature_store(s), lateness_days=lateness))
    total = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats  # {(file, line, func): (cc, nc, tt, ct, callers)}
    parts = {}
    for name, (suffix, target) in _PROFILE_PARTS.items():
        parts[name] = sum(
            ct
            for (file, line, func), (_, _, _, ct, _) in stats.items()
            if file.endswith(suffix)
            and (func == target or (func == "execute" and line == lines.get(name)))
        )
    return {"profiled_total_s": total, "parts_s": parts}


STEPS = {
    "profile": _step_profile,
    "simulate": _step_simulate,
    "materialize": _step_materialize,
    "store_overhead": _step_store_overhead,
    "online_rows": _step_online_rows,
}


# -- helpers in the parent --------------------------------------------------------------------


def partition_rows(raw_dir: Path, days: list[dt.date]) -> int:
    """Rows of the feature sources' partitions of ``days`` (parquet footers only)."""
    import pyarrow.parquet as pq

    total = 0
    for source in FEATURE_SOURCES:
        for day in days:
            path = raw_dir / source / f"date={day.isoformat()}" / "part-0.parquet"
            total += pq.ParquetFile(path).metadata.num_rows
    return total


def window_rows(raw_dir: Path, start: dt.datetime, end: dt.datetime) -> int:
    """Rows whose event time lies in Feast's window, over every visible partition."""
    import pyarrow.dataset as ds

    total = 0
    for source in FEATURE_SOURCES:
        data = ds.dataset(str(raw_dir / source), format="parquet", partitioning="hive")
        ts = ds.field("event_timestamp")
        total += data.count_rows(filter=(ts >= start) & (ts <= end))
    return total


def materialize_once(home: Path, days: list[dt.date]) -> dict[str, Any]:
    return _bench.run_step(
        SCRIPT, "materialize", {"home": str(home), "days": [d.isoformat() for d in days]}
    )


def materialize_repeated(home: Path, days: list[dt.date], repeats: int) -> dict[str, Any]:
    runs = [materialize_once(home, days) for _ in range(repeats)]
    if any(not r["summary"]["materialized"] for r in runs):
        raise RuntimeError(f"a repeat materialized nothing: {[r['summary'] for r in runs]}")
    return {
        "seconds_median": _bench.median([r["_wall_s"] for r in runs]),
        "seconds_all": [r["_wall_s"] for r in runs],
        "peak_rss_mib_median": _bench.median([r["_peak_rss_mib"] for r in runs]),
        "import_feast_s_median": _bench.median([r["import_feast_s"] for r in runs]),
        "summary": runs[0]["summary"],
    }


def history_probe(
    home: Path, raw_dir: Path, day: dt.date, keep_days: list[int], repeats: int
) -> list[dict[str, Any]]:
    """One-day materialization of ``day`` with only the last k days of partitions visible
    (``raw_dir``: the tree Feast reads, i.e. the accepted one)."""
    aside = home / "aside"
    out = []
    for k in sorted(keep_days):
        first_kept = day - dt.timedelta(days=k - 1)
        moved = []
        for source in FEATURE_SOURCES:
            for part in sorted((raw_dir / source).glob("date=*")):
                if dt.date.fromisoformat(part.name.split("=", 1)[1]) < first_kept:
                    dest = aside / source / part.name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    part.rename(dest)
                    moved.append((dest, part))
        try:
            result = materialize_repeated(home, [day], repeats)
        finally:
            for dest, part in moved:
                dest.rename(part)
        visible = len(list((raw_dir / FEATURE_SOURCES[0]).glob("date=*"))) - len(moved) // 3
        out.append(
            {
                "visible_days": k,
                "visible_partitions_per_source": visible,
                "seconds_median": result["seconds_median"],
                "seconds_all": result["seconds_all"],
            }
        )
    return out


def contract_times(settings: Any, day: dt.date, repeats: int) -> dict[str, Any]:
    from bantay.features.contract import enforce_for, label_sources

    def once() -> None:
        enforce_for(
            [day],
            layout=settings.layout,
            features=settings.features,
            labels=label_sources(settings.models),
        )

    once()  # warm the page cache and imports; the nightly task reads freshly written files too
    times = _bench.repeat(once, repeats)
    return {"seconds_median": _bench.median(times), "seconds_all": times}


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the one-day steps")
    parser.add_argument("--history-repeats", type=int, default=3, help="repeats of the full run")
    parser.add_argument("--quick", action="store_true", help="smoke scale: 2,000 x 10 days")
    parser.add_argument("--keep", type=Path, help="use (and keep) this directory as BANTAY_HOME")
    parser.add_argument("--no-probe", action="store_true", help="skip the history-length probe")
    _bench.add_step_args(parser)
    args = parser.parse_args()
    if args._step:
        _bench.child_main(args, STEPS)
        return
    if args.quick:
        args.learners, args.days, args.repeats, args.history_repeats = 2_000, 10, 3, 1

    home = _bench.isolated_home("features", args.keep)
    settings = _bench.settings()
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range(args.days)]
    next_day = days[-1] + dt.timedelta(days=1)
    print(f"BANTAY_HOME={home}; {args.learners:,} learners x {args.days} days", flush=True)

    sim = _bench.run_step(
        SCRIPT,
        "simulate",
        {
            "home": str(home),
            "start": days[0].isoformat(),
            "days": args.days,
            "learners": args.learners,
        },
    )
    print(f"simulated in {sim['_wall_s']:.1f} s", flush=True)

    from bantay.features.materialize import materialization_window
    from bantay.stores.feast_store import apply

    t0 = time.perf_counter()
    apply(settings)
    apply_s = time.perf_counter() - t0
    print(f"feast apply in {apply_s:.1f} s", flush=True)

    # Re-materializing the same window is idempotent (its end is not older than what is online).
    full = materialize_repeated(home, days, args.history_repeats)
    history_profile = _bench.run_step(
        SCRIPT, "profile", {"home": str(home), "days": [d.isoformat() for d in days]}
    )
    hist_rows = partition_rows(settings.raw_dir, days)
    hist_window_rows = window_rows(
        settings.raw_dir,
        *materialization_window(days, settings.features.contract.max_lateness_days),
    )
    print(
        f"full history materialized in {full['seconds_median']:.1f} s ({hist_rows:,} rows)",
        flush=True,
    )

    sim_day = _bench.run_step(
        SCRIPT,
        "simulate",
        {"home": str(home), "start": next_day.isoformat(), "days": 1, "learners": args.learners},
    )
    one = materialize_repeated(home, [next_day], args.repeats)
    day_rows = partition_rows(settings.raw_dir, [next_day])
    day_window_rows = window_rows(
        settings.raw_dir,
        *materialization_window([next_day], settings.features.contract.max_lateness_days),
    )
    print(f"one day materialized in {one['seconds_median']:.2f} s (median)", flush=True)

    probe = []
    if not args.no_probe:
        ks = sorted({k for k in (2, 7, 30, 60, args.days + 1) if k <= args.days + 1})
        probe = history_probe(home, accepted_root(settings.data_dir), next_day, ks, 3)

    overhead = [
        _bench.run_step(SCRIPT, "store_overhead", {"home": str(home)})["_wall_s"]
        for _ in range(args.repeats)
    ]
    online = _bench.run_step(SCRIPT, "online_rows", {"home": str(home)})["rows"]
    profile = {
        "history": history_profile,
        "one_day": _bench.run_step(
            SCRIPT, "profile", {"home": str(home), "days": [next_day.isoformat()]}
        ),
    }
    contract = contract_times(settings, next_day, max(args.repeats, 3))
    raw_bytes = sum(p.stat().st_size for p in settings.raw_dir.rglob("*.parquet"))

    numbers = {
        "simulate_history": {
            "seconds": sim["_wall_s"],
            "peak_rss_mib": sim["_peak_rss_mib"],
            "raw_parquet_mib_after_all": raw_bytes / 2**20,
        },
        "simulate_one_day_seconds": sim_day["_wall_s"],
        "feast_apply_seconds": apply_s,
        "materialize_history": {
            "seconds_median": full["seconds_median"],
            "seconds_all": full["seconds_all"],
            "peak_rss_mib_median": full["peak_rss_mib_median"],
            "import_feast_seconds_not_included": full["import_feast_s_median"],
            "partition_rows": hist_rows,
            "window_rows": hist_window_rows,
            "rows_per_second": hist_rows / full["seconds_median"],
            "summary": full["summary"],
        },
        "materialize_one_day": {
            "seconds_median": one["seconds_median"],
            "seconds_all": one["seconds_all"],
            "peak_rss_mib_median": one["peak_rss_mib_median"],
            "import_feast_seconds_not_included": one["import_feast_s_median"],
            "partition_rows": day_rows,
            "window_rows": day_window_rows,
            "rows_per_second": day_rows / one["seconds_median"],
            "summary": one["summary"],
        },
        "ratio_time_one_day_over_history": one["seconds_median"] / full["seconds_median"],
        "ratio_rows_one_day_over_history": day_rows / hist_rows,
        "one_day_vs_visible_history": probe,
        "store_and_registry_overhead_seconds_median": _bench.median(overhead),
        "profile_cumulative_seconds_under_cprofile": profile,
        "online_store_rows_per_view_one_per_entity_and_feature": online,
        "contract_enforce_one_day": contract,
    }
    params = {
        "learners": args.learners,
        "days": args.days,
        "first_day": days[0].isoformat(),
        "one_day": next_day.isoformat(),
        "repeats": args.repeats,
        "history_repeats": args.history_repeats,
        "sources": list(FEATURE_SOURCES),
        "offline_store": "duckdb (file source glob raw/<source>/date=*/*.parquet)",
        "online_store": "sqlite",
        "quick": args.quick,
    }
    rows = [
        ("simulate history", sim["_wall_s"], "", "", sim["_peak_rss_mib"]),
        ("feast apply", apply_s, "", "", ""),
        (
            f"materialize {args.days} days (median)",
            full["seconds_median"],
            hist_rows,
            hist_rows / full["seconds_median"],
            full["peak_rss_mib_median"],
        ),
        (
            "materialize 1 day (median)",
            one["seconds_median"],
            day_rows,
            day_rows / one["seconds_median"],
            one["peak_rss_mib_median"],
        ),
        ("FeatureStore + registry reads", _bench.median(overhead), "", "", ""),
        ("contract.enforce 1 day (median)", contract["seconds_median"], day_rows, "", ""),
    ]
    print()
    print(_bench.table(rows, ["step", "seconds", "rows", "rows/s", "peak RSS MiB"]))
    print(
        f"\none-day / history: time {numbers['ratio_time_one_day_over_history']:.3f}, "
        f"rows {numbers['ratio_rows_one_day_over_history']:.4f}"
    )
    if probe:
        print()
        print(
            _bench.table(
                [(p["visible_days"], p["seconds_median"]) for p in probe],
                ["days of partitions visible", "1-day materialize s (median)"],
            )
        )
    one_p, hist_p = profile["one_day"], profile["history"]
    print("\nwhere materialize spends its time (cProfile cumulative seconds; profiling inflates):")
    print(
        _bench.table(
            [(k, hist_p["parts_s"][k], one_p["parts_s"][k]) for k in one_p["parts_s"]]
            + [("total (profiled)", hist_p["profiled_total_s"], one_p["profiled_total_s"])],
            ["part", f"{args.days} days s", "1 day s"],
        )
    )
    name = "features"
    if args.quick:
        name = "features.quick"
    elif (args.learners, args.days) != (50_000, 120):
        name = f"features.{args.learners}x{args.days}"  # never overwrite the reference numbers
    path = _bench.write_results(name, params, numbers)
    print(f"\nwrote {path}")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
