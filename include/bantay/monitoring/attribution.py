"""Attribution drift: what the model leans on now against what it leaned on when trained.

The model's importance of a feature is the mean |attribution| (the prediction log's ``attr_*``
columns). Now: over the drift window's learners scored by the version (the same days the input
drift test reads, so the week's rhythm, weekend attendance say, is in both). Then: over the
version's drift reference, explained when the version was trained (its manifest's
``explanation.reference``; a version published before that was recorded falls back to its test
rows, reported but never an alarm).

Three measures, each with its own threshold:

* NDCG of the importance ranking (1: the same order; SageMaker Clarify's alarm below 0.9);
* the shift of attribution shares: total variation between the two share vectors, the part of
  all attribution that moved from some features to others. Over every scored learner and among
  the highest-scored ones (what the flags rest on: as large a share of the window's highest
  scores as the version flagged on its reference, so a flag rate that rises with the season is
  not read as a change of reasons). Inputs may stay within their drift thresholds while
  this moves: a feature that stops tracking its learner (a join that mixes learners up) keeps
  its distribution, but the flagged learners are no longer flagged for it, and a tree model's
  attributions of the other features change with it;
* per feature, the relative change and the move of its share (the e-mail's "the model now
  leans on X much more than it did").

Beside them, the share of flagged learners whose top reason changed since yesterday.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import ndcg_score

from bantay.monitoring.fairness_results import (
    REFERENCE_BASIS,
    TEST_BASIS,
    AttributionCheck,
    FeatureLean,
)
from bantay.monitoring.frames import days_of
from bantay.schema import ENTITY, TIMESTAMP
from bantay.serving.reasons import ATTRIBUTION, REASON
from bantay.settings.drift import FairnessConfig


def global_importance(manifest: Mapping[str, Any]) -> dict[str, float]:
    """The version's mean |attribution| per feature on its test rows; empty when the version
    was published before explanations were recorded."""
    explanation = manifest.get("explanation") or {}
    return _floats((explanation.get("global") or {}).get("mean_abs_attribution"))


def reference_importance(
    manifest: Mapping[str, Any],
) -> tuple[str, dict[str, float], dict[str, float]]:
    """What the version's importances are judged against: the basis, mean |attribution| per
    feature over every row and over the flagged rows (empty where not recorded)."""
    explanation = manifest.get("explanation") or {}
    reference = explanation.get("reference") or {}
    found = _floats(reference.get("mean_abs_attribution"))
    if found:
        return REFERENCE_BASIS, found, _floats(reference.get("flagged_mean_abs_attribution"))
    return TEST_BASIS, global_importance(manifest), {}


def flagged_share(manifest: Mapping[str, Any]) -> float | None:
    """The share of its drift reference the version flagged (None where not recorded)."""
    reference = (manifest.get("explanation") or {}).get("reference") or {}
    rows, flagged = reference.get("rows"), reference.get("flagged_rows")
    return flagged / rows if rows and flagged is not None else None


def highest_scored(window: pd.DataFrame, share: float | None, threshold: float) -> pd.DataFrame:
    """The window's learners the flagged view compares: as large a share of the highest scores
    as the version flagged on its reference (so that a flag rate rising with the season does
    not read as a change of what the flags rest on), else those at or above ``threshold``."""
    score = window["score"].astype(float)
    if share is None:
        return window[score >= threshold]
    n = int(round(share * len(window)))
    return window.iloc[np.argsort(-score.to_numpy(), kind="stable")[:n]]


def _floats(found: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in (found or {}).items()}


def shares(importance: Mapping[str, float]) -> dict[str, float]:
    """Each feature's part of all attribution (empty when there is none)."""
    total = sum(max(v, 0.0) for v in importance.values())
    return {k: max(v, 0.0) / total for k, v in importance.items()} if total > 0 else {}


def share_shift(before: Mapping[str, float], now: Mapping[str, float]) -> float | None:
    """Total variation between two importance profiles' shares over their common features:
    0 when the model spreads its attribution the same way, 1 when it moved entirely."""
    common = [f for f in before if f in now]
    a, b = shares({f: before[f] for f in common}), shares({f: now[f] for f in common})
    if not a or not b:
        return None
    return 0.5 * sum(abs(a[f] - b[f]) for f in common)


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


def reason_subject(reasons: pd.Series) -> pd.Series:
    """What each reason is about (``Attendance: attendance``), without the learner's value and
    the day's median that change from one day to the next (``62%``, ``(most learners: 88%)``)."""
    # Worked out once per distinct text (a day holds far fewer texts than learners).
    codes, texts = pd.factorize(reasons, use_na_sentinel=True)
    text = pd.Series(texts, dtype="string").str.split(" (most learners", n=1, regex=False).str[0]
    subjects = text.str.replace(_VALUE, "", regex=True).astype(object).tolist()
    # A missing reason (code -1) takes the None appended last.
    return pd.Series(np.array([*subjects, None], dtype=object)[codes], index=reasons.index)


# A reason's value word, as ``serving.reasons`` writes it: a number (maybe with % or min), or
# ``missing``.
_VALUE = r" (?:missing|[-+]?[\d.]+(?:e[-+]?\d+)?(?:%| min)?)$"


def top_reason_changed(
    today: pd.DataFrame, yesterday: pd.DataFrame, threshold: float, score: str = "score"
) -> tuple[float | None, int]:
    """Of today's flagged learners also scored yesterday, the share whose first reason is about
    something else (its value moving does not count), and how many were compared; ``(None, 0)``
    when none were (or reasons are not logged)."""
    first = REASON.format(1)
    if first not in today.columns or first not in yesterday.columns:
        return None, 0
    flagged = today[today[score].astype(float) >= threshold]
    before = yesterday.drop_duplicates(ENTITY, keep="last").set_index(ENTITY)[first]
    both = flagged[flagged[ENTITY].isin(before.index)]
    if both.empty:
        return None, 0
    was = reason_subject(before.reindex(both[ENTITY])).to_numpy()
    now = reason_subject(both[first]).to_numpy()
    changed = ~((now == was) | (pd.isna(now) & pd.isna(was)))
    return float(changed.mean()), len(both)


def attribution_drift(
    window: pd.DataFrame,
    today: pd.DataFrame,
    yesterday: pd.DataFrame,
    manifest: Mapping[str, Any],
    threshold: float,
    cfg: FairnessConfig,
) -> AttributionCheck | None:
    """The drift window's attributions (``window``: rows the version scored) against the
    version's own; None when the version has no explanation or the log carries no
    attributions. ``today``/``yesterday`` give the top-reason change of the day."""
    basis, reference, flagged_reference = reference_importance(manifest)
    current = importance(window, list(reference))
    if not reference or not current or window.empty:
        return None
    flagged = highest_scored(window, flagged_share(manifest), threshold)
    judged = len(flagged) >= cfg.min_attribution_rows and bool(flagged_reference)
    flagged_now = importance(flagged, list(flagged_reference)) if judged else {}
    population_judged = len(window) >= cfg.min_attribution_rows
    before, now = shares(reference), shares(current)
    f_before, f_now = shares(flagged_reference), shares(flagged_now)
    leans = tuple(
        FeatureLean(
            f,
            reference[f],
            current[f],
            _change(reference[f], current[f]),
            before.get(f),
            now.get(f),
            f_before.get(f) if f_now else None,
            f_now.get(f),
        )
        for f in reference
        if f in current
    )
    changed, compared = top_reason_changed(today, yesterday, threshold)
    days = days_of(window, TIMESTAMP).nunique() if TIMESTAMP in window else 1
    return AttributionCheck(
        ndcg=ranking_ndcg(reference, current),
        min_ndcg=cfg.min_attribution_ndcg,
        large_change=cfg.attribution_change,
        rows=len(window),
        features=leans,
        top_reason_changed=changed,
        flagged_compared=compared,
        basis=basis,
        shift=share_shift(reference, current) if population_judged else None,
        flagged_shift=share_shift(flagged_reference, flagged_now) if flagged_now else None,
        max_shift=cfg.max_attribution_shift,
        flagged_rows=len(flagged),
        days=int(days),
    )


def _change(reference: float, current: float) -> float:
    if reference > 0:
        return current / reference - 1
    return 0.0 if current == 0 else float("inf")
