"""Term outcomes when flags act: the intervention knob is off by default, acts only on the
learners staff had capacity for, and only ever turns an adverse outcome into a good one."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import numpy as np
import pytest

from bantay import simulate as sim
from bantay.simulate.labels import label_partition

DAY = dt.date(2026, 9, 2)  # an observation day of the default weekly grid, 14 days before
BASE = sim.Scenario(learners=3000, seed=11)
OBSERVED = DAY - dt.timedelta(days=BASE.label_delay_days)


def digest(frame) -> str:
    values = frame[["learner_id", "at_risk", "disengaged"]].to_numpy().astype("int64")
    return hashlib.sha256(values.tobytes()).hexdigest()[:16]


def test_default_outcomes_are_those_of_the_simulator_before_the_knob():
    """The digest was taken from the simulator before interventions existed (same seed)."""
    frame = label_partition(DAY, BASE)
    assert (len(frame), int(frame["at_risk"].sum())) == (2927, 469)
    assert digest(frame) == "0d97eaa7aff59025"


def test_zero_efficacy_or_no_flags_changes_nothing():
    flags = {OBSERVED: tuple(range(100_001, 101_001))}
    for knob in (sim.Intervention(0.0, 500, flags), sim.Intervention(0.9, 500, {})):
        frame = label_partition(DAY, dataclasses.replace(BASE, intervention=knob))
        assert digest(frame) == digest(label_partition(DAY, BASE))


def effect(efficacy: float, flagged: list[int], capacity: int):
    knob = sim.Intervention(efficacy, capacity, {OBSERVED: tuple(flagged)})
    before = label_partition(DAY, BASE).set_index("learner_id")["at_risk"]
    after = label_partition(DAY, dataclasses.replace(BASE, intervention=knob))
    return before, after.set_index("learner_id")["at_risk"]


def test_only_the_learners_within_capacity_are_helped_and_only_for_the_better():
    before, after = effect(1.0, list(range(100_001, 103_001)), capacity=1000)
    acted = before.index < 101_001  # the first 1000 flags, in the order given
    assert (after[~acted] == before[~acted]).all()
    assert before[acted].sum() > 50 and after[acted].sum() == 0  # efficacy 1: none at risk
    assert (after <= before).all()


def test_efficacy_lowers_the_acted_on_learners_outcome_rate_by_its_share():
    flagged = list(range(100_001, 103_001))
    before, after = effect(0.4, flagged, capacity=3000)
    ratio = after.sum() / before.sum()
    assert ratio == pytest.approx(0.6, abs=0.08)


def test_flags_of_another_day_do_not_act():
    knob = sim.Intervention(
        1.0, 3000, {OBSERVED + dt.timedelta(days=1): tuple(range(100_001, 103_001))}
    )
    frame = label_partition(DAY, dataclasses.replace(BASE, intervention=knob))
    assert digest(frame) == digest(label_partition(DAY, BASE))


@pytest.mark.parametrize(
    ("efficacy", "capacity", "message"),
    [(1.5, 10, "efficacy 1.5 must be a share in \\[0, 1\\]"), (0.3, -1, "capacity -1 must be 0")],
)
def test_bad_knob_values_are_refused_with_the_fix(efficacy, capacity, message):
    with pytest.raises(ValueError, match=message):
        sim.Intervention(efficacy, capacity)


def test_acted_respects_the_order_of_the_flags():
    knob = sim.Intervention(0.5, 2, {OBSERVED: (7, 3, 9)})
    np.testing.assert_array_equal(knob.acted(OBSERVED), [7, 3])
