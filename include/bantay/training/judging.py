"""The gate run of a candidate: scored on the held-out test rows, compared with production on the
rows neither was fitted on, and judged by the validation gate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bantay.schema import TIMESTAMP
from bantay.settings import ModelSettings
from bantay.stores.model_store import NoProductionVersion, UnknownModel
from bantay.training.checks import training_data_checks
from bantay.training.evaluation import evaluate, evaluate_slices, slice_specs
from bantay.training.fairness import CANDIDATE, CHAMPION, slice_fairness, versus_champion_check
from bantay.training.gate import GateReport, run_gate
from bantay.training.lineage import fitted_until
from bantay.training.pipeline import FeaturesLike, predict_scores
from bantay.training.run import RunContext
from bantay.training.split import Split

if TYPE_CHECKING:
    from bantay.stores.model_store import ModelStore


def production_metrics(
    test: pd.DataFrame, candidate_scores: np.ndarray, *, model: ModelSettings, store: ModelStore
) -> dict[str, Any]:
    """Production and candidate scored on the test rows neither was fitted on.

    Production was refit on everything up to its own as-of time, so test rows it has seen would
    flatter it: both models are compared on the rows after production's newest fitted row
    (``rows`` says how many). When none are left, the comparison uses the whole test set and
    says so: a champion that saw the test rows is a stricter bar, never a laxer one.
    """
    try:
        prod, manifest = store.load_production(model.name)
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
    scores = predict_scores(prod, rows, manifest.get("features") or model.declared_features())
    precision = model.gate.target_precision
    fairness = slice_fairness(
        rows,
        {CANDIDATE: candidate_scores[fresh], CHAMPION: scores},
        label=model.label,
        slices=slice_specs(model.slices),
        cfg=model.gate,
    )
    return {
        "version": manifest["version"],
        "production": evaluate(rows[model.label], scores, target_precision=precision),
        "candidate": evaluate(
            rows[model.label], candidate_scores[fresh], target_precision=precision
        ),
        "rows": int(fresh.sum()),
        "basis": basis,
        "fairness": fairness,
    }


def judge(
    ctx: RunContext,
    split: Split,
    fitted: Any,
    features: FeaturesLike,
    *,
    model: ModelSettings,
    store: ModelStore,
) -> tuple[GateReport, dict[str, Any]]:
    """Score the gate's model on the held-out test rows, compare with production on the rows
    neither was fitted on, and run the validation gate."""
    scores = predict_scores(fitted, split.test, features)
    metrics = evaluate(
        split.test[model.label], scores, target_precision=model.gate.target_precision
    )
    slices = evaluate_slices(
        split.test,
        scores,
        slices=slice_specs(model.slices),
        min_slice_rows=model.gate.min_slice_rows,
        label_col=model.label,
        target_precision=model.gate.target_precision,
    )
    # The version's own fairness on its test rows, recorded with it in the registry.
    fairness = slice_fairness(
        split.test,
        {CANDIDATE: scores},
        label=model.label,
        slices=slice_specs(model.slices),
        cfg=model.gate,
    )
    versus = production_metrics(split.test, scores, model=model, store=store)
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
        fairness_versus=versus_champion_check(
            versus.get("fairness"), model.gate, champion=versus["version"]
        ),
    )
    found = {"test": metrics, "slices": slices, "fairness": fairness, "versus": versus}
    return report, found
