"""A run's candidate: the best trial judged by the gate, the same setting refit on every row,
staged in the run's folder (model, drift reference, evaluation record) and registered as a
candidate or a rejection, with the digests of what the gate evaluated."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bantay.layout import Layout
from bantay.settings import ModelSettings
from bantay.stores.registry import new_version_id
from bantay.training.dataset import load_split
from bantay.training.evaluation import FALLBACK_THRESHOLD
from bantay.training.explain import version_explanation
from bantay.training.fingerprint import training_set_digest
from bantay.training.gate import GateReport
from bantay.training.judging import judge
from bantay.training.learners import manifest_subjects, record_manifest
from bantay.training.lineage import code_version, fitted_lineage, library_versions
from bantay.training.pipeline import (
    FeaturesLike,
    TrialResult,
    fit_final,
    resolve_features,
    select_best,
)
from bantay.training.published import REFERENCE_FILE, all_rows, write_published
from bantay.training.reference import reference_days
from bantay.training.run import RunContext, run_dir
from bantay.training.split import Split
from bantay.training.staging import staged_digests
from bantay.vocabulary import ModelStatus

if TYPE_CHECKING:
    from feast import FeatureStore

    from bantay.stores.model_store import ModelStore
    from bantay.stores.registry import Registry

log = logging.getLogger(__name__)
# What the registry keeps of a version's explanation (the linear baseline stays in the files).
EXPLANATION_KEPT = ("method", "additivity", "global", "reference")

# What later tasks need from the evaluation: the approval request, publish, the e-mail to on-call.
RESULT_KEYS = (
    "version",
    "passed",
    "metrics",
    "production_metrics",
    "compared_metrics",
    "reasons",
    "gate_table",
    "test_window",
)


def evaluate_candidate(
    ctx: RunContext,
    training: dict[str, Any],
    results: list[dict],
    regime: dt.date | None,
    *,
    model: ModelSettings,
    layout: Layout,
    registry: Registry,
    store: ModelStore,
    feast: FeatureStore,
) -> dict:
    """Pick the best trial and judge it: fitted on train+valid, scored on the held-out test rows
    against production (on the rows neither was fitted on), through the gate. The version that
    goes on is the same setting refit on every row (train, valid and test): the gate judged the
    procedure on rows it had not seen, and the published model learns the newest rows too,
    which after a drift are the drifted ones. Records the candidate (or the rejection).

    ``regime``: the first day of the input regime the version is fitted in (an open drift's, or
    the one the serving version answered), decided by the drift check's episodes."""
    split = load_split(model, training["path"])
    features = training["features"]
    best = select_best([TrialResult.from_dict(r) for r in results])
    judged = fit_final(best, pd.concat([split.train, split.valid]), features, label_col=model.label)
    report, found = judge(ctx, split, judged, features, model=model, store=store)
    log.info("validation gate for %s:\n%s", ctx.model, report.as_table())

    everything = all_rows(split)
    as_of = dt.datetime.fromisoformat(ctx.as_of)
    fitted = fitted_lineage(everything, regime)
    window = reference_days(model, fitted, as_of)
    log.info("published model fitted on %s; drift reference %s", fitted, window)
    # Keyed on the run: a re-run of this task names (and overwrites) the same version.
    version = new_version_id(ctx.model, as_of, salt=ctx.run_id)
    folder = run_dir(layout, ctx)
    final = write_published(
        best, everything, features, window, model=model, feast=feast, folder=folder
    )
    explanation = explain_version(final, everything, split, features, model, folder, found["test"])
    lineage = candidate_lineage(ctx, training, split, model, fitted, window, found["versus"])
    # Which learners it saw, as keyed hashes: what `bantay erase` asks of every version.
    subjects, lineage["training_set_manifest"] = manifest_subjects(everything)
    summary = evaluation_record(
        version, report, found, dict(best), features, model.label, split, lineage
    )
    summary["explanation"] = explanation
    (folder / "evaluation.json").write_text(json.dumps(summary, indent=2, default=str))
    # What the gate judged, by digest: approval names it, publish refuses anything else.
    lineage["artifacts"] = staged_digests(layout, ctx)
    register_candidate(registry, ctx, version, report, found, dict(best), lineage, explanation)
    record_manifest(registry, ctx.model, version, subjects)
    return evaluation_result(summary, lineage["artifacts"])


def explain_version(
    final: Any,
    everything: pd.DataFrame,
    split: Split,
    features: FeaturesLike,
    model: ModelSettings,
    folder: Path | None = None,
    test_metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The published model's explanation record (global mean |attribution| on the test rows,
    the linear baseline, the additivity error on a probe; with the run ``folder``, the same over
    its drift reference and over those the version flags at its decision threshold). Raises
    ``bantay.training.explain.AttributionError`` when its attributions do not add up to its
    margin: such a version is never registered."""
    explanation = version_explanation(
        final,
        everything,
        split.test,
        resolve_features(features, everything).names,
        tree_method=model.explain.tree_method,
        seed=model.drift.seed,
        reference=_reference_rows(folder),
        threshold=_threshold(test_metrics or {}),
    )
    log.info(
        "explanation of the published model (%s): additivity error %.2g; global %s",
        explanation["method"],
        explanation["additivity"]["max_error"],
        explanation["global"]["mean_abs_attribution"],
    )
    return explanation


def _reference_rows(folder: Path | None) -> pd.DataFrame | None:
    """The drift reference written beside the model (None without a run folder)."""
    if folder is None or not (folder / REFERENCE_FILE).exists():
        return None
    return pd.read_parquet(folder / REFERENCE_FILE)


def _threshold(test: dict[str, Any]) -> float:
    """The version's decision cut: its test threshold at the precision target, else the
    fallback (as the daily check reads it)."""
    found = test.get("threshold_at_precision")
    return float(found) if isinstance(found, int | float) else FALLBACK_THRESHOLD


def candidate_lineage(
    ctx: RunContext,
    training: dict[str, Any],
    split: Split,
    model: ModelSettings,
    fitted: dict[str, Any],
    window: dict[str, Any],
    versus: dict[str, Any],
) -> dict[str, Any]:
    """Where the version came from: data (and its digest), split, fitted rows, reference, run,
    the production version it was compared with and on which rows, the code and the libraries:
    what ``bantay reproduce`` rebuilds the version from and compares it with."""
    return {
        "data_window": training["window"],
        "as_of": ctx.as_of,
        "training_window_days": model.training_window_days,
        "feature_service": training["feature_service"],
        "feature_views": training["feature_views"],
        "training_rows": training["rows"],
        # What the published model was fitted on, by digest (whole and per day).
        "training_set": training_set_digest(all_rows(split)),
        "split": split.summary(model.label),
        "fitted": fitted,
        "reference": window,
        "reference_sample": {"seed": model.drift.seed, "size": model.drift.sample_size},
        "airflow_run_id": ctx.run_id,
        "reason": ctx.reason,
        "trigger": ctx.trigger,
        "force_reason": ctx.force_reason,
        "compared_with": versus["version"],
        "compared_on": {k: versus[k] for k in ("rows", "basis") if k in versus},
        **code_version(),
        "libraries": library_versions(),
    }


def evaluation_record(
    version: str,
    report: GateReport,
    found: dict[str, Any],
    params: dict[str, Any],
    features: Any,
    label: str,
    split: Split,
    lineage: dict[str, Any],
) -> dict[str, Any]:
    """The evaluation as staged in ``evaluation.json`` (what publishing builds the manifest from)."""
    versus = found["versus"]
    return {
        "version": version,
        "passed": report.passed,
        "metrics": found["test"],
        "production_metrics": versus["production"],
        "compared_metrics": versus["candidate"],
        "slices": found["slices"],
        "params": params,
        "features": features,
        "label": label,
        "gate": report.to_dict(),
        "gate_table": report.as_table(),
        "reasons": report.reasons,
        "lineage": lineage,
        "test_window": [split.boundaries["test_start"], split.boundaries["test_end"]],
    }


def register_candidate(
    registry: Registry,
    ctx: RunContext,
    version: str,
    report: GateReport,
    found: dict[str, Any],
    params: dict[str, Any],
    lineage: dict[str, Any],
    explanation: dict[str, Any] | None = None,
) -> None:
    """Record the version as a candidate, or as rejected with the gate's reasons; its metrics
    keep the global explanation and the additivity check."""
    versus = found["versus"]
    registry.versions.upsert(
        ctx.model,
        version,
        airflow_run_id=ctx.run_id,
        status=ModelStatus.CANDIDATE if report.passed else ModelStatus.REJECTED,
        metrics={
            "test": found["test"],
            "production_on_same_test": versus["production"],
            "candidate_on_compared_rows": versus["candidate"],
            "slices": found["slices"],
            # Per-slice recall with intervals: the version's own test rows, and beside the
            # champion on the rows both were compared on (what the fairness check judged).
            "fairness": found.get("fairness"),
            "fairness_versus_champion": versus.get("fairness"),
            **(
                {"explanation": {k: explanation[k] for k in EXPLANATION_KEPT if k in explanation}}
                if explanation
                else {}
            ),
        },
        params=params,
        gate=report.to_dict()["checks"],
        lineage=lineage,
        reason=ctx.reason,
        rejection_reason=None if report.passed else "; ".join(report.reasons),
    )


def evaluation_result(summary: dict[str, Any], artifacts: dict[str, str]) -> dict[str, Any]:
    """What the evaluate task hands on (XCom): the keys in :data:`RESULT_KEYS`, the evaluated
    digests, and the gate table naming them (the approval request shows it)."""
    out = {k: summary[k] for k in RESULT_KEYS}
    out["artifacts"] = artifacts
    out["gate_table"] += "\n\nevaluated " + ", ".join(
        f"{name} sha256 {sha}" for name, sha in artifacts.items()
    )
    return out
