"""Serving store latency against a real S3 endpoint (moto over HTTP on 127.0.0.1).

With a realistic model (the shipped pipeline, HistGradientBoosting ``max_depth=6`` fitted on
``--train-rows`` rows of the 12 features) and a 20,000-row drift reference sample:

* **publish**: ``ModelStore.publish`` of a new version (model.joblib, reference.parquet,
  manifest.json; each a conditional put), median of ``--publish-repeats``;
* **promote -> readable**: from the ``promote()`` call until ``pointer()`` returns the new
  version (promote verifies every file's sha256 by download before the compare-and-swap),
  median of ``--repeats``, alternating between two versions;
* **rollback**: ``rollback()`` (toggles back to ``previous``), median of ``--repeats``;
* **cold load**: ``load_production`` with an empty cache (pointer, manifest, download, sha256,
  unpickle), median of ``--repeats``;

each without a registry and with a PostgreSQL registry (a fresh database on 127.0.0.1:5432,
dropped afterwards; ``--no-pg`` skips it), so the audit-log cost is visible.

**Scoring throughput** (``bantay.serving.scoring.score_day``, measured only if that module exists): every
learner of ``--learners`` (50,000) simulated learners, with online features materialized by Feast
(SQLite online store) and the production model read from S3: learners/s for the whole task
function (cold: FeatureStore, pointer, sha256-checked model download, online reads, predict, write
the prediction log), and, in the same process afterwards, the online-feature read and the predict
on their own. Each repeat is a fresh process; median of ``--scoring-repeats``.

    .venv/bin/python benchmarks/bench_serving.py            # 20 repeats
    .venv/bin/python benchmarks/bench_serving.py --quick    # 5 repeats, smaller model
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import logging
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import _bench

MODEL = "learner_risk"
SCRIPT = Path(__file__).resolve()
SCORE_DAYS = 3  # simulated and materialized days before the scored day (features within TTL)
FIRST_DAY = dt.date(2026, 3, 1)
sys.path.insert(0, str(_bench.ROOT / "scripts"))  # the dev S3 endpoint and PG helpers
sys.path.insert(0, str(_bench.ROOT / "benchmarks"))


def moto_endpoint() -> contextlib.AbstractContextManager[str]:
    """The serialised dev S3 endpoint (conditional writes behave like S3's), as the demo and the
    tests use it."""
    from devservices import s3_endpoint

    return s3_endpoint()


def realistic_model(train_rows: int) -> tuple[Any, Any, dict[str, Any]]:
    """(fitted pipeline, 20k-row reference with score, manifest) like the training DAG makes."""
    from bench_drift import frame

    from bantay.simulate.catalogue import CATEGORICAL, NUMERICAL
    from bantay.training.pipeline import fit_final, predict_scores

    features = {"numerical": list(NUMERICAL), "categorical": list(CATEGORICAL)}
    train = frame(train_rows, seed=3, labels=True)
    trial = {
        "trial_id": "hgb-bench",
        "name": "hgb",
        "estimator": "hist_gradient_boosting",
        "params": {"max_depth": 6, "learning_rate": 0.1},
    }
    pipe = fit_final(trial, train, features)
    reference = frame(20_000, seed=4, labels=True)
    reference["score"] = predict_scores(pipe, reference, features)
    manifest = {
        "metrics": {"roc_auc": 0.8},
        "params": trial,
        "features": features,
        "schema": {c: str(t) for c, t in reference.dtypes.items()},
        "lineage": {"benchmark": True},
    }
    return pipe, reference, manifest


def new_version() -> str:
    from bantay.stores.registry import new_version_id

    return new_version_id(MODEL, dt.datetime.now(dt.UTC))


def measure(store: Any, registry: Any, fitted: Any, reference: Any, manifest: dict, args) -> dict:
    """publish, promote -> readable, rollback and cold load on one store."""
    from bantay.serving.promotion import Promotion
    from bantay.vocabulary import ModelStatus

    promotion = Promotion(store, registry)

    def register(version: str) -> None:
        if registry is not None:
            registry.versions.upsert(MODEL, version, status=ModelStatus.CANDIDATE)
            registry.versions.set_status(MODEL, version, ModelStatus.APPROVED, reason="benchmark")

    warm = new_version()  # the first request of a client pays connection set-up: not counted
    register(warm)
    promotion.publish(MODEL, warm, fitted, manifest, reference)
    publish_s, versions = [], []
    for _ in range(args.publish_repeats):
        version = new_version()
        register(version)
        t0 = time.perf_counter()
        stored = promotion.publish(MODEL, version, fitted, manifest, reference)
        publish_s.append(time.perf_counter() - t0)
        versions.append(version)
    files = stored["files"]

    a, b = versions[0], versions[1]
    promotion.promote(MODEL, a, actor="bench", reason="warm-up")
    promote_s, readable_s, polls = [], [], []
    target = b
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        promotion.promote(MODEL, target, actor="bench", reason="benchmark promote")
        t1 = time.perf_counter()
        n = 1
        while (store.pointers.current(MODEL) or {}).get("version") != target:
            n += 1
        t2 = time.perf_counter()
        promote_s.append(t1 - t0)
        readable_s.append(t2 - t0)
        polls.append(n)
        target = a if target == b else b

    rollback_s = []
    for _ in range(args.repeats):
        before = store.pointers.current(MODEL)["version"]
        t0 = time.perf_counter()
        after = promotion.rollback(MODEL, actor="bench", reason="benchmark rollback")
        rollback_s.append(time.perf_counter() - t0)
        if after["version"] == before:
            raise RuntimeError(f"rollback did not move the pointer off {before}")

    load_s = []
    for _ in range(args.repeats):
        store.clear_cache()
        t0 = time.perf_counter()
        store.load_production(MODEL)
        load_s.append(time.perf_counter() - t0)

    return {
        "publish_s_median": _bench.median(publish_s),
        "publish_s_all": publish_s,
        "promote_call_s_median": _bench.median(promote_s),
        "promote_to_readable_s_median": _bench.median(readable_s),
        "promote_to_readable_s_all": readable_s,
        "pointer_reads_until_visible_max": max(polls),
        "rollback_s_median": _bench.median(rollback_s),
        "rollback_s_all": rollback_s,
        "cold_load_production_s_median": _bench.median(load_s),
        "cold_load_production_s_all": load_s,
        "artifact_bytes": {name: f["bytes"] for name, f in files.items()},
    }


def _step_score(p: dict[str, Any]) -> dict[str, Any]:
    """score_day in a fresh process, then its two big parts on their own."""
    logging.disable(logging.INFO)
    import feast  # noqa: F401
    import pandas  # noqa: F401  (imports are paid before the clock, as a warm worker would)
    import sklearn.ensemble  # noqa: F401
    from devservices import s3_client_for, s3_hook_over

    from bantay.serving.scoring import active_learners, online_feature_frame, score_day
    from bantay.stores.feast_store import store as feature_store
    from bantay.stores.model_store import ModelStore
    from bantay.training.pipeline import predict_scores

    settings = _bench.settings()
    store = ModelStore(
        s3_hook_over(s3_client_for(p["endpoint"])), p["bucket"], settings.storage.prefix
    )
    day = dt.date.fromisoformat(p["day"])
    t0 = time.perf_counter()
    summary = score_day(
        day,
        model=settings.model(MODEL),
        layout=settings.layout,
        store=store,
        registry=None,  # no shadow is staged here, so the registry is never asked
        feast=feature_store(settings),
    )
    total = time.perf_counter() - t0

    learners = active_learners(settings.layout, day, settings.features.population)
    t0 = time.perf_counter()
    frame = online_feature_frame(
        feature_store(settings), settings.model(MODEL).feature_service, learners
    )
    online_s = time.perf_counter() - t0
    fitted, manifest = store.load_production(MODEL)
    t0 = time.perf_counter()
    predict_scores(fitted, frame, manifest["features"])
    predict_s = time.perf_counter() - t0
    return {
        "_wall_s": total,
        "rows": summary["rows"],
        "missing_feature_share": summary["missing_feature_share"],
        "online_read_s": online_s,
        "predict_s": predict_s,
    }


STEPS = {"score": _step_score}


def scoring_throughput(
    endpoint: str, client: Any, fitted: Any, reference: Any, manifest: dict, args
) -> dict[str, Any]:
    """Simulate and materialize ``args.learners`` learners, promote the model, score a day."""
    from bench_features import _step_simulate
    from devservices import s3_hook_over

    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import apply
    from bantay.stores.feast_store import store as feature_store
    from bantay.stores.model_store import ModelStore

    settings = _bench.settings()
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range(SCORE_DAYS)]
    t0 = time.perf_counter()
    _step_simulate({"start": days[0].isoformat(), "days": SCORE_DAYS, "learners": args.learners})
    apply(settings)
    enforce_for(
        days,
        layout=settings.layout,
        features=settings.features,
        labels=label_sources(settings.models),
    )  # Feast reads only what the data contract accepted
    materialize(
        days,
        feast=feature_store(settings),
        lateness_days=settings.features.contract.max_lateness_days,
    )
    setup_s = time.perf_counter() - t0
    client.create_bucket(Bucket=settings.storage.bucket)
    store = ModelStore(s3_hook_over(client), settings.storage.bucket, settings.storage.prefix)
    version = new_version()
    from bantay.serving.promotion import Promotion

    Promotion(store).publish(MODEL, version, fitted, manifest, reference)
    Promotion(store).promote(MODEL, version, actor="bench", reason="scoring benchmark")
    payload = {
        "home": os.environ["BANTAY_HOME"],
        "endpoint": endpoint,
        "bucket": settings.storage.bucket,
        "day": days[-1].isoformat(),
    }
    runs = [_bench.run_step(SCRIPT, "score", payload) for _ in range(args.scoring_repeats)]
    rows = runs[0]["rows"]
    med = _bench.median([r["_wall_s"] for r in runs])
    online = _bench.median([r["online_read_s"] for r in runs])
    return {
        "learners": args.learners,
        "rows_scored": rows,
        "missing_feature_share": runs[0]["missing_feature_share"],
        "score_day_s_median": med,
        "score_day_s_all": [r["_wall_s"] for r in runs],
        "learners_per_s": rows / med,
        "online_read_s_median": online,
        "online_read_learners_per_s": rows / online,
        "predict_s_median": _bench.median([r["predict_s"] for r in runs]),
        "peak_rss_mib_median": _bench.median([r["_peak_rss_mib"] for r in runs]),
        "setup_simulate_apply_materialize_s": setup_s,
    }


def pg_registry() -> contextlib.AbstractContextManager[str]:
    from devservices import pg_database

    return pg_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--publish-repeats", type=int, default=5)
    parser.add_argument("--train-rows", type=int, default=100_000)
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL-registry case")
    parser.add_argument("--learners", type=int, default=50_000, help="learners to score")
    parser.add_argument("--scoring-repeats", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="5 repeats, 20k training rows, 2,000 learners"
    )
    _bench.add_step_args(parser)
    args = parser.parse_args()
    if args._step:
        _bench.child_main(args, STEPS)
        return
    if args.quick:
        args.repeats, args.publish_repeats, args.train_rows = 5, 3, 20_000
        args.learners, args.scoring_repeats = 2_000, 2
    args.publish_repeats = max(args.publish_repeats, 2)  # promote alternates two versions

    home = _bench.isolated_home("serving")
    logging.basicConfig(level=logging.WARNING)
    from devservices import s3_client_for, s3_hook_over

    from bantay.stores.model_store import ModelStore
    from bantay.stores.registry import Registry

    t0 = time.perf_counter()
    fitted, reference, manifest = realistic_model(args.train_rows)
    print(f"model fitted in {time.perf_counter() - t0:.1f} s", flush=True)

    cases: dict[str, Any] = {}
    with moto_endpoint() as endpoint:
        client = s3_client_for(endpoint)
        bucket = f"bantay-bench-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=bucket)
        store = ModelStore(s3_hook_over(client), bucket, "plain")
        cases["no registry"] = measure(store, None, fitted, reference, manifest, args)
        print(f"no registry: {cases['no registry']['promote_to_readable_s_median']:.3f} s")
        if not args.no_pg:
            with pg_registry() as url:
                registry = Registry(url)
                registry.upgrade()
                try:
                    store = ModelStore(s3_hook_over(client), bucket, "pg")
                    cases["PostgreSQL registry"] = measure(
                        store, registry, fitted, reference, manifest, args
                    )
                finally:
                    registry.dispose()
            print(f"with PG: {cases['PostgreSQL registry']['promote_to_readable_s_median']:.3f} s")

        if importlib.util.find_spec("bantay.serving.scoring") is None:
            scoring: Any = "skipped: bantay.serving.scoring does not exist yet"
        else:
            scoring = scoring_throughput(endpoint, client, fitted, reference, manifest, args)

    rows = []
    for name, c in cases.items():
        rows += [
            (name, "publish", c["publish_s_median"] * 1000, len(c["publish_s_all"])),
            (
                name,
                "promote -> pointer readable",
                c["promote_to_readable_s_median"] * 1000,
                args.repeats,
            ),
            (name, "rollback", c["rollback_s_median"] * 1000, args.repeats),
            (name, "cold load_production", c["cold_load_production_s_median"] * 1000, args.repeats),
        ]
    print()
    print(_bench.table(rows, ["store", "operation", "median ms", "n"]))
    sizes = next(iter(cases.values()))["artifact_bytes"]
    print(f"\nartifacts: {', '.join(f'{k} {v / 1024:.0f} KiB' for k, v in sizes.items())}")
    if isinstance(scoring, str):
        print(f"scoring throughput: {scoring}")
    else:
        print()
        print(
            _bench.table(
                [
                    (
                        f"score_day, {scoring['rows_scored']:,} learners",
                        scoring["score_day_s_median"],
                        scoring["learners_per_s"],
                    ),
                    ("  of which predict", scoring["predict_s_median"], ""),
                    (
                        "Feast online reads of the same learners (not used by score_day)",
                        scoring["online_read_s_median"],
                        scoring["online_read_learners_per_s"],
                    ),
                ],
                ["scoring (median)", "seconds", "learners/s"],
            )
        )
    params = {
        "repeats": args.repeats,
        "publish_repeats": args.publish_repeats,
        "train_rows": args.train_rows,
        "model": "bantay.training.fit_final, hist_gradient_boosting max_depth=6",
        "reference_rows": 20_000,
        "s3": "moto ThreadedMotoServer (requests serialised) on 127.0.0.1",
        "scoring_learners": args.learners,
        "scoring_repeats": args.scoring_repeats,
        "online_store": "sqlite (Feast), features of the last 3 simulated days materialized",
        "quick": args.quick,
    }
    numbers = {"cases": cases, "scoring": scoring}
    path = _bench.write_results("serving.quick" if args.quick else "serving", params, numbers)
    print(f"\nwrote {path}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
