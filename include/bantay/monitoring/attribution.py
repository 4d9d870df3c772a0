"""Attribution drift: what the model leans on today against what it leaned on when trained.

Today's importance of a feature is the mean |attribution| (the prediction log's ``attr_*``
columns) over the day's learners scored by the version; the version's own is its global
explanation (mean |attribution| on its test rows, in its manifest). Their rankings are compared
by NDCG (1: the same order of importance), and each feature's relative change is kept. Inputs
may stay within their drift thresholds while the model's reliance moves: this is the signal
for that. Beside it, the share of flagged learners whose top reason changed since yesterday.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import ndcg_score

from bantay.monitoring.fairness_results import AttributionCheck, FeatureLean
from bantay.schema import ENTITY
from bantay.serving.reasons import ATTRIBUTION, REASON
from bantay.settings.drift import FairnessConfig


def global_importance(manifest: Mapping[str, Any]) -> dict[str, float]:
    """The version's mean |attribution| per feature on its test rows; empty when the version
    was published before explanations were recorded."""
    explanation = manifest.get("explanation") or {}
    found = (explanation.get("global") or {}).get("mean_abs_attribution") or {}
    return {str(k): float(v) for k, v in found.items()}


def importance(rows: pd.DataFrame, features: list[str]) -> dict[str, float]:
    """Mean |attribution| per feature over ``rows`` (features without a column left out)."""
    out = {}
    for feature in features:
        column = ATTRIBUTION.format(feature)
        if column in rows.columns:
            out[feature] = float(pd.to_numeric(rows[column], errors="coerce").abs().mean())
    return out


def ranking_ndcg(reference: Mapping[str, float], current: Mapping[str, float]) -> float:
    """NDCG of ``current``'s order of the features, graded by ``reference``'s importances."""
    features = [f for f in reference if f in current]
    if len(features) < 2:
        return 1.0
    truth = np.array([[max(reference[f], 0.0) for f in features]])
    score = np.array([[current[f] for f in features]])
    return float(ndcg_score(truth, score))


def top_reason_changed(
    today: pd.DataFrame, yesterday: pd.DataFrame, threshold: float, score: str = "score"
) -> tuple[float | None, int]:
    """Of today's flagged learners also scored yesterday, the share whose first reason differs,
    and how many were compared; ``(None, 0)`` when none were (or reasons are not logged)."""
    first = REASON.format(1)
    if first not in today.columns or first not in yesterday.columns:
        return None, 0
    flagged = today[today[score].astype(float) >= threshold]
    before = yesterday.drop_duplicates(ENTITY, keep="last").set_index(ENTITY)[first]
    both = flagged[flagged[ENTITY].isin(before.index)]
    if both.empty:
        return None, 0
    was = before.reindex(both[ENTITY]).to_numpy()
    now = both[first].to_numpy()
    changed = ~((now == was) | (pd.isna(now) & pd.isna(was)))
    return float(changed.mean()), len(both)


def attribution_drift(
    today: pd.DataFrame,
    yesterday: pd.DataFrame,
    manifest: Mapping[str, Any],
    threshold: float,
    cfg: FairnessConfig,
) -> AttributionCheck | None:
    """Today's attributions against the version's global explanation; None when the version
    has no explanation or the day's log carries no attributions."""
    reference = global_importance(manifest)
    current = importance(today, list(reference))
    if not reference or not current or today.empty:
        return None
    leans = tuple(
        FeatureLean(f, reference[f], current[f], _change(reference[f], current[f]))
        for f in reference
        if f in current
    )
    changed, compared = top_reason_changed(today, yesterday, threshold)
    return AttributionCheck(
        ndcg=ranking_ndcg(reference, current),
        min_ndcg=cfg.min_attribution_ndcg,
        large_change=cfg.attribution_change,
        rows=len(today),
        features=leans,
        top_reason_changed=changed,
        flagged_compared=compared,
    )


def _change(reference: float, current: float) -> float:
    if reference > 0:
        return current / reference - 1
    return 0.0 if current == 0 else float("inf")
