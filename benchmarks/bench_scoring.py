"""Nightly scoring throughput: ``bantay.serving.scoring.score_day``, what the scoring DAG's task
calls, at 50,000 and 500,000 learners, with explanations off and on.

Set-up (not timed), per learner count: ``--days`` simulated days accepted by the data contract
(more than the activity views' 14-day TTL, so the as-of read has a full window of history to
resolve), ``feast apply``, a local S3 endpoint (moto on 127.0.0.1) and, per model family, the
version fitted on simulated rows (``bench_explain``'s fit: logistic regression C=1 and
HistGradientBoosting depth 6, each with its stored explanation baseline) published and
promoted.

Measured: the call of ``score_day`` for the last simulated day, from the call to its return, as
the task makes it (the production pointer and the sha256-checked model read from S3, the day's
active learners, the batch feature read from the accepted partitions, predict with or without
reasons and attributions, the prediction log written). Each run is a fresh process (its imports
paid before the clock, as a warm worker has them), the variants alternating, median of
``--repeats``; learners/s is learners over the median wall time. Beside the wall time: the
process's CPU seconds, its peak RSS (``ru_maxrss`` of the whole process: imports, the model and
the day's frames) and the machine's load average when the run started (the machine is shared).

``--profile`` adds one run per case under cProfile and reports the cumulative seconds of
scoring's phases (model load, active learners, feature read, predict / explain, reason codes,
attributions, log write), so where the time goes is measured with the numbers.

    .venv/bin/python benchmarks/bench_scoring.py                 # 50k and 500k, 3 repeats
    .venv/bin/python benchmarks/bench_scoring.py --quick         # 5k, 1 repeat
    .venv/bin/python benchmarks/bench_scoring.py --label before  # results/scoring.before.json
    .venv/bin/python benchmarks/bench_scoring.py --output-ids pseudonym  # with the output
    .venv/bin/python benchmarks/bench_scoring.py --world /tmp/lakes --profile  # keep the lakes
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _bench

SCRIPT = Path(__file__).resolve()
sys.path.insert(0, str(_bench.ROOT / "benchmarks"))
sys.path.insert(0, str(_bench.ROOT / "scripts"))  # the dev S3 endpoint
MODEL = "learner_risk"
START = "2026-03-01"
# Phases of score_day as cProfile names them (file fragment, function): cumulative seconds.
PHASES = {
    "model load (S3, sha256, unpickle)": ("model_store", "load_production"),
    "active learners": ("scoring.py", "active_learners"),
    "feature read (as-of, accepted partitions)": ("batch_features.py", "batch_features"),
    "score_frame (predict, explain, reasons)": ("scoring.py", "score_frame"),
    "  predict_scores": ("pipeline.py", "predict_scores"),
    "  transform": ("explain.py", "transform"),
    "  scored (predict + attributions)": ("explain.py", "scored"),
    "  reason_codes": ("reasons.py", "reason_codes"),
    "  attribution_columns": ("reasons.py", "attribution_columns"),
    "prediction log write": ("scoring.py", "write_log"),
    "  DataFrame.to_parquet": ("frame.py", "to_parquet"),
    "output write (pseudonyms)": ("output.py", "write_output"),
}


def _step_world(p: dict[str, Any]) -> dict[str, Any]:
    """Simulate and accept ``days`` days of ``learners`` learners; ``feast apply``."""
    from bench_features import _step_simulate

    from bantay.stores.feast_store import apply

    t0 = time.perf_counter()
    _step_simulate({"start": p["start"], "days": p["days"], "learners": p["learners"]})
    apply(_bench.settings())
    return {"_wall_s": time.perf_counter() - t0}


def _model(p: dict[str, Any]):
    model = _bench.settings().model(MODEL)
    return model.model_copy(
        update={
            "explain": model.explain.model_copy(update={"enabled": p["explain"]}),
            "output_ids": p.get("output_ids", "id"),
        }
    )


def _step_task(p: dict[str, Any]) -> dict[str, Any]:
    """score_day as the scoring task calls it; the call is timed (cProfiled with ``profile``)."""
    logging.disable(logging.INFO)
    import feast  # noqa: F401
    import pandas  # noqa: F401  (imports are paid before the clock, as a warm worker would)
    import sklearn.ensemble  # noqa: F401
    from devservices import s3_client_for, s3_hook_over

    from bantay.serving.scoring import score_day
    from bantay.stores.feast_store import store as feature_store
    from bantay.stores.model_store import ModelStore

    settings = _bench.settings()
    model = _model(p)
    store = ModelStore(
        s3_hook_over(s3_client_for(p["endpoint"])), p["bucket"], settings.storage.prefix
    )
    feast_store = feature_store(settings)
    profiler = None
    if p.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, cpu0 = time.perf_counter(), time.process_time()
    summary = score_day(
        dt.date.fromisoformat(p["day"]),
        model=model,
        layout=settings.layout,
        store=store,
        registry=None,  # no shadow is staged here, so the registry is never asked
        feast=feast_store,
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    out: dict[str, Any] = {"_wall_s": wall, "cpu_s": cpu, "rows": summary["rows"]}
    out["rows_with_reasons"] = (summary.get("explanation") or {}).get("rows_with_reasons")
    out["mean_score"] = summary["mean_score"]
    if profiler is not None:
        profiler.disable()
        out["phases_s"] = _phases(profiler)
    return out


def _phases(profiler) -> dict[str, float]:
    """Cumulative seconds of each of :data:`PHASES` (the largest match of its name)."""
    import pstats

    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)
    out = {}
    for phase, (where, name) in PHASES.items():
        found = [v[3] for (f, _, n), v in stats.items() if n == name and where in f]
        if found:
            out[phase] = max(found)
    out["total (profiled)"] = sum(v[2] for v in stats.values())
    return out


STEPS = {"world": _step_world, "task": _step_task}


def cases(args: argparse.Namespace, models: Path) -> list[dict[str, Any]]:
    """Per learner count: a lake, each family published and promoted in turn, score_day with
    explanations off and on alternating in fresh processes."""
    import joblib
    from bench_drift import frame
    from bench_serving import moto_endpoint
    from devservices import s3_client_for, s3_hook_over

    from bantay.serving.promotion import Promotion
    from bantay.stores.model_store import ModelStore

    reference = frame(20_000, seed=4, labels=True)
    day = (dt.date.fromisoformat(START) + dt.timedelta(days=args.days - 1)).isoformat()
    out = []
    for learners in args.learners:
        keep = args.world / f"{learners}x{args.days}" if args.world else None
        home = _bench.isolated_home(f"scoring-{learners}", keep)
        settings = _bench.settings()
        world = {"home": str(home), "start": START, "days": args.days, "learners": learners}
        built = home / "world.done"
        setup = float(built.read_text()) if built.is_file() else None
        if setup is None:
            setup = _bench.run_step(SCRIPT, "world", world)["_wall_s"]
            built.write_text(str(setup))
        print(f"world of {learners:,} learners x {args.days} days: {setup:.0f} s", flush=True)
        with moto_endpoint() as endpoint:
            client = s3_client_for(endpoint)
            client.create_bucket(Bucket=settings.storage.bucket)
            promotion = Promotion(
                ModelStore(s3_hook_over(client), settings.storage.bucket, settings.storage.prefix)
            )
            for estimator in args.estimators:
                fitted, manifest = joblib.load(models / f"{estimator}.joblib")
                version = f"{manifest['version']}-{learners}"  # moto: one version per lake
                promotion.publish(
                    MODEL, version, fitted, {**manifest, "version": version}, reference
                )
                promotion.promote(MODEL, version, actor="bench", reason="scoring benchmark")
                payload = {"home": str(home), "endpoint": endpoint, "day": day}
                payload["bucket"] = settings.storage.bucket
                payload["output_ids"] = args.output_ids
                runs: dict[str, list[dict]] = {"off": [], "on": []}
                for _ in range(args.repeats):
                    for variant in runs:
                        runs[variant].append(_run(payload, variant == "on", args))
                profiles = {}
                if args.profile:
                    for variant in runs:
                        step = {**payload, "explain": variant == "on", "profile": True}
                        profiles[variant] = _bench.run_step(SCRIPT, "task", step, env=env(args))
                out.append(_case(estimator, learners, runs, profiles, setup))
                c = out[-1]
                print(
                    f"{estimator} {learners:,}: off {c['off']['wall_s_median']:.2f} s, "
                    f"on {c['on']['wall_s_median']:.2f} s "
                    f"({c['on']['learners_per_s']:,.0f} learners/s)",
                    flush=True,
                )
        if keep is None:
            shutil.rmtree(home, ignore_errors=True)  # a lake is hundreds of MiB
    return out


def _run(payload: dict[str, Any], explain: bool, args: argparse.Namespace) -> dict[str, Any]:
    load = os.getloadavg()[0]
    result = _bench.run_step(SCRIPT, "task", {**payload, "explain": explain}, env=env(args))
    return {**result, "load_1min_at_start": load}


def _case(estimator: str, learners: int, runs: dict, profiles: dict, setup: float) -> dict:
    case: dict[str, Any] = {"estimator": estimator, "learners": learners, "world_setup_s": setup}
    for variant, done in runs.items():
        wall = _bench.median([r["_wall_s"] for r in done])
        case[variant] = {
            "wall_s_median": wall,
            "learners_per_s": learners / wall,
            "cpu_s_median": _bench.median([r["cpu_s"] for r in done]),
            "peak_rss_mib_median": _bench.median([r["_peak_rss_mib"] for r in done]),
            "rss_before_call_mib_median": _bench.median([r["_rss_before_mib"] for r in done]),
            "wall_s_all": [r["_wall_s"] for r in done],
            "load_1min_at_start": [r["load_1min_at_start"] for r in done],
            "rows_with_reasons": done[0]["rows_with_reasons"],
            "mean_score": done[0]["mean_score"],
        }
        if variant in profiles:
            case[variant]["profiled_phases_s"] = profiles[variant]["phases_s"]
    return case


def env(args: argparse.Namespace) -> dict[str, str]:
    out = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}
    if args.output_ids == "pseudonym":
        out["BANTAY_ERASURE_KEY"] = "a benchmark's own erasure key"  # pseudonyms need one
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, nargs="+", default=[50_000, 500_000])
    parser.add_argument("--days", type=int, default=16, help="simulated days in the lake")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-rows", type=int, default=50_000)
    parser.add_argument(
        "--estimators",
        nargs="+",
        default=["logistic_regression", "hist_gradient_boosting"],
        choices=["logistic_regression", "hist_gradient_boosting"],
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="OpenMP threads of each scoring process; 0 (default) leaves scikit-learn's, as the "
        "task runs",
    )
    parser.add_argument("--profile", action="store_true", help="one cProfiled run per case")
    parser.add_argument(
        "--output-ids",
        choices=["id", "pseudonym"],
        default="id",
        help="the model's output_ids: pseudonym also writes the pseudonymous output",
    )
    parser.add_argument(
        "--world",
        type=Path,
        help="keep the simulated lakes under this folder and reuse them on the next run "
        "(default: a fresh temporary one per run)",
    )
    parser.add_argument("--label", default="", help="results go to scoring.<label>.json")
    parser.add_argument("--quick", action="store_true", help="5k learners, 1 repeat")
    _bench.add_step_args(parser)
    args = parser.parse_args()
    if args._step:
        _bench.child_main(args, STEPS)
        return
    if args.quick:
        args.learners, args.repeats, args.train_rows = [5_000], 1, 5_000
    load_at_start = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as folder:
        explain_script = SCRIPT.with_name("bench_explain.py")
        fitted = _bench.run_step(
            explain_script, "fit", {"dir": folder, "train_rows": args.train_rows}
        )
        found = cases(args, Path(folder))
    report(args, fitted, found, load_at_start)


def report(args: argparse.Namespace, fitted: dict, found: list[dict], load: list[float]) -> None:
    rows = []
    for c in found:
        for variant in ("off", "on"):
            v = c[variant]
            loads = v["load_1min_at_start"]
            rows.append(
                (c["estimator"], c["learners"], variant, v["wall_s_median"])
                + (round(v["learners_per_s"]), v["cpu_s_median"], v["peak_rss_mib_median"])
                + (f"{min(loads):.1f}-{max(loads):.1f}",)
            )
    headers = ["model", "learners", "explain", "wall s", "learners/s", "CPU s", "peak RSS MiB"]
    print(_bench.table(rows, [*headers, "load (1 min)"]))
    for c in found:
        for variant in ("off", "on"):
            phases = c[variant].get("profiled_phases_s")
            if phases:
                print(f"\n{c['estimator']} {c['learners']:,} explain {variant} (cProfile):")
                print(_bench.table(list(phases.items()), ["phase", "cumulative s"]))
    params = {
        "learners": args.learners,
        "days_in_lake": args.days,
        "repeats": args.repeats,
        "train_rows": args.train_rows,
        "estimators": args.estimators,
        "omp_threads": args.threads or "default",
        "quick": args.quick,
        "output_ids": args.output_ids,
    }
    numbers = {"fit": fitted, "cases": found, "load_average_at_start": load}
    notes = [
        "timed: score_day from call to return (pointer and verified model load from a moto S3 "
        "endpoint on loopback, active learners, batch feature read, predict with or without "
        "reasons, prediction log write); each run a fresh process, imports before the clock",
        "peak RSS: ru_maxrss of the run's process (imports, model and the day's frames)",
        "load_1min_at_start: the machine's 1-minute load average as each run started "
        "(2 shared cores)",
    ]
    name = "scoring" + (f".{args.label}" if args.label else "")
    name += (".pseudonym" if args.output_ids == "pseudonym" else "") + (
        ".quick" if args.quick else ""
    )
    print(f"\nwrote {_bench.write_results(name, params, numbers, notes)}")


if __name__ == "__main__":
    main()
