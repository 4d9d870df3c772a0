"""Nightly scoring with and without reasons, for both model families, at 50,000 and 500,000
learners.

What is timed is the scoring of one day after its features are read
(``bantay.serving.scoring.score_frame``: predict, and with explanations the attributions of
every learner and their reason codes) plus writing the day's prediction log (parquet), on
simulated learners shaped like the log (``bench_drift.frame``). The models are the shipped
pipeline fitted on ``--train-rows`` simulated rows: logistic regression (C=1) and
HistGradientBoosting (max_depth=6, learning_rate=0.1), as the default search space fits them.
Each (family, learners) case runs in a fresh process; the two variants alternate within it,
``--repeats`` times each, median reported. Reading the day's features, loading the model and
the task's start-up are outside the clock (the whole nightly task at 50,000 learners is in
``results/nightly.after.json``), so the share reported here is an upper bound on the task's.

Exact Tree SHAP (``explain.tree_method: shapley``) is timed once on the gradient boosting model
at ``--shapley-rows`` learners, with SHAP's import time apart, to show why it is not the default.

**The whole task** (``--task``, on by default): ``bantay.serving.scoring.score_day``, what the
scoring DAG's task calls, timed from the call to its return with ``explain.enabled`` on and off:
the production pointer and the sha256-checked model read from S3 (a moto endpoint on
127.0.0.1), the active learners, the batch feature read from the accepted partitions (Feast's
registry for the definitions), predict (with explanations: attributions and reason codes) and
the prediction log written. The lake holds ``TASK_DAYS`` simulated days of the learners; each
(family, learners, variant) run is a fresh process, the variants alternating, median of
``--task-repeats``.

    .venv/bin/python benchmarks/bench_explain.py            # 50k and 500k, 5 repeats, 1 thread
    .venv/bin/python benchmarks/bench_explain.py --quick    # 5k, 1 repeat
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
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
TASK_DAYS = 3  # simulated days in the lake before the scored one's end (features within TTL)
TASK_START = "2026-03-01"
TRIALS = {
    "logistic_regression": {"C": 1.0},
    "hist_gradient_boosting": {"max_depth": 6, "learning_rate": 0.1},
}


def _step_fit(p: dict[str, Any]) -> dict[str, Any]:
    """Fit both families on simulated rows; write each with the manifest training records."""
    import joblib
    from bench_drift import frame

    from bantay.simulate.catalogue import CATEGORICAL, NUMERICAL
    from bantay.training.explain import version_explanation
    from bantay.training.pipeline import fit_final

    features = {"numerical": list(NUMERICAL), "categorical": list(CATEGORICAL)}
    train, test = frame(p["train_rows"], seed=3), frame(20_000, seed=4)
    out = {}
    for estimator, params in TRIALS.items():
        trial = {"trial_id": estimator, "name": estimator, "estimator": estimator, "params": params}
        model = fit_final(trial, train, features)
        t0 = time.perf_counter()
        explanation = version_explanation(model, train, test, [*NUMERICAL, *CATEGORICAL])
        manifest = {
            "version": f"bench-{estimator}",
            "features": features,
            "explanation": explanation,
        }
        joblib.dump((model, manifest), Path(p["dir"]) / f"{estimator}.joblib")
        out[estimator] = {
            "version_explanation_s": time.perf_counter() - t0,
            "additivity_max_error": explanation["additivity"]["max_error"],
            "global_top3": list(explanation["global"]["mean_abs_attribution"])[:3],
        }
    return out


def _step_score(p: dict[str, Any]) -> dict[str, Any]:
    """Score one simulated day with and without reasons, alternating; medians and parts."""
    logging.disable(logging.WARNING)
    import joblib
    import numpy as np
    from bench_drift import frame

    from bantay.serving.scoring import score_frame
    from bantay.settings import ExplainConfig

    model, manifest = joblib.load(Path(p["dir"]) / f"{p['estimator']}.joblib")
    day = frame(p["learners"], seed=5, labels=False).drop(columns=["score"])
    out = Path(p["dir"]) / f"{p['estimator']}-{p['learners']}.parquet"
    variants = {"without": ExplainConfig(enabled=False), "with": ExplainConfig()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    sizes: dict[str, int] = {}
    summary: dict[str, Any] = {}
    for _ in range(p["repeats"]):
        for name, cfg in variants.items():
            scored = day.copy()
            t0 = time.perf_counter()
            result = score_frame(scored, model, manifest, cfg)
            scored.to_parquet(out, index=False)
            times[name].append(time.perf_counter() - t0)
            sizes[name] = out.stat().st_size
            summary = result if name == "with" else summary
    without, with_ = _bench.median(times["without"]), _bench.median(times["with"])
    return {
        "without_s_median": without,
        "with_s_median": with_,
        "growth": with_ / without - 1,
        "without_s_all": times["without"],
        "with_s_all": times["with"],
        "log_bytes": sizes,
        "rows_with_reasons": summary.get("rows_with_reasons"),
        "reason_share": summary.get("rows_with_reasons", 0) / p["learners"],
        "method": summary.get("method"),
        "parts_s": _parts(model, manifest, day, np),
    }


def _parts(model: Any, manifest: dict[str, Any], day: Any, np: Any) -> dict[str, float]:
    """The explanation's own parts, once each: attributions, then reason codes."""
    from bantay.serving.reasons import reason_codes
    from bantay.serving.scoring import version_explainer
    from bantay.settings import ExplainConfig

    cfg = ExplainConfig()
    explainer, _ = version_explainer(model, manifest["features"], manifest, cfg, day)
    z = explainer.transform(day)
    t0 = time.perf_counter()
    attributions = explainer.explain(z, with_margin=False)
    t1 = time.perf_counter()
    reason_codes(attributions, day, cfg)
    t2 = time.perf_counter()
    return {"attributions": t1 - t0, "reason_codes": t2 - t1}


def _step_shapley(p: dict[str, Any]) -> dict[str, Any]:
    """Exact Tree SHAP on the gradient boosting model, SHAP's import apart."""
    import joblib
    from bench_drift import frame

    from bantay.training.explain import Explainer

    model, manifest = joblib.load(Path(p["dir"]) / "hist_gradient_boosting.joblib")
    names = [*manifest["features"]["numerical"], *manifest["features"]["categorical"]]
    day = frame(p["rows"], seed=5, labels=False)
    t0 = time.perf_counter()
    import shap  # noqa: F401

    imported = time.perf_counter() - t0
    results = {}
    for method in ("path", "shapley"):
        explainer = Explainer(model, names, tree_method=method)
        z = explainer.transform(day)
        t0 = time.perf_counter()
        found = explainer.explain(z)
        results[method] = {"s": time.perf_counter() - t0, "max_error": found.max_error()}
    return {"rows": p["rows"], "shap_import_s": imported, **results}


def _step_task(p: dict[str, Any]) -> dict[str, Any]:
    """score_day as the scoring task calls it, explanations on or off; the call is timed."""
    logging.disable(logging.INFO)
    import feast  # noqa: F401
    import pandas  # noqa: F401  (imports are paid before the clock, as a warm worker would)
    import sklearn.ensemble  # noqa: F401
    from devservices import s3_client_for, s3_hook_over

    from bantay.serving.scoring import score_day
    from bantay.stores.feast_store import store as feature_store
    from bantay.stores.model_store import ModelStore

    settings = _bench.settings()
    model = settings.model(MODEL)
    model = model.model_copy(
        update={"explain": model.explain.model_copy(update={"enabled": p["explain"]})}
    )
    store = ModelStore(
        s3_hook_over(s3_client_for(p["endpoint"])), p["bucket"], settings.storage.prefix
    )
    t0, cpu0 = time.perf_counter(), time.process_time()
    summary = score_day(
        dt.date.fromisoformat(p["day"]),
        model=model,
        layout=settings.layout,
        store=store,
        registry=None,  # no shadow is staged here, so the registry is never asked
        feast=feature_store(settings),
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    explained = summary.get("explanation") or {}
    return {
        "_wall_s": wall,
        "cpu_s": cpu,
        "rows": summary["rows"],
        "version": summary["version"],
        "rows_with_reasons": explained.get("rows_with_reasons"),
    }


STEPS = {
    "fit": _step_fit,
    "score": _step_score,
    "shapley": _step_shapley,
    "task": _step_task,
}


def task_cases(args: argparse.Namespace, models: Path) -> list[dict[str, Any]]:
    """Per learner count: a lake of simulated days, each family published and promoted in
    turn, score_day with explanations off and on, alternating in fresh processes."""
    import joblib
    from bench_drift import frame
    from bench_features import _step_simulate
    from bench_serving import moto_endpoint
    from devservices import s3_client_for, s3_hook_over

    from bantay.serving.promotion import Promotion
    from bantay.stores.feast_store import apply
    from bantay.stores.model_store import ModelStore

    reference = frame(20_000, seed=4, labels=True)
    cases = []
    for learners in args.learners:
        home = _bench.isolated_home(f"explain-task-{learners}")
        settings = _bench.settings()
        t0 = time.perf_counter()
        _step_simulate({"start": TASK_START, "days": TASK_DAYS, "learners": learners})
        apply(settings)
        setup = time.perf_counter() - t0
        day = (dt.date.fromisoformat(TASK_START) + dt.timedelta(days=TASK_DAYS - 1)).isoformat()
        with moto_endpoint() as endpoint:
            client = s3_client_for(endpoint)
            client.create_bucket(Bucket=settings.storage.bucket)
            promotion = Promotion(
                ModelStore(s3_hook_over(client), settings.storage.bucket, settings.storage.prefix)
            )
            for estimator in TRIALS:
                fitted, manifest = joblib.load(models / f"{estimator}.joblib")
                # moto keeps its buckets per process: a version id per lake, never reused
                version = f"{manifest['version']}-{learners}"
                manifest = {**manifest, "version": version}
                promotion.publish(MODEL, version, fitted, manifest, reference)
                promotion.promote(MODEL, version, actor="bench", reason="explain benchmark")
                payload = {"home": str(home), "endpoint": endpoint, "day": day}
                payload["bucket"] = settings.storage.bucket
                runs: dict[str, list[dict]] = {"off": [], "on": []}
                for _ in range(args.task_repeats):
                    for variant in runs:
                        step = {**payload, "explain": variant == "on"}
                        runs[variant].append(
                            _bench.run_step(SCRIPT, "task", step, env=threads(args))
                        )
                cases.append(_task_case(estimator, learners, runs, setup))
                print(f"score_day {estimator} {learners}: {cases[-1]['growth']:+.1%}", flush=True)
    return cases


def _task_case(estimator: str, learners: int, runs: dict, setup: float) -> dict[str, Any]:
    off = _bench.median([r["_wall_s"] for r in runs["off"]])
    on = _bench.median([r["_wall_s"] for r in runs["on"]])
    cpu_off = _bench.median([r["cpu_s"] for r in runs["off"]])
    cpu_on = _bench.median([r["cpu_s"] for r in runs["on"]])
    return {
        "estimator": estimator,
        "learners": learners,
        "rows_scored": runs["on"][0]["rows"],
        "rows_with_reasons": runs["on"][0]["rows_with_reasons"],
        "off_s_median": off,
        "on_s_median": on,
        "added_s": on - off,
        "growth": on / off - 1,
        # CPU seconds of the process: what the work costs, less moved by other load on the
        # machine than wall time (one OpenMP thread, so CPU time is close to wall time idle)
        "cpu_off_s_median": cpu_off,
        "cpu_on_s_median": cpu_on,
        "cpu_growth": cpu_on / cpu_off - 1,
        "off_s_all": [r["_wall_s"] for r in runs["off"]],
        "on_s_all": [r["_wall_s"] for r in runs["on"]],
        "peak_rss_mib_on": _bench.median([r["_peak_rss_mib"] for r in runs["on"]]),
        "setup_simulate_accept_apply_s": setup,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, nargs="+", default=[50_000, 500_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-rows", type=int, default=50_000)
    parser.add_argument("--shapley-rows", type=int, default=50_000)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OpenMP threads of each scoring process (both variants alike); 1 keeps numbers "
        "stable on cores shared with other work, 0 leaves scikit-learn's default",
    )
    parser.add_argument("--task-repeats", type=int, default=3)
    parser.add_argument(
        "--no-task", dest="task", action="store_false", help="skip timing the whole score_day"
    )
    parser.add_argument("--quick", action="store_true", help="5k learners, 1 repeat")
    _bench.add_step_args(parser)
    args = parser.parse_args()
    if args._step:
        _bench.child_main(args, STEPS)
        return
    if args.quick:
        args.learners, args.repeats, args.train_rows, args.shapley_rows = [5_000], 1, 5_000, 2_000
        args.task_repeats = 1
    with tempfile.TemporaryDirectory(prefix="bench-explain-") as folder:
        fitted = _bench.run_step(SCRIPT, "fit", {"dir": folder, "train_rows": args.train_rows})
        cases = []
        for learners in args.learners:
            for estimator in TRIALS:
                payload = {"dir": folder, "estimator": estimator, "learners": learners}
                result = _bench.run_step(
                    SCRIPT, "score", {**payload, "repeats": args.repeats}, env=threads(args)
                )
                cases.append({"estimator": estimator, "learners": learners, **result})
                print(f"{estimator} {learners}: {result['growth']:+.1%}", flush=True)
        shapley = _bench.run_step(
            SCRIPT, "shapley", {"dir": folder, "rows": args.shapley_rows}, env=threads(args)
        )
        task = task_cases(args, Path(folder)) if args.task else []
    report(args, fitted, cases, shapley, task)


def threads(args: argparse.Namespace) -> dict[str, str]:
    return {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}


def report(
    args: argparse.Namespace, fitted: dict, cases: list[dict], shapley: dict, task: list[dict]
) -> None:
    rows = [
        (
            c["estimator"],
            c["learners"],
            c["without_s_median"],
            c["with_s_median"],
            f"{c['growth']:+.0%}",
            c["parts_s"]["attributions"],
            c["parts_s"]["reason_codes"],
            f"{c['reason_share']:.0%}",
            c["_peak_rss_mib"],
        )
        for c in cases
    ]
    headers = ["model", "learners", "without s", "with s", "growth", "attributions s"]
    headers += ["reasons s", "with a reason", "peak RSS MiB"]
    print(_bench.table(rows, headers))
    print(f"exact Tree SHAP vs paths at {shapley['rows']} learners: {shapley}")
    if task:
        rows = [
            (c["estimator"], c["learners"], c["off_s_median"], c["on_s_median"], c["added_s"])
            + (f"{c['growth']:+.0%}", c["cpu_off_s_median"], c["cpu_on_s_median"])
            + (f"{c['cpu_growth']:+.0%}", c["peak_rss_mib_on"])
            for c in task
        ]
        headers = ["model", "learners", "score_day off s", "on s", "added s", "growth"]
        headers += ["CPU off s", "CPU on s", "CPU growth", "RSS MiB"]
        print(_bench.table(rows, headers))
    params = {
        "learners": args.learners,
        "repeats": args.repeats,
        "train_rows": args.train_rows,
        "shapley_rows": args.shapley_rows,
        "omp_threads": args.threads or "default",
        "trials": TRIALS,
        "quick": args.quick,
        "task_repeats": args.task_repeats if task else None,
        "task_days_in_lake": TASK_DAYS if task else None,
    }
    numbers = {"fit": fitted, "cases": cases, "tree_shapley": shapley, "score_day": task}
    notes = [
        "timed: score_frame (predict, attributions, reason codes) + writing the parquet log; "
        "reading features, loading the model and task start-up are outside the clock",
        "the whole nightly scoring task at 50,000 learners: results/nightly.after.json",
        "score_day: the scoring task's body from call to return (S3 pointer and sha256-checked "
        "model load, active learners, batch feature read, predict with or without reasons, "
        "prediction log write), explain.enabled off and on, fresh process per run",
    ]
    name = "explain.quick" if args.quick else "explain"
    print(f"\nwrote {_bench.write_results(name, params, numbers, notes)}")


if __name__ == "__main__":
    main()
