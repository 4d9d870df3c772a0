"""The experiment report read from a lake: nightly logs whose arms the scoring step assigned
(``apply_experiment``), the labels that matured since, judged on closed windows only."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bantay.layout import Layout
from bantay.monitoring.experiment import BETTER, NOT_YET
from bantay.monitoring.experiment_inputs import (
    ExperimentDataError,
    day_arms,
    experiment_report,
)
from bantay.settings import ModelSettings
from bantay.training.evaluation import FALLBACK_THRESHOLD
from support.experiment_lake import LEARNERS, START, experiment_record, write_experiment_days
from support.shadow_lake import MODEL


@pytest.fixture
def lake(tmp_path):
    return Layout(home=tmp_path, data=tmp_path / "data")


def test_a_challenger_whose_arm_fails_less_wins_on_matured_outcomes(lake):
    record = experiment_record()
    write_experiment_days(lake, record, weeks=4)
    first_look = dt.date.fromisoformat(record["schedule"][0])
    result = experiment_report(ModelSettings(name=MODEL), lake, None, record, first_look)
    assert result.decision == BETTER
    control, challenger = result.looks[0].arms
    # only the two weeks whose windows closed by the first look count
    assert control.outcomes + challenger.outcomes == 2 * LEARNERS
    assert challenger.rate < control.rate
    assert 0 <= challenger.at_risk_never_flagged <= 1


def test_before_the_first_look_it_is_not_yet(lake):
    record = experiment_record()
    write_experiment_days(lake, record, weeks=2)
    result = experiment_report(
        ModelSettings(name=MODEL), lake, None, record, START + dt.timedelta(days=15)
    )
    assert result.decision == NOT_YET and "first is due" in result.reason


def test_no_scored_day_says_what_to_run(lake):
    with pytest.raises(ExperimentDataError, match="let bantay_scoring run"):
        experiment_report(ModelSettings(name=MODEL), lake, None, experiment_record(), START)


def test_day_arms_names_the_experiment_its_share_and_each_arms_served_version():
    rows = pd.DataFrame(
        {
            "learner_id": [1, 2, 3, 4],
            "experiment_id": ["e1", "e1", "e1", None],
            "arm": ["control", "challenger", "challenger", None],
            "served_version": ["v3", "v4", "v4", "v3"],
        }
    )
    shares = {"e1": 0.25}
    assert day_arms(rows, shares.get) == {
        "id": "e1",
        "share": 0.25,
        "served": {"control": "v3", "challenger": "v4"},
    }
    assert day_arms(rows.assign(experiment_id=None), shares.get) is None
    assert day_arms(rows.drop(columns=["experiment_id", "arm"]), shares.get) is None


def test_a_design_with_a_capacity_reports_the_flagged_volume_guardrail(lake):
    record = experiment_record()
    write_experiment_days(lake, record, weeks=4)
    first_look = dt.date.fromisoformat(record["schedule"][0])
    plain = experiment_report(ModelSettings(name=MODEL), lake, None, record, first_look)
    assert plain.guardrails == ()  # no capacity stated: not shown
    record["plan"]["capacity"] = 10_000
    result = experiment_report(ModelSettings(name=MODEL), lake, None, record, first_look)
    (guard,) = result.guardrails
    assert guard.name == "flagged volume" and len(guard.rows) == 4
    log = pd.read_parquet(lake.prediction_path(MODEL, START))
    arm = log["arm"] == "challenger"
    expected = int((log.loc[arm, "served_score"] >= FALLBACK_THRESHOLD).sum())
    assert guard.rows[0]["challenger"] == expected
    assert guard.state == ("breached" if expected / 0.5 > 10_000 else "holds")
    record["plan"]["capacity"] = 1
    tight = experiment_report(ModelSettings(name=MODEL), lake, None, record, first_look)
    assert tight.guardrails[0].state == "breached"
    assert tight.to_dict()["guardrails"][0]["state"] == "breached"


def test_the_recall_gap_guardrail_reads_the_slices_from_the_log(lake):
    record = experiment_record()
    write_experiment_days(lake, record, weeks=4)
    for k in range(4):
        path = lake.prediction_path(MODEL, START + dt.timedelta(days=7 * k))
        log = pd.read_parquet(path)
        log["region"] = pd.Series(log["learner_id"] % 2).map({0: "north", 1: "south"})
        log.to_parquet(path, index=False)
    first_look = dt.date.fromisoformat(record["schedule"][0])
    model = ModelSettings(name=MODEL, slices=["region", "school"])
    (guard,) = experiment_report(model, lake, None, record, first_look).guardrails
    assert guard.name == "recall gap by slice" and guard.state in ("holds", "breached")
    assert {(r["arm"], r["group"]) for r in guard.rows} == {
        (arm, region) for arm in ("control", "challenger") for region in ("north", "south")
    }
