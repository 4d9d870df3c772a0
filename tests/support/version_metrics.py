"""What training records with a version, built by bantay's own functions on small synthetic rows:
the global explanation (a fitted model explained on its test rows) and the fairness records
(per-slice recall with intervals, alone or beside a champion), plus a registry record carrying
them. Used by the page tests, which must render what training really stores."""

from __future__ import annotations

import copy
import datetime as dt
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from bantay.settings.gate import GateConfig
from bantay.stores.registry import VersionRecord
from bantay.training.evaluation import slice_specs
from bantay.training.explain import version_explanation
from bantay.training.fairness import CANDIDATE, CHAMPION, slice_fairness
from bantay.training.pipeline import fit_final
from support.synthetic import FEATURES, make_learner_frame

MODEL = "learner_risk"
T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
LOGREG = {"trial_id": "lr", "name": "lr", "estimator": "logistic_regression", "params": {}}
HGB = {
    "trial_id": "hgb",
    "name": "hgb",
    "estimator": "hist_gradient_boosting",
    "params": {"max_iter": 30, "max_depth": 3},
}
TRIALS = {"lr": LOGREG, "hgb": HGB}
# Regions of the fairness frame: two large enough to judge, one too small (under 50 rows).
GROUPS = {"ncr": 600, "luzon": 600, "mindanao": 30}
SLICES = slice_specs(["region", "parent_abroad"])
GATE = GateConfig(fairness_n_boot=60)


def explanation(family: str, seed: int) -> dict[str, Any]:
    """The explanation a version of ``family`` (``lr`` or ``hgb``) stores, as
    ``register_candidate`` keeps it: fitted on 2,000 synthetic rows, explained on 600 others
    (computed once per process; each call gets its own copy)."""
    return copy.deepcopy(_explanation(family, seed))


@lru_cache(maxsize=8)
def _explanation(family: str, seed: int) -> dict[str, Any]:
    train, test = make_learner_frame(2_000, seed=seed), make_learner_frame(600, seed=seed + 1)
    model = fit_final(TRIALS[family], train, FEATURES)
    found = version_explanation(model, train, test, FEATURES.names, seed=seed)
    return {k: found[k] for k in ("method", "additivity", "global")}


def fairness_frame(seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of three regions (one too small to judge) and whether a parent works abroad (too
    few with one to judge that slice at all), about 20 % at risk, and scores that rank at-risk
    learners higher."""
    rng = np.random.default_rng(seed)
    region = np.concatenate([[g] * n for g, n in GROUPS.items()])
    y = rng.binomial(1, 0.2, len(region))
    abroad = (rng.random(len(region)) < 0.02).astype(int)
    scores = np.clip(0.35 * y + rng.normal(0.3, 0.18, len(region)), 0, 1)
    return pd.DataFrame({"region": region, "parent_abroad": abroad, "at_risk": y}), scores


def own_fairness(seed: int = 3, blind: str | None = None) -> dict[str, Any]:
    """A version's own fairness record on its test rows (``metrics["fairness"]``); ``blind``:
    a region whose scores are halved, so the version misses its at-risk learners."""
    frame, scores = fairness_frame(seed)
    if blind:
        scores = np.where(frame["region"] == blind, scores * 0.5, scores)
    return slice_fairness(frame, {CANDIDATE: scores}, label="at_risk", slices=SLICES, cfg=GATE)


def versus_champion(seed: int = 3, blind: str = "luzon") -> dict[str, Any]:
    """A candidate beside a champion blind in ``blind`` on the same rows
    (``metrics["fairness_versus_champion"]``)."""
    frame, scores = fairness_frame(seed)
    champion = np.where(frame["region"] == blind, scores * 0.5, scores)
    both = {CANDIDATE: scores, CHAMPION: champion}
    return slice_fairness(frame, both, label="at_risk", slices=SLICES, cfg=GATE)


def record(version: str, day: int, **fields: Any) -> VersionRecord:
    """A registry record of ``version`` created ``day`` days after ``T0``."""
    base = {
        "id": day,
        "model": MODEL,
        "version": version,
        "status": "approved",
        "metrics": {"test": {"pr_auc": 0.5, "roc_auc": 0.8}},
        "params": {"estimator": "hgb", "max_depth": 3},
        "gate": [],
        "lineage": {},
        "reason": "weekly",
        "rejection_reason": None,
        "airflow_run_id": None,
        "created_at": T0 + dt.timedelta(days=day),
        "updated_at": T0 + dt.timedelta(days=day),
    }
    return VersionRecord(**{**base, **fields})
