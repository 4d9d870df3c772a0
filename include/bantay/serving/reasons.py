"""Reason codes a counsellor reads: why a learner was flagged, in the words of the school.

From the attributions of a scored batch (:mod:`bantay.training.explain`), each learner gets at
most ``max_reasons`` reasons, one per domain (Attendance, Engagement, Coursework, Family
contact), strongest push first. A domain is a reason only when its actionable features push the
learner's risk up (by at least ``min_attribution`` log-odds); protected attributes and features
outside the domains never are. A reason names the domain's strongest feature with the learner's
value against the scored population's median::

    Attendance: attendance 62% (most learners: 91%)

Everything is computed for the whole batch at once (per domain and per reason slot, never per
learner).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bantay.settings import ExplainConfig
from bantay.training.explain import Attributions

REASON = "reason_{}"
ATTRIBUTION = "attr_{}"
BASE = "attr_base"
MISSING = "missing"

# How a feature is named and its value written; a feature not listed is written as a number.
WORDING: dict[str, tuple[str, str]] = {
    "attendance_rate": ("attendance", "percent"),
    "assignment_completion": ("assignments completed", "percent"),
    "quiz_score_avg": ("quiz average", "whole"),
    "study_minutes": ("study time", "minutes"),
    "late_submissions": ("late submissions", "whole"),
    "calls_with_parent": ("calls with parent", "whole"),
    "messages_with_parent": ("messages with parent", "whole"),
    "days_since_last_contact": ("days since last contact", "whole"),
    "support_on_time_ratio": ("support on time", "percent"),
}


def reason_columns(n: int) -> list[str]:
    return [REASON.format(i) for i in range(1, n + 1)]


def written(values: np.ndarray | pd.Series, kind: str) -> np.ndarray:
    """Values as a counsellor reads them (``62%``, ``4``, ``35 min``; missing ones as
    ``missing``): each distinct rounded value is written once and shared by its rows."""
    words, inverse = _distinct(values, kind)
    return words[inverse]


def _distinct(values: np.ndarray | pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values as written, and for every row the index of its own. Whole numbers
    (percentages, counts, minutes) index a range of words without sorting; other numbers go
    through ``np.unique``."""
    v = np.asarray(pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce"), dtype=float)
    keys = np.round(v * (100.0 if kind == "percent" else 1.0), 2 if kind == "number" else 0)
    finite = np.isfinite(keys)
    if kind == "number" or not finite.any() or np.ptp(keys[finite]) > 100_000:
        distinct, inverse = np.unique(keys, return_inverse=True)
        return np.array([_word(k, kind) for k in distinct], dtype=object), inverse.ravel()
    low, high = keys[finite].min(), keys[finite].max()
    distinct = np.r_[np.arange(low, high + 1), np.nan]  # the last word: missing
    inverse = np.where(finite, np.nan_to_num(keys - low), len(distinct) - 1).astype(np.intp)
    return np.array([_word(k, kind) for k in distinct], dtype=object), inverse


def _word(key: float, kind: str) -> str:
    if np.isnan(key):
        return MISSING
    unit = {"percent": "%", "minutes": " min"}.get(kind, "")
    return f"{key:g}" if kind == "number" else f"{key:.0f}{unit}"


def phrases(
    frame: pd.DataFrame, features: Sequence[str], domains: dict[str, str]
) -> tuple[np.ndarray, list[str]]:
    """Every reason text the batch can need, and for each learner and feature the index of its
    own: the learner's value against the batch's median. Each distinct text is built once
    (there are a few hundred); learners share it by index."""
    codes = np.empty((len(frame), len(features)), dtype=np.int64)
    table: list[str] = []
    for j, feature in enumerate(features):
        label, kind = WORDING.get(feature, (feature.replace("_", " "), "number"))
        values = pd.to_numeric(frame[feature], errors="coerce").to_numpy(dtype=float)
        median = np.nanmedian(values) if np.isfinite(values).any() else np.nan
        usual = written(np.array([median]), kind)[0]
        words, inverse = _distinct(values, kind)
        codes[:, j] = len(table) + inverse
        table += [f"{domains[feature]}: {label} {w} (most learners: {usual})" for w in words]
    return codes, table


def reason_codes(
    attributions: Attributions, frame: pd.DataFrame, cfg: ExplainConfig
) -> pd.DataFrame:
    """``reason_1`` .. ``reason_<max_reasons>`` for every row of ``frame`` (aligned with the
    attributions), as categoricals over the batch's reason texts; missing where fewer domains
    push the learner's risk up."""
    columns = reason_columns(cfg.max_reasons)
    actionable = cfg.actionable(attributions.features)
    n = len(frame)
    if not actionable or n == 0:
        return pd.DataFrame({c: pd.Categorical([None] * n) for c in columns}, index=frame.index)
    index = [attributions.features.index(f) for f in actionable]
    values = attributions.values[:, index]
    names = list(dict.fromkeys(cfg.domains[f] for f in actionable))
    push = np.zeros((n, len(names)))
    strongest = np.zeros((n, len(names)), dtype=np.intp)
    for d, name in enumerate(names):
        members = np.array([k for k, f in enumerate(actionable) if cfg.domains[f] == name])
        push[:, d] = np.clip(values[:, members], 0, None).sum(axis=1)
        strongest[:, d] = members[np.argmax(values[:, members], axis=1)]
    codes, table = phrases(frame, actionable, cfg.domains)
    order = np.argsort(-push, axis=1, kind="stable")
    rows = np.arange(n)
    out = {}
    for slot, column in enumerate(columns):
        chosen = np.full(n, -1, dtype=np.int64)
        if slot < len(names):
            d = order[:, slot]
            keep = (push[rows, d] > 0) & (push[rows, d] >= cfg.min_attribution)
            chosen = np.where(keep, codes[rows, strongest[rows, d]], -1)
        out[column] = pd.Categorical.from_codes(chosen, categories=table)
    return pd.DataFrame(out, index=frame.index)


def attribution_columns(attributions: Attributions, index: pd.Index) -> pd.DataFrame:
    """Every feature's attribution (log-odds, float32) and the base value, as logged beside the
    score: ``attr_base + sum(attr_*)`` is the learner's log-odds."""
    data = {
        ATTRIBUTION.format(f): attributions.values[:, j].astype(np.float32)
        for j, f in enumerate(attributions.features)
    }
    data[BASE] = np.full(len(index), attributions.base)
    return pd.DataFrame(data, index=index)


def reason_summary(reasons: pd.DataFrame) -> dict[str, int]:
    """How many learners got each domain as their first reason (for the task's summary)."""
    if not len(reasons.columns):
        return {}
    # Count each distinct text once, then file the counts under the text's domain.
    texts = reasons.iloc[:, 0].dropna().value_counts()
    texts = texts[texts > 0]  # a categorical counts its unused texts too
    domains = pd.Series(texts.to_numpy(), index=[t.split(":", 1)[0] for t in texts.index])
    by_domain = domains.groupby(level=0).sum().sort_values(ascending=False, kind="stable")
    return {str(k): int(v) for k, v in by_domain.items()}
