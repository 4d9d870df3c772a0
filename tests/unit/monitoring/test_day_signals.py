"""The verdict the daily signals give: FAIRNESS only on an otherwise quiet day with a regressed
slice, WATCH on an OK day whose attributions moved; the numbers travel with the result whatever
the verdict."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bantay.monitoring.day_signals import judge_signals, with_signals
from bantay.monitoring.fairness_results import AttributionCheck, FairnessCheck, SliceRecall
from bantay.monitoring.results import DriftResult
from bantay.settings import ModelSettings
from bantay.settings.drift import FairnessConfig
from bantay.vocabulary import Verdict
from support.monitoring_frames import quiet_result

DAY = dt.date(2026, 11, 20)


def _result(verdict: Verdict) -> DriftResult:
    return quiet_result(verdict, DAY)


def _fairness(gap_low: float) -> FairnessCheck:
    recall = SliceRecall("region", "south", 400, 120, 0.4, 0.3, 0.5, 0.4, gap_low, 0.5, False)
    return FairnessCheck(threshold=0.5, min_flag_ratio=0.8, allowed_gap=0.25, recalls=(recall,))


@pytest.mark.parametrize("quiet", [Verdict.OK, Verdict.WATCH])
def test_a_regressed_slice_on_a_quiet_day_is_fairness(quiet: Verdict) -> None:
    assert with_signals(_result(quiet), _fairness(0.3), None).verdict is Verdict.FAIRNESS


def test_a_gap_whose_interval_reaches_the_allowed_gap_is_not_fairness() -> None:
    assert with_signals(_result(Verdict.OK), _fairness(0.2), None).verdict is Verdict.OK


def _attribution(flagged_shift: float, basis: str = "drift reference") -> AttributionCheck:
    return AttributionCheck(
        ndcg=1.0,
        min_ndcg=0.9,
        large_change=0.5,
        rows=7000,
        basis=basis,
        shift=0.001,
        flagged_shift=flagged_shift,
        max_shift=0.02,
        flagged_rows=900,
        days=7,
    )


def test_attributions_that_moved_on_an_ok_day_are_watch_and_nothing_louder() -> None:
    assert with_signals(_result(Verdict.OK), None, _attribution(0.05)).verdict is Verdict.WATCH
    assert with_signals(_result(Verdict.OK), None, _attribution(0.01)).verdict is Verdict.OK
    older = _attribution(0.05, basis="test rows")  # measured against test rows: reported only
    assert with_signals(_result(Verdict.OK), None, older).verdict is Verdict.OK
    assert with_signals(_result(Verdict.DRIFT), None, _attribution(0.05)).verdict is Verdict.DRIFT
    assert (
        with_signals(_result(Verdict.OK), _fairness(0.3), _attribution(0.05)).verdict
        is Verdict.FAIRNESS
    )
    again = DriftResult.from_data(
        with_signals(_result(Verdict.OK), None, _attribution(0.05)).as_data()
    )
    assert again.attribution == _attribution(0.05) and again.verdict is Verdict.WATCH


@pytest.mark.parametrize("louder", [Verdict.DRIFT, Verdict.PERFORMANCE, Verdict.DATA_QUALITY])
def test_louder_verdicts_stay_and_carry_the_fairness_numbers(louder: Verdict) -> None:
    result = with_signals(_result(louder), _fairness(0.3), None)
    assert result.verdict is louder and result.fairness.regressed
    again = DriftResult.from_data(result.as_data())
    assert again.fairness == result.fairness and again.verdict is louder


def test_judges_the_day_with_the_versions_threshold_and_back_test_scores() -> None:
    """The prediction log and labelled rows are built here; no store is read."""
    rng = np.random.default_rng(3)
    stamp = pd.Timestamp(DAY, tz="UTC")
    current = pd.DataFrame(
        {
            "learner_id": np.arange(600),
            "event_timestamp": np.where(np.arange(600) < 300, stamp, stamp - pd.Timedelta("1D")),
            "region": rng.choice(["north", "south"], 600),
            "score": rng.random(600),
            "model_version": "v3",
        }
    )
    labelled = pd.DataFrame(
        {
            "event_timestamp": stamp - pd.Timedelta("20D"),
            "region": np.repeat(["north", "south"], 300),
            "at_risk": 1,
            "score": 0.0,  # the serving version's; the back-test scores are judged instead
            "backtest_score": np.r_[np.full(300, 0.9), np.where(rng.random(300) < 0.3, 0.9, 0.1)],
        }
    )
    model = ModelSettings(name="learner_risk", feature_service="learner_risk_v1", slices=["region"])
    manifest = {"version": "v3", "metrics": {"test": {"threshold_at_precision": 0.6}}}
    fairness, attribution = judge_signals(
        model, manifest, current, labelled, DAY, FairnessConfig(min_slice_rows=50)
    )
    assert fairness.threshold == 0.6 and fairness.version == "v3"
    assert sum(r.rows for r in fairness.rates) == 300
    today = current[current["event_timestamp"] == stamp]
    north = today[today["region"] == "north"]
    rate = next(r.flag_rate for r in fairness.rates if r.group == "north")
    assert rate == pytest.approx((north["score"] >= 0.6).mean())
    assert [r.group for r in fairness.regressed] == ["south"]
    assert attribution is None  # the version has no explanation


def test_on_an_experiment_day_the_flag_rates_are_those_of_the_flags_staff_saw() -> None:
    """The challenger's arm (south here) was served the challenger's score against its own
    threshold: its flag rate is what staff saw, not what production would have flagged."""
    rng = np.random.default_rng(5)
    stamp = pd.Timestamp(DAY, tz="UTC")
    n = 800
    region = np.repeat(["north", "south"], n // 2)
    score, challenger = rng.random(n), rng.random(n)
    arm_b = region == "south"
    current = pd.DataFrame(
        {
            "learner_id": np.arange(n),
            "event_timestamp": stamp,
            "region": region,
            "score": score,
            "model_version": "v3",
            "served_score": np.where(arm_b, challenger, score),
            "served_version": np.where(arm_b, "v4", "v3"),
        }
    )
    model = ModelSettings(name="learner_risk", feature_service="learner_risk_v1", slices=["region"])
    manifest = {"version": "v3", "metrics": {"test": {"threshold_at_precision": 0.6}}}
    fairness, _ = judge_signals(
        model, manifest, current, None, DAY, FairnessConfig(min_slice_rows=50), {"v4": 0.8}
    )
    rates = {r.group: r.flag_rate for r in fairness.rates}
    assert rates["north"] == pytest.approx((score[~arm_b] >= 0.6).mean())
    assert rates["south"] == pytest.approx((challenger[arm_b] >= 0.8).mean())
    assert rates["south"] != pytest.approx((score[arm_b] >= 0.6).mean())
    # Without an experiment's columns, production's score as before.
    plain = current.drop(columns=["served_score", "served_version"])
    fairness, _ = judge_signals(
        model, manifest, plain, None, DAY, FairnessConfig(min_slice_rows=50)
    )
    south = next(r.flag_rate for r in fairness.rates if r.group == "south")
    assert south == pytest.approx((score[arm_b] >= 0.6).mean())
