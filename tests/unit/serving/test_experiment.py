"""Arms of a randomised experiment: a keyed hash keeps a unit in one arm whatever night, order
or batch scores it; a grouping unit keeps a whole school together; the scored day serves the
arm's score and logs the arm and its probability; a design that cannot be met is refused."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bantay.serving.experiment import (
    CHALLENGER,
    CONTROL,
    ExperimentError,
    ExperimentPlan,
    assign,
    assignment_probability,
    new_record,
)
from bantay.serving.scoring import apply_experiment

KEY = "0f" * 32


def test_a_learner_stays_in_its_arm_across_nights_orders_and_batches():
    ids = np.arange(10_000)
    night_one = dict(zip(ids, assign(KEY, ids, 0.5), strict=True))
    shuffled = np.random.default_rng(3).permutation(ids)[:2_500]  # another night: fewer, reordered
    night_two = assign(KEY, shuffled, 0.5)
    assert all(night_one[i] == arm for i, arm in zip(shuffled, night_two, strict=True))


def test_the_share_is_met_and_another_key_gives_another_split():
    ids = np.arange(20_000)
    arms = assign(KEY, ids, 0.3)
    assert (arms == CHALLENGER).mean() == pytest.approx(0.3, abs=0.015)
    other = assign("a1" * 32, ids, 0.3)
    assert (arms != other).mean() == pytest.approx(2 * 0.3 * 0.7, abs=0.02)


def test_a_larger_share_only_moves_learners_into_the_challenger_arm():
    ids = np.arange(5_000)
    small, large = assign(KEY, ids, 0.2), assign(KEY, ids, 0.5)
    assert not ((small == CHALLENGER) & (large == CONTROL)).any()


def test_a_school_is_assigned_whole():
    schools = np.repeat(np.array(["s1", "s2", "s3", "s4", "s5", "s6"]), 50)
    arms = assign(KEY, schools, 0.5)
    per_school = pd.Series(arms).groupby(schools).nunique()
    assert (per_school == 1).all()


def test_the_logged_probability_is_that_of_the_arm_received():
    arms = np.array([CHALLENGER, CONTROL])
    assert assignment_probability(arms, 0.2).tolist() == [0.2, 0.8]


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"share": 1.0}, "--share 1.0"),
        ({"min_effect": 0.2}, "--min-effect 0.2"),
        ({"looks": 0}, "--looks 0"),
        ({"power": 0.3}, "--power 0.3"),
    ],
)
def test_a_design_that_cannot_be_met_is_refused_naming_the_option(kwargs, said):
    with pytest.raises(ExperimentError, match=said):
        ExperimentPlan(**kwargs)


def test_the_schedule_waits_for_a_cadence_of_outcomes_to_mature():
    plan = ExperimentPlan(looks=3, look_every_days=7)
    assert plan.schedule(dt.date(2026, 3, 1), 14) == [
        dt.date(2026, 3, 22),
        dt.date(2026, 3, 29),
        dt.date(2026, 4, 5),
    ]


def _record(**plan) -> dict:
    return new_record(
        "m",
        "v2",
        "v1",
        ExperimentPlan(**plan),
        start=dt.date(2026, 3, 1),
        label_delay_days=14,
        sample={"per_arm": 100, "max_information": 1e4},
        actor="t",
        reason="r",
    )


def _day(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "learner_id": np.arange(n),
            "region": rng.choice(["north", "south", "east"], n),
            "score": rng.random(n),
            "model_version": "v1",
            "shadow_score": rng.random(n),
            "shadow_version": "v2",
        }
    )


def test_the_scored_day_serves_the_arms_score_and_logs_the_arm():
    frame, record = _day(), _record(share=0.4)
    said = apply_experiment(frame, record)
    challenger = frame["arm"] == CHALLENGER
    assert said["challenger_rows"] == int(challenger.sum()) > 0
    assert (frame.loc[challenger, "served_score"] == frame.loc[challenger, "shadow_score"]).all()
    assert (frame.loc[~challenger, "served_score"] == frame.loc[~challenger, "score"]).all()
    assert set(frame.loc[challenger, "served_version"]) == {"v2"}
    assert set(frame["assignment_probability"].round(2)) == {0.4, 0.6}
    assert set(frame["experiment_id"]) == {record["id"]}
    assert (frame["arm"] == assign(record["key"], frame["learner_id"].to_numpy(), 0.4)).all()


def test_no_experiment_leaves_the_day_untouched():
    frame = _day()
    before = frame.copy()
    assert apply_experiment(frame, None) is None
    pd.testing.assert_frame_equal(frame, before)


def test_a_shadow_other_than_the_challenger_serves_production_and_says_so():
    frame = _day().assign(shadow_version="v9")
    said = apply_experiment(frame, _record())
    assert "names challenger v2 but the shadow scored is v9" in said["refused"]
    assert "arm" not in frame.columns


def test_a_unit_column_the_day_lacks_is_refused():
    said = apply_experiment(_day(), _record(unit="school_id"))
    assert "assigns by 'school_id', a column the day lacks" in said["refused"]


def test_grouped_by_region_every_learner_of_a_region_shares_an_arm():
    frame = _day()
    apply_experiment(frame, _record(unit="region"))
    assert (frame.groupby("region")["arm"].nunique() == 1).all()
