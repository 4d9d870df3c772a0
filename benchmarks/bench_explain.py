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

    .venv/bin/python benchmarks/bench_explain.py            # 50k and 500k, 5 repeats, 1 thread
    .venv/bin/python benchmarks/bench_explain.py --quick    # 5k, 1 repeat
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _bench

SCRIPT = Path(__file__).resolve()
sys.path.insert(0, str(_bench.ROOT / "benchmarks"))
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


STEPS = {"fit": _step_fit, "score": _step_score, "shapley": _step_shapley}


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
    parser.add_argument("--quick", action="store_true", help="5k learners, 1 repeat")
    _bench.add_step_args(parser)
    args = parser.parse_args()
    if args._step:
        _bench.child_main(args, STEPS)
        return
    if args.quick:
        args.learners, args.repeats, args.train_rows, args.shapley_rows = [5_000], 1, 5_000, 2_000
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
    report(args, fitted, cases, shapley)


def threads(args: argparse.Namespace) -> dict[str, str]:
    return {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}


def report(args: argparse.Namespace, fitted: dict, cases: list[dict], shapley: dict) -> None:
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
    params = {
        "learners": args.learners,
        "repeats": args.repeats,
        "train_rows": args.train_rows,
        "shapley_rows": args.shapley_rows,
        "omp_threads": args.threads or "default",
        "trials": TRIALS,
        "quick": args.quick,
    }
    numbers = {"fit": fitted, "cases": cases, "tree_shapley": shapley}
    notes = [
        "timed: score_frame (predict, attributions, reason codes) + writing the parquet log; "
        "reading features, loading the model and task start-up are outside the clock",
        "the whole nightly scoring task at 50,000 learners: results/nightly.after.json",
    ]
    name = "explain.quick" if args.quick else "explain"
    print(f"\nwrote {_bench.write_results(name, params, numbers, notes)}")


if __name__ == "__main__":
    main()
