"""Fairness at the gate: per-slice recall with Fairlearn's bootstrap intervals, and the check that
a candidate's recall gap is no wider than the production champion's on the same rows.

The unfair candidate is the fair one made blind in one region (its scores there halved): it
misses that region's at-risk learners, which is what the check must catch and name."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bantay.settings import ModelSettings
from bantay.settings.gate import GateConfig
from bantay.training.evaluation import slice_specs
from bantay.training.fairness import (
    CANDIDATE,
    CHAMPION,
    CHECK_NAME,
    slice_fairness,
    versus_champion_check,
)
from bantay.training.judging import judge
from bantay.training.pipeline import fit_final, predict_scores
from bantay.training.run import RunContext
from bantay.training.split import temporal_split
from support.synthetic import FEATURES, make_learner_frame

LOGREG = {"trial_id": "logreg", "name": "logreg", "estimator": "logistic_regression", "params": {}}
SLICES = slice_specs(["region", "grade_band", "parent_abroad"])
CFG = GateConfig(fairness_n_boot=40, min_rows=500)
BLIND = "luzon"


@pytest.fixture(scope="module")
def split():
    return temporal_split(make_learner_frame(5000, seed=0), fractions=(0.6, 0.2, 0.2))


@pytest.fixture(scope="module")
def fitted(split):
    return fit_final(LOGREG, pd.concat([split.train, split.valid]), FEATURES)


@pytest.fixture(scope="module")
def scores(split, fitted):
    return predict_scores(fitted, split.test, FEATURES)


def _blind(frame: pd.DataFrame, scores: np.ndarray, region: str = BLIND) -> np.ndarray:
    out = scores.copy()
    out[(frame["region"] == region).to_numpy()] *= 0.5
    return out


def _versus(split, candidate, champion, cfg=CFG):
    both = {CANDIDATE: candidate, CHAMPION: champion}
    return slice_fairness(split.test, both, label="at_risk", slices=SLICES, cfg=cfg)


def test_each_group_has_a_recall_inside_its_bootstrap_interval(split, scores):
    record = slice_fairness(
        split.test, {CANDIDATE: scores}, label="at_risk", slices=SLICES, cfg=CFG
    )
    region = record["slices"]["region"]
    assert set(region["groups"]) == set(split.test["region"].unique())
    for info in region["groups"].values():
        recall = info["recall"][CANDIDATE]
        assert recall["low"] <= recall["value"] <= recall["high"]
        assert recall["high"] - recall["low"] > 0.02  # a real interval, not a point
    gap = region["gaps"][CANDIDATE]
    values = [g["recall"][CANDIDATE]["value"] for g in region["groups"].values()]
    assert gap["value"] == pytest.approx(max(values) - min(values))
    assert gap["low"] <= gap["value"] <= gap["high"]
    assert record["n_boot"] == 40 and record["ci_quantiles"] == pytest.approx([0.025, 0.975])
    assert "change" not in region  # one model: nothing to pair


def test_the_paired_change_of_the_gap_has_an_interval_around_it(split, scores):
    region = _versus(split, _blind(split.test, scores), scores)["slices"]["region"]
    change, gaps = region["change"], region["gaps"]
    assert change["value"] == pytest.approx(gaps[CANDIDATE]["value"] - gaps[CHAMPION]["value"])
    assert change["low"] <= change["value"] <= change["high"]
    same = _versus(split, scores, scores)["slices"]["region"]["change"]
    assert same == {"value": 0.0, "low": 0.0, "high": 0.0}  # paired: identical models never differ


def test_a_candidate_blind_in_one_region_is_rejected_naming_it(split, scores):
    check = versus_champion_check(
        _versus(split, _blind(split.test, scores), scores), CFG, champion="v-champ"
    )
    assert check.name == CHECK_NAME and not check.passed and check.status == "failed"
    assert check.value > CFG.max_fairness_regression
    assert "region:" in check.detail and f"region={BLIND}" in check.detail
    assert "v-champ" in check.detail and f"{check.value:.3f}" in check.detail


def test_a_candidate_as_fair_as_the_champion_passes(split, scores):
    rng = np.random.default_rng(3)
    jittered = np.clip(scores + rng.normal(0, 0.01, scores.size), 0, 1)
    check = versus_champion_check(_versus(split, jittered, scores), CFG)
    assert check.passed and check.status == "passed"
    assert abs(check.value) < CFG.max_fairness_regression


def test_a_fairer_candidate_passes_against_an_unfair_champion(split, scores):
    versus = _versus(split, scores, _blind(split.test, scores))
    gaps = versus["slices"]["region"]["gaps"]
    assert gaps[CANDIDATE]["value"] < gaps[CHAMPION]["value"] - 0.2
    assert versus_champion_check(versus, CFG).passed


def test_the_tolerance_decides(split, scores):
    versus = _versus(split, _blind(split.test, scores), scores)
    lax = CFG.model_copy(update={"max_fairness_regression": 1.0})
    assert versus_champion_check(versus, lax).passed
    assert not versus_champion_check(versus, CFG).passed


def test_small_groups_are_reported_too_small_never_fair(split, scores):
    strict = CFG.model_copy(update={"min_slice_rows": 300})
    versus = _versus(split, _blind(split.test, scores), scores, cfg=strict)
    region = versus["slices"]["region"]["groups"]
    small = {g for g, info in region.items() if info["too_small"]}
    assert small and all(not region[g]["recall"] for g in small)
    check = versus_champion_check(versus, strict)
    assert "too small to judge" in check.detail or "Too small" in check.detail
    assert all(f"region={g}" in check.detail for g in small)
    nothing = CFG.model_copy(update={"min_slice_rows": 10_000})
    skipped = versus_champion_check(_versus(split, scores, scores, cfg=nothing), nothing)
    assert skipped.status == "skipped" and "cannot be compared" in skipped.detail


def test_no_champion_skips_the_check():
    check = versus_champion_check(None, CFG)
    assert check.status == "skipped" and check.passed


class _RegionBlind:
    """A fitted model whose scores are halved in one region (it reads the region column)."""

    def __init__(self, inner) -> None:
        self.inner, self.classes_ = inner, inner.classes_

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        proba = self.inner.predict_proba(x).copy()
        blind = (x["region"] == BLIND).to_numpy()
        proba[blind, 1] *= 0.5
        proba[blind, 0] = 1 - proba[blind, 1]
        return proba


def test_the_gate_run_rejects_a_fairness_regression_and_records_both_models(split, fitted):
    store = SimpleNamespace(
        load_production=lambda name: (fitted, {"version": "v-champ", "features": None})
    )
    model = ModelSettings(name="learner_risk", gate=CFG)
    ctx = RunContext(model="learner_risk", run_id="r", as_of="2025-06-01T00:00:00", reason="t")
    report, found = judge(ctx, split, _RegionBlind(fitted), FEATURES, model=model, store=store)
    check = report.check(CHECK_NAME)
    assert not report.passed and not check.passed
    assert any(r.startswith(f"{CHECK_NAME}: region:") for r in report.reasons)
    versus = found["versus"]["fairness"]
    assert set(versus["slices"]["region"]["gaps"]) == {CANDIDATE, CHAMPION}
    assert set(found["fairness"]["slices"]["region"]["gaps"]) == {CANDIDATE}
    fair, _ = judge(ctx, split, fitted, FEATURES, model=model, store=store)
    assert fair.check(CHECK_NAME).passed
