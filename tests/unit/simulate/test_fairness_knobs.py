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


def test_decoupling_keeps_every_value_and_loses_the_learner() -> None:
    plain = sim.Scenario(learners=3000, seed=4)
    mixed = sim.Scenario(
        learners=3000, seed=4, decoupling=(sim.Decoupling(("attendance_rate",), START, 0.5),)
    )
    before = sim.partition(SOURCE, START - dt.timedelta(days=1), mixed)
    pd.testing.assert_frame_equal(
        before, sim.partition(SOURCE, START - dt.timedelta(days=1), plain)
    )
    a, b = sim.partition(SOURCE, START, plain), sim.partition(SOURCE, START, mixed)
    # The day's values handed round (the distribution no test can tell apart; only the ~1 %
    # of rows arriving a day late differ), other columns untouched ...
    assert b["attendance_rate"].isin(a["attendance_rate"]).mean() > 0.97
    quantiles = [0.05, 0.25, 0.5, 0.75, 0.95]
    assert (
        a["attendance_rate"].quantile(quantiles) - b["attendance_rate"].quantile(quantiles)
    ).abs().max() < 0.005
    pd.testing.assert_frame_equal(
        a.drop(columns="attendance_rate"), b.drop(columns="attendance_rate")
    )
    # ... about half the learners now carry someone else's attendance, which no longer tracks
    # their other measures of the same risk.
    moved = (a["attendance_rate"].to_numpy() != b["attendance_rate"].to_numpy()).mean()
    assert 0.4 < moved < 0.6
    tracks_a = a["attendance_rate"].corr(a["assignment_completion"])
    tracks_b = b["attendance_rate"].corr(b["assignment_completion"])
    assert tracks_a > 0.3 and tracks_b < 0.7 * tracks_a


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attendance_rate@2026-03-02:0.5", sim.Decoupling(("attendance_rate",), START, 0.5)),
        (
            "attendance_rate,study_minutes@2026-03-02",
            sim.Decoupling(("attendance_rate", "study_minutes"), START, 1.0),
        ),
    ],
)
def test_decoupling_parses_from_the_command_line(text: str, expected: sim.Decoupling) -> None:
    assert sim.parse_decoupling(text) == expected


@pytest.mark.parametrize(
    ("parse", "text", "named"),
    [
        (sim.parse_decoupling, "attendance@2026-03-02", "attendance"),
        (sim.parse_decoupling, "attendance_rate@2026-03-02:1.5", "share"),
        (sim.parse_importance, "study_minutes@03/02/2026", "YYYY-MM-DD"),
        (sim.parse_fairness, "atlantis@2026-03-02", "atlantis"),
    ],
)
def test_bad_knobs_name_the_input_and_the_format(parse, text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named) as raised:
        parse(text)
    assert text in str(raised.value)


def test_simulate_command_takes_the_fairness_and_attribution_knobs(tmp_path) -> None:
    from bantay.cli.commands import run_simulate
    from bantay.cli.parser import build_parser
    from bantay.layout import partition_path

    args = build_parser().parse_args(
        [
            "simulate",
            "--learners",
            "300",
            "--start",
            "2026-03-01",
            "--days",
            "2",
            "--out",
            str(tmp_path),
            "--fairness",
            "luzon@2026-03-02:0.9",
            "--importance",
            "study_minutes@2026-03-02:1.2",
            "--decouple",
            "attendance_rate@2026-03-02:0.5",
        ]
    )
    assert run_simulate(args) == 0
    plain = sim.partition(SOURCE, START, sim.Scenario(learners=300, seed=args.seed))
    written = pd.read_parquet(partition_path(tmp_path, SOURCE, START))
    assert written["attendance_rate"].isin(plain["attendance_rate"]).mean() > 0.95
    assert (plain["attendance_rate"].to_numpy() != written["attendance_rate"].to_numpy()).any()
