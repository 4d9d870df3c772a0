"""The training lifecycle, one function per DAG task: training set, tuning, evaluation with the
gate, approval, publish and promotion. Tasks in ``dags/bantay_training.py`` are thin wrappers.

Intermediate files live under ``<BANTAY_HOME>/runs/<model>/<run key>/`` (a shared volume in the
stack), keyed on the DAG run, so a re-run of a task overwrites its own outputs.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bantay.layout import PARTITION_FILE, PARTITION_GLOB, accepted_root
from bantay.schema import CATEGORICAL, ENTITY, TIMESTAMP, feature_set
from bantay.settings import ModelSettings, Settings, get_settings
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
    return get_settings().layout.run_dir(ctx.model, ctx.key)


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
    from bantay.settings.search_space import expand_search_space

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


def fitted_lineage(frame: pd.DataFrame, since: dt.date | None) -> dict[str, Any]:
    """What the published model was fitted on: rows, time span, and rows since the drift."""
    times = pd.to_datetime(frame[TIMESTAMP], utc=True)
    after = int((times >= pd.Timestamp(since, tz="UTC")).sum()) if since else 0
    return {
        "rows": len(frame),
        "parts": "train+valid+test",
        "since": times.min().isoformat(),
        "until": times.max().isoformat(),
        "drift_since": since.isoformat() if since else None,
        "rows_after_drift": after,
    }


def fitted_until(manifest: dict[str, Any]) -> pd.Timestamp | None:
    """The event time of the last row the version was fitted on (its manifest's lineage).

    ``lineage.fitted.until`` when the version records it, else the end of its training data
    window (which also covers its test rows: a little evidence is lost, none is counted twice).
    None when the manifest says neither.
    """
    lineage = manifest.get("lineage") or {}
    until = (lineage.get("fitted") or {}).get("until")
    if until is None and len(lineage.get("data_window") or ()) == 2:
        until = lineage["data_window"][1]
    if until is None:
        return None
    try:
        stamp = pd.Timestamp(until)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"version {manifest.get('version')!r} has an unreadable end of fitted data "
            f"{until!r} in its manifest lineage ({exc}); it must be an ISO timestamp: "
            "republish the version with a valid lineage"
        ) from exc
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _production_metrics(
    settings: Settings, ctx: RunContext, test: pd.DataFrame, candidate_scores: Any
) -> dict[str, Any]:
    """Production and candidate scored on the test rows neither was fitted on.

    Production was refit on everything up to its own as-of time, so test rows it has seen would
    flatter it: both models are compared on the rows after production's newest fitted row
    (``rows`` says how many). When none are left, the comparison uses the whole test set and
    says so: a champion that saw the test rows is a stricter bar, never a laxer one.
    """
    from bantay.stores.model_store import NoProductionVersion, UnknownModel
    from bantay.training.evaluation import evaluate
    from bantay.training.pipeline import predict_scores

    model = settings.model(ctx.model)
    try:
        prod, manifest = model_store_for(settings).load_production(ctx.model)
    except (NoProductionVersion, UnknownModel):
        return {"version": None, "production": None, "candidate": None}
    times = pd.to_datetime(test[TIMESTAMP], utc=True)
    until = fitted_until(manifest)
    fresh = (times > until).to_numpy() if until is not None else times.notna().to_numpy()
    labels = test[model.label].to_numpy()
    if not fresh.any() or len(set(labels[fresh])) < 2:
        fresh[:] = True
        basis = "the whole test set (production was fitted on some of it)"
    else:
        basis = f"test rows after production's newest fitted row ({until})"
    rows = test[fresh]
    # Production is scored on the features it was trained with (its manifest), on the same rows.
    scores = predict_scores(prod, rows, manifest.get("features") or feature_set())
    precision = model.gate.target_precision
    return {
        "version": manifest["version"],
        "production": evaluate(rows[model.label], scores, target_precision=precision),
        "candidate": evaluate(
            rows[model.label], candidate_scores[fresh], target_precision=precision
        ),
        "rows": int(fresh.sum()),
        "basis": basis,
    }


def reference_days(
    model: ModelSettings, fitted: dict[str, Any], as_of: dt.datetime
) -> dict[str, Any]:
    """Which days the drift reference covers, and why (recorded with the version).

    Normally the ``reference_days`` days that end on the newest fitted row: what the model was
    trained on, every weekday, never the days after its data (a reference holding drifted days
    the model never learned would hide the drift it should show). A version fitted on rows of
    a new regime (see :func:`regime_since`) whose fitted days do not yet cover a reference
    window takes the new regime only: the days from its start to the day before ``as_of`` (the
    data the run was built from), at most ``reference_days`` of them. Until that regime spans
    a week, some weekdays are missing from it and the check compares those days with the whole
    reference.
    """
    last = pd.Timestamp(fitted["until"]).date()
    span = dt.timedelta(days=model.drift.reference_days - 1)
    since = fitted.get("drift_since")
    if fitted.get("rows_after_drift") and dt.date.fromisoformat(since) > last - span:
        end = max(last, as_of.date() - dt.timedelta(days=1))
        start = max(dt.date.fromisoformat(since), end - span)
        basis = "post_drift"
    else:
        end, basis = last, "last_fitted_days"
        start = end - span
    return {"basis": basis, "first": start.isoformat(), "last": end.isoformat()}


def build_reference(
    settings: Settings,
    ctx: RunContext,
    fitted,
    rows: pd.DataFrame,
    features: dict,
    window: dict[str, Any],
) -> pd.DataFrame:
    """The drift reference: the fitted learners' features on each day of ``window`` (see
    :func:`reference_days`), from Feast as of the end of that day, scored by the new model, with
    the matured labels kept where an observation exists (for the performance check); capped at
    the drift sample size with a fixed seed."""
    import numpy as np

    from bantay.stores.feast_store import store
    from bantay.training.pipeline import predict_scores

    model = settings.model(ctx.model)
    first, last = (dt.date.fromisoformat(window[k]) for k in ("first", "last"))
    days = [last - dt.timedelta(days=i) for i in range((last - first).days + 1)]
    learners = np.unique(rows[ENTITY].to_numpy())
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
    labels = rows[[ENTITY, TIMESTAMP, model.label]].drop_duplicates([ENTITY, TIMESTAMP])
    frame = frame.drop(columns=[model.label], errors="ignore").merge(
        labels, on=[ENTITY, TIMESTAMP], how="left"
    )
    return frame.sort_values([TIMESTAMP, ENTITY]).reset_index(drop=True)


def _judge(
    settings: Settings, ctx: RunContext, split, fitted, features: dict
) -> tuple[Any, dict[str, Any]]:
    """Score the gate's model on the held-out test rows, compare with production on the rows
    neither was fitted on, and run the validation gate."""
    from bantay.training.checks import training_data_checks
    from bantay.training.evaluation import evaluate, evaluate_slices, slice_specs
    from bantay.training.gate import run_gate
    from bantay.training.pipeline import predict_scores

    model = settings.model(ctx.model)
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
    versus = _production_metrics(settings, ctx, split.test, scores)
    checks = training_data_checks(
        split.train,
        features,
        min_rows=model.gate.min_rows,
        label_rate_bounds=model.gate.label_rate_bounds,
        label_col=model.label,
    )
    report = run_gate(
        metrics,
        versus["production"],
        slices,
        checks,
        scores,
        model.gate,
        force_reason=ctx.force_reason,
        compared_candidate=versus["candidate"],
    )
    return report, {"test": metrics, "slices": slices, "versus": versus}


def evaluate_candidate(
    settings: Settings,
    ctx: RunContext,
    training: dict[str, Any],
    results: list[dict],
    regime: dt.date | None,
) -> dict:
    """Pick the best trial and judge it: fitted on train+valid, scored on the held-out test rows
    against production (on the rows neither was fitted on), through the gate. The version that
    goes on is the same setting refit on every row (train, valid and test): the gate judged the
    procedure on rows it had not seen, and the published model learns the newest rows too,
    which after a drift are the drifted ones. Records the candidate (or the rejection).

    ``regime``: the first day of the input regime the version is fitted in (an open drift's, or
    the one the serving version answered), decided by the drift check's episodes."""
    import joblib

    from bantay.stores.registry import new_version_id
    from bantay.training.pipeline import TrialResult, fit_final, select_best
    from bantay.vocabulary import ModelStatus

    model = settings.model(ctx.model)
    split = _split(settings, ctx, training["path"])
    features = training["features"]
    best = select_best([TrialResult.from_dict(r) for r in results])
    judged = fit_final(best, pd.concat([split.train, split.valid]), features, label_col=model.label)
    report, found = _judge(settings, ctx, split, judged, features)
    log.info("validation gate for %s:\n%s", ctx.model, report.as_table())

    everything = pd.concat([split.train, split.valid, split.test], ignore_index=True)
    final = fit_final(best, everything, features, label_col=model.label)
    as_of = dt.datetime.fromisoformat(ctx.as_of)
    reg = registry_for(settings)
    fitted = fitted_lineage(everything, regime)
    window = reference_days(model, fitted, as_of)
    log.info("published model fitted on %s; drift reference %s", fitted, window)
    # Keyed on the run: a re-run of this task names (and overwrites) the same version.
    version = new_version_id(ctx.model, as_of, salt=ctx.run_id)
    joblib.dump(final, run_dir(ctx) / "model.joblib")
    reference = build_reference(settings, ctx, final, everything, features, window)
    reference.to_parquet(run_dir(ctx) / "reference.parquet", index=False)
    versus = found["versus"]
    lineage = {
        "data_window": training["window"],
        "as_of": ctx.as_of,
        "feature_service": training["feature_service"],
        "feature_views": training["feature_views"],
        "training_rows": training["rows"],
        "split": split.summary(model.label),
        "fitted": fitted,
        "reference": window,
        "airflow_run_id": ctx.run_id,
        "reason": ctx.reason,
        "trigger": ctx.trigger,
        "force_reason": ctx.force_reason,
        "compared_with": versus["version"],
        "compared_on": {k: versus[k] for k in ("rows", "basis") if k in versus},
        **code_version(),
    }
    summary = {
        "version": version,
        "passed": report.passed,
        "metrics": found["test"],
        "production_metrics": versus["production"],
        "compared_metrics": versus["candidate"],
        "slices": found["slices"],
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
    # What the gate judged, by digest: approval names it, publish refuses anything else.
    lineage["artifacts"] = staged_digests(ctx)
    reg.versions.upsert(
        ctx.model,
        version,
        airflow_run_id=ctx.run_id,
        status=ModelStatus.CANDIDATE if report.passed else ModelStatus.REJECTED,
        metrics={
            "test": found["test"],
            "production_on_same_test": versus["production"],
            "candidate_on_compared_rows": versus["candidate"],
            "slices": found["slices"],
        },
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
        "compared_metrics",
        "reasons",
        "gate_table",
        "test_window",
    )
    out = {k: summary[k] for k in keep}
    out["artifacts"] = lineage["artifacts"]
    out["gate_table"] += "\n\nevaluated " + ", ".join(
        f"{name} sha256 {sha}" for name, sha in lineage["artifacts"].items()
    )
    return out


# -- the evaluated artifact, bound by digest --------------------------------------------------

STAGED_FILES = ("model.joblib", "reference.parquet", "evaluation.json")


class StagedArtifactChanged(RuntimeError):
    """A staged file no longer hashes to what the gate evaluated; nothing was published."""


def staged_digests(ctx: RunContext) -> dict[str, str]:
    """sha256 of every file the run staged for publishing."""
    return {name: _sha256((run_dir(ctx) / name).read_bytes()) for name in STAGED_FILES}


def _sha256(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()


def verify_staged(reg: Any, ctx: RunContext, version: str) -> dict[str, bytes]:
    """The staged files' bytes, read once and checked against the digests the registry recorded
    when the gate evaluated ``version`` (callers deserialize these bytes, never the files again,
    so nothing can be swapped between check and use); raises :class:`StagedArtifactChanged`."""
    record = reg.versions.get(ctx.model, version)
    expected = ((record.lineage or {}) if record else {}).get("artifacts")
    if not expected:
        raise StagedArtifactChanged(
            f"{ctx.model} {version} has no evaluated digests in the registry (evaluated before "
            "digests were recorded, or never evaluated): re-run the training DAG so the gate "
            "evaluates the files it publishes"
        )
    try:
        bodies = {name: (run_dir(ctx) / name).read_bytes() for name in expected}
    except FileNotFoundError as exc:
        raise StagedArtifactChanged(
            f"a staged file of {ctx.model} {version} is gone ({exc.filename}); nothing was "
            "published: re-run the training DAG"
        ) from None
    found = {name: _sha256(body) for name, body in bodies.items()}
    changed = sorted(n for n in expected if found[n] != expected[n])
    if changed:
        detail = "; ".join(
            f"{n} is sha256 {found[n]} but the gate evaluated {expected[n]}" for n in changed
        )
        raise StagedArtifactChanged(
            f"refusing {ctx.model} {version}: files in {run_dir(ctx)} changed after the gate "
            f"evaluated them ({detail}). Nothing was published and production is unchanged; "
            "find out who wrote there, then re-run the training DAG"
        )
    return bodies


def record_approval(
    settings: Settings, ctx: RunContext, version: str, approved: bool, by: str, note: str
) -> None:
    """Approved moves the candidate on; rejected is final and keeps the reason."""
    from bantay.vocabulary import ModelStatus

    reg = registry_for(settings)
    if approved:
        sha = _sha256(verify_staged(reg, ctx, version)["model.joblib"])
        reason = f"approved by {by}: {note} (model.joblib sha256 {sha[:12]})"
        reg.versions.set_status(ctx.model, version, ModelStatus.APPROVED, reason=reason)
    else:
        reg.versions.set_status(
            ctx.model, version, ModelStatus.REJECTED, reason=f"rejected by {by}: {note}"
        )


def publish_and_promote(settings: Settings, ctx: RunContext, version: str) -> dict[str, Any]:
    """Upload the approved version (immutable), then move the production pointer to it."""
    import joblib

    reg = registry_for(settings)
    record = reg.versions.get(ctx.model, version)
    if record is None or record.status not in ("approved", "production"):
        raise RuntimeError(
            f"version {version} of {ctx.model} is {record.status if record else 'not registered'}; "
            "only an approved version is published"
        )
    bodies = verify_staged(reg, ctx, version)
    digests = {name: _sha256(body) for name, body in bodies.items()}
    evaluation = json.loads(bodies["evaluation.json"])
    fitted = joblib.load(io.BytesIO(bodies["model.joblib"]))
    reference = pd.read_parquet(io.BytesIO(bodies["reference.parquet"]))
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
        "lineage": {**evaluation["lineage"], "artifacts": digests},
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
        "s3": store.objects.uri(store.objects.version_key(ctx.model, version, "")),
    }
