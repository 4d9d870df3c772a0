"""The training lifecycle, one function per DAG task: training set, tuning, evaluation with the
gate, approval, publish and promotion. Tasks in ``dags/bantay_training.py`` are thin wrappers.

Intermediate files live under ``<BANTAY_HOME>/runs/<model>/<run key>/`` (a shared volume in the
stack), keyed on the DAG run, so a re-run of a task overwrites its own outputs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bantay.layout import PARTITION_FILE, PARTITION_GLOB, accepted_root
from bantay.layout import run_dir as _run_dir
from bantay.schema import CATEGORICAL, ENTITY, TIMESTAMP, feature_set
from bantay.settings import ModelSettings, Settings, bantay_home
from bantay.stores.model_store import model_store_for
from bantay.stores.registry import registry_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """Who, what and why for one training run; JSON-serialisable for XCom."""

    model: str
    run_id: str
    as_of: str  # ISO datetime: labels matured by then, features as of each label's time
    reason: str
    force_reason: str | None = None
    trigger: str | None = None  # schedule | drift | manual, as planned; None outside a DAG run

    @property
    def key(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.run_id)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_dir(ctx: RunContext) -> Path:
    return _run_dir(bantay_home(), ctx.model, ctx.key)


def code_version() -> dict[str, str | None]:
    from importlib.metadata import version

    root = Path(__file__).resolve().parents[3]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = None
    return {"package": version("bantay"), "git_revision": rev}


# -- training set --------------------------------------------------------------------------


def load_labels(settings: Settings, model: ModelSettings, as_of: dt.datetime) -> pd.DataFrame:
    """Labels that had matured by ``as_of`` (partition date <= as_of), inside the training window.

    Read from the accepted tree only: label partitions the data contract passed."""
    import pyarrow.dataset as ds

    root = accepted_root(settings.data_dir) / model.label_source
    cutoff = as_of.date()
    first = cutoff - dt.timedelta(days=model.training_window_days)
    files = [
        p
        for p in sorted(root.glob(f"{PARTITION_GLOB}/{PARTITION_FILE}"))
        if first <= dt.date.fromisoformat(p.parent.name.split("=", 1)[1]) <= cutoff
    ]
    if not files:
        raise FileNotFoundError(
            f"no accepted labels for model {model.name!r} under {root} between {first} and "
            f"{cutoff}; run bantay_features for those days (it validates the label feed), check "
            "the feed and quarantine/, or widen training_window_days"
        )
    frame = ds.dataset([str(p) for p in files], format="parquet").to_table().to_pandas()
    frame = frame[frame[TIMESTAMP] < pd.Timestamp(as_of)]
    return frame[[ENTITY, TIMESTAMP, model.label]].drop_duplicates([ENTITY, TIMESTAMP], keep="last")


def build_training_set(settings: Settings, ctx: RunContext) -> dict[str, Any]:
    """Labels as the entity frame, features from Feast's point-in-time join by feature service."""
    from bantay.stores.feast_store import store

    model = settings.model(ctx.model)
    labels = load_labels(settings, model, dt.datetime.fromisoformat(ctx.as_of))
    fs = store(settings)
    service = fs.get_feature_service(model.feature_service)
    frame = fs.get_historical_features(entity_df=labels, features=service).to_df()
    frame = frame.sort_values([TIMESTAMP, ENTITY]).reset_index(drop=True)
    path = run_dir(ctx) / "training.parquet"
    frame.to_parquet(path, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
    views = sorted({p.name for p in service.feature_view_projections})
    features = service_features(service)
    summary = {
        "path": str(path),
        "rows": len(frame),
        "positives": int(frame[model.label].sum()),
        "window": [str(frame[TIMESTAMP].min()), str(frame[TIMESTAMP].max())],
        "feature_service": model.feature_service,
        "feature_views": views,
        "features": features,
    }
    log.info("training set: %s", summary)
    return summary


def service_features(service) -> dict[str, list[str]]:
    """The model's features from its Feast FeatureService, split by kind (for pipelines)."""
    names = [f.name for p in service.feature_view_projections for f in p.features]
    categorical = [n for n in names if n in CATEGORICAL]
    return {"numerical": [n for n in names if n not in categorical], "categorical": categorical}


def _split(settings: Settings, ctx: RunContext, path: str):
    from bantay.training.split import temporal_split

    model = settings.model(ctx.model)
    return temporal_split(
        pd.read_parquet(path), fractions=tuple(model.split), label_col=model.label
    )


def trials(settings: Settings, model: str) -> list[dict[str, Any]]:
    from bantay.training.search_space import expand_search_space

    return [dict(t) for t in expand_search_space(settings.model(model).search_space)]


def tune_one(
    settings: Settings, ctx: RunContext, training: dict[str, Any], trial: dict[str, Any]
) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    from bantay.training.pipeline import fit_and_score

    split = _split(settings, ctx, training["path"])
    # Mapped trials share a worker's cores: one thread each beats oversubscribed BLAS/OpenMP.
    with threadpool_limits(limits=1):
        result = fit_and_score(
            trial,
            split.train,
            split.valid,
            training["features"],
            label_col=settings.model(ctx.model).label,
        )
    log.info("trial %s: %s", trial.get("trial_id"), result.to_dict())
    return result.to_dict()


# -- evaluation and the gate ---------------------------------------------------------------


def _production_metrics(
    settings: Settings, ctx: RunContext, test: pd.DataFrame
) -> tuple[dict | None, str | None]:
    """Score the current production model on the candidate's test set (same rows, same metric)."""
    from bantay.stores.model_store import NoProductionVersion, UnknownModel
    from bantay.training.evaluation import evaluate
    from bantay.training.pipeline import predict_scores

    model = settings.model(ctx.model)
    try:
        prod, manifest = model_store_for(settings).load_production(ctx.model)
    except (NoProductionVersion, UnknownModel):
        return None, None
    # Production is scored on the features it was trained with (its manifest), on the same rows.
    scores = predict_scores(prod, test, manifest.get("features") or feature_set())
    return evaluate(
        test[model.label], scores, target_precision=model.gate.target_precision
    ), manifest["version"]


def build_reference(
    settings: Settings, ctx: RunContext, fitted, test: pd.DataFrame, features: dict
) -> pd.DataFrame:
    """The drift reference: what serving saw on the last days the model was trained on.

    The same learners as the test set, at the end of each of the ``reference_days`` days that
    end on the test set's last labelled day (every weekday, so the drift check can compare a day
    with the same weekday), features from Feast as of then, scored by the new model, with the
    matured labels kept where an observation exists (for the performance check); capped at the
    drift sample size with a fixed seed. Never the days after the training data: a reference
    that already holds unlabelled drifted days would hide the drift it should show.
    """
    import numpy as np

    from bantay.stores.feast_store import store
    from bantay.training.pipeline import predict_scores

    model = settings.model(ctx.model)
    last = pd.Timestamp(test[TIMESTAMP].max()).date()
    days = [last - dt.timedelta(days=i) for i in range(model.drift.reference_days)]
    learners = np.unique(test[ENTITY].to_numpy())
    rng = np.random.default_rng(model.drift.seed)
    n = min(model.drift.sample_size, len(learners) * len(days))
    picks = rng.choice(len(learners) * len(days), size=n, replace=False)
    entity = pd.DataFrame(
        {
            ENTITY: learners[picks % len(learners)],
            TIMESTAMP: [
                pd.Timestamp(dt.datetime.combine(days[i], dt.time(23, 59), dt.UTC))
                for i in picks // len(learners)
            ],
        }
    )
    fs = store(settings)
    frame = fs.get_historical_features(
        entity_df=entity, features=fs.get_feature_service(model.feature_service)
    ).to_df()
    frame["score"] = predict_scores(fitted, frame, features)
    labels = test[[ENTITY, TIMESTAMP, model.label]].drop_duplicates([ENTITY, TIMESTAMP])
    frame = frame.drop(columns=[model.label], errors="ignore").merge(
        labels, on=[ENTITY, TIMESTAMP], how="left"
    )
    return frame.sort_values([TIMESTAMP, ENTITY]).reset_index(drop=True)


def evaluate_candidate(
    settings: Settings, ctx: RunContext, training: dict[str, Any], results: list[dict]
) -> dict:
    """Pick the best trial, refit on train+valid, evaluate on test against production, run the
    gate, and record the candidate (or the rejection) in the registry."""
    import joblib

    from bantay.stores.registry_models import ModelStatus, new_version_id
    from bantay.training.checks import training_data_checks
    from bantay.training.evaluation import evaluate, evaluate_slices, slice_specs
    from bantay.training.gate import run_gate
    from bantay.training.pipeline import TrialResult, fit_final, predict_scores, select_best

    model = settings.model(ctx.model)
    split = _split(settings, ctx, training["path"])
    features = training["features"]
    best = select_best([TrialResult.from_dict(r) for r in results])
    fitted = fit_final(best, pd.concat([split.train, split.valid]), features, label_col=model.label)
    scores = predict_scores(fitted, split.test, features)
    metrics = evaluate(
        split.test[model.label], scores, target_precision=model.gate.target_precision
    )
    slices = evaluate_slices(
        split.test,
        scores,
        slices=slice_specs(model.slices),
        label_col=model.label,
        target_precision=model.gate.target_precision,
    )
    prod_metrics, prod_version = _production_metrics(settings, ctx, split.test)
    checks = training_data_checks(
        split.train,
        features,
        min_rows=model.gate.min_rows,
        label_rate_bounds=model.gate.label_rate_bounds,
        label_col=model.label,
    )
    report = run_gate(
        metrics, prod_metrics, slices, checks, scores, model.gate, force_reason=ctx.force_reason
    )
    log.info("validation gate for %s:\n%s", ctx.model, report.as_table())

    # Keyed on the run: a re-run of this task names (and overwrites) the same version.
    version = new_version_id(ctx.model, dt.datetime.fromisoformat(ctx.as_of), salt=ctx.run_id)
    joblib.dump(fitted, run_dir(ctx) / "model.joblib")
    reference = build_reference(settings, ctx, fitted, split.test, features)
    reference.to_parquet(run_dir(ctx) / "reference.parquet", index=False)
    lineage = {
        "data_window": training["window"],
        "as_of": ctx.as_of,
        "feature_service": training["feature_service"],
        "feature_views": training["feature_views"],
        "training_rows": training["rows"],
        "split": split.summary(model.label),
        "airflow_run_id": ctx.run_id,
        "reason": ctx.reason,
        "trigger": ctx.trigger,
        "force_reason": ctx.force_reason,
        "compared_with": prod_version,
        **code_version(),
    }
    summary = {
        "version": version,
        "passed": report.passed,
        "metrics": metrics,
        "production_metrics": prod_metrics,
        "slices": slices,
        "params": dict(best),
        "features": features,
        "label": model.label,
        "gate": report.to_dict(),
        "gate_table": report.as_table(),
        "reasons": report.reasons,
        "lineage": lineage,
        "test_window": [split.boundaries["test_start"], split.boundaries["test_end"]],
    }
    (run_dir(ctx) / "evaluation.json").write_text(json.dumps(summary, indent=2, default=str))
    reg = registry_for(settings)
    reg.upsert_version(
        ctx.model,
        version,
        airflow_run_id=ctx.run_id,
        status=ModelStatus.CANDIDATE if report.passed else ModelStatus.REJECTED,
        metrics={"test": metrics, "production_on_same_test": prod_metrics, "slices": slices},
        params=dict(best),
        gate=report.to_dict()["checks"],
        lineage=lineage,
        reason=ctx.reason,
        rejection_reason=None if report.passed else "; ".join(report.reasons),
    )
    # What later tasks need: the approval request, publish, and the e-mail to on-call.
    keep = (
        "version",
        "passed",
        "metrics",
        "production_metrics",
        "reasons",
        "gate_table",
        "test_window",
    )
    return {k: summary[k] for k in keep}


def record_approval(
    settings: Settings, ctx: RunContext, version: str, approved: bool, by: str, note: str
) -> None:
    """Approved moves the candidate on; rejected is final and keeps the reason."""
    from bantay.stores.registry_models import ModelStatus

    reg = registry_for(settings)
    if approved:
        reg.set_status(ctx.model, version, ModelStatus.APPROVED, reason=f"approved by {by}: {note}")
    else:
        reg.set_status(ctx.model, version, ModelStatus.REJECTED, reason=f"rejected by {by}: {note}")


def publish_and_promote(settings: Settings, ctx: RunContext, version: str) -> dict[str, Any]:
    """Upload the approved version (immutable), then move the production pointer to it."""
    import joblib

    reg = registry_for(settings)
    record = reg.get_version(ctx.model, version)
    if record is None or record.status not in ("approved", "production"):
        raise RuntimeError(
            f"version {version} of {ctx.model} is {record.status if record else 'not registered'}; "
            "only an approved version is published"
        )
    evaluation = json.loads((run_dir(ctx) / "evaluation.json").read_text())
    fitted = joblib.load(run_dir(ctx) / "model.joblib")
    reference = pd.read_parquet(run_dir(ctx) / "reference.parquet")
    model = settings.model(ctx.model)
    ref = reference.sample(
        n=min(len(reference), model.drift.sample_size), random_state=model.drift.seed
    )
    manifest = {
        "metrics": evaluation["metrics"],
        "params": evaluation["params"],
        "features": evaluation["features"],
        "label": evaluation["label"],
        "schema": {c: str(t) for c, t in reference.dtypes.items()},
        "gate": evaluation["gate"],
        "lineage": evaluation["lineage"],
    }
    from bantay.serving.promotion import promotion_for

    promotion = promotion_for(settings, reg)
    promotion.publish(ctx.model, version, fitted, manifest, ref)
    pointer = promotion.promote(
        ctx.model, version, actor=f"airflow:{ctx.run_id}", reason=ctx.reason
    )
    store = promotion.store
    return {
        "version": version,
        "pointer": pointer,
        "s3": store.uri(store.version_key(ctx.model, version, "")),
    }
