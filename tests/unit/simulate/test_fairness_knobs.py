"""The fairness-shift and importance-shift knobs: off by default (the world of a seed is the
same), and when on they change only what they say."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bantay import simulate as sim
from bantay.simulate.labels import label_partition
from bantay.simulate.world import population

START = dt.date(2026, 3, 2)
SOURCE = "learning_activity"


def _matured(scenario: sim.Scenario) -> pd.DataFrame:
    """The first non-empty label partition maturing after START's observations."""
    for k in range(20):
        labels = label_partition(START + dt.timedelta(days=14 + k), scenario)
        if len(labels):
            return labels
    raise AssertionError("no labels matured in 20 days")


def test_knobs_are_off_by_default_and_leave_the_world_unchanged() -> None:
    plain = sim.Scenario(learners=800, seed=3)
    assert plain.fairness is None and plain.importance == ()
    later = sim.Scenario(
        learners=800,
        seed=3,
        fairness=sim.FairnessShift(plain_region(), START + dt.timedelta(days=400)),
        importance=(sim.ImportanceShift(("study_minutes",), START + dt.timedelta(days=400)),),
    )
    pd.testing.assert_frame_equal(_matured(plain), _matured(later))
    pd.testing.assert_frame_equal(
        sim.partition(SOURCE, START, plain), sim.partition(SOURCE, START, later)
    )


def plain_region() -> str:
    return str(population(sim.Scenario(learners=800, seed=3)).region[0])


def test_fairness_shift_changes_only_the_regions_labels() -> None:
    region = plain_region()
    plain = sim.Scenario(learners=3000, seed=5)
    shifted = sim.Scenario(learners=3000, seed=5, fairness=sim.FairnessShift(region, START, 1.0))
    a, b = _matured(plain), _matured(shifted)
    pop = population(plain)
    in_region = pd.Series(pop.region == region, index=pop.learner_id)
    mask = in_region.reindex(a["learner_id"]).to_numpy()
    assert (a["at_risk"].to_numpy()[~mask] == b["at_risk"].to_numpy()[~mask]).all()
    assert (a["at_risk"].to_numpy()[mask] != b["at_risk"].to_numpy()[mask]).mean() > 0.1


def test_importance_shift_spreads_around_the_median() -> None:
    plain = sim.Scenario(learners=2000, seed=2)
    shifted = sim.Scenario(
        learners=2000, seed=2, importance=(sim.ImportanceShift(("study_minutes",), START, 1.5),)
    )
    a, b = sim.partition(SOURCE, START, plain), sim.partition(SOURCE, START, shifted)
    assert b["study_minutes"].std() > 1.3 * a["study_minutes"].std()
    assert abs(b["study_minutes"].median() - a["study_minutes"].median()) <= 1
    other = [c for c in a.columns if c != "study_minutes"]
    pd.testing.assert_frame_equal(a[other], b[other])
    before = sim.partition(SOURCE, START - dt.timedelta(days=1), shifted)
    pd.testing.assert_frame_equal(
        before, sim.partition(SOURCE, START - dt.timedelta(days=1), plain)
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: sim.FairnessShift("Atlantis", START),
        lambda: sim.FairnessShift(plain_region(), START, 0.0),
        lambda: sim.ImportanceShift(("region",), START),
        lambda: sim.ImportanceShift(("study_minutes",), START, 0.0),
    ],
)
def test_bad_knobs_are_refused(make) -> None:
    with pytest.raises(ValueError, match="fairness shift|importance shift"):
        make()
