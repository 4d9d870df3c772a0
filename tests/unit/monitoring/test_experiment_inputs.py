"""The experiment report read from a lake: nightly logs whose arms the scoring step assigned
(``apply_experiment``), the labels that matured since, judged on closed windows only."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bantay.layout import Layout, partition_path
from bantay.monitoring.experiment import BETTER, NOT_YET
from bantay.monitoring.experiment_inputs import ExperimentDataError, experiment_report
from bantay.monitoring.experiment_stats import sample_size
from bantay.serving.experiment import ExperimentPlan, new_record
from bantay.serving.scoring import apply_experiment
from bantay.settings import ModelSettings
from support.shadow_lake import DELAY, MODEL, stamp

START = dt.date(2026, 3, 2)
LEARNERS = 3000


def _record() -> dict:
    plan = ExperimentPlan(base_rate=0.3, min_effect=0.05, looks=3)
    size = sample_size(0.3, 0.05, alpha=0.05, power=0.8, looks=3).as_dict()
    return new_record(
        MODEL,
        "s1",
        "p1",
        plan,
        start=START,
        label_delay_days=DELAY,
        sample=size,
        actor="t",
        reason="r",
    )


def _write(layout: Layout, record: dict, weeks: int) -> None:
    rng = np.random.default_rng(1)
    for k in range(weeks):
        day = START + dt.timedelta(days=7 * k)
        log = pd.DataFrame(
            {
                "learner_id": np.arange(LEARNERS, dtype=np.int64),
                "event_timestamp": stamp(day),
                "score": rng.random(LEARNERS),
                "model_version": "p1",
                "shadow_score": rng.random(LEARNERS),
                "shadow_version": "s1",
            }
        )
        apply_experiment(log, record)
        path = layout.prediction_path(MODEL, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(path, index=False)
        p = np.where(log["arm"] == "challenger", 0.15, 0.3)
        labels = log[["learner_id", "event_timestamp"]].assign(
            at_risk=(rng.random(LEARNERS) < p).astype(np.int64)
        )
        label_path = partition_path(layout.accepted, "term_outcomes", day + dt.timedelta(DELAY))
        label_path.parent.mkdir(parents=True, exist_ok=True)
        labels.to_parquet(label_path, index=False)


@pytest.fixture
def lake(tmp_path):
    return Layout(home=tmp_path, data=tmp_path / "data")


def test_a_challenger_whose_arm_fails_less_wins_on_matured_outcomes(lake):
    record = _record()
    _write(lake, record, weeks=4)
    first_look = dt.date.fromisoformat(record["schedule"][0])
    result = experiment_report(ModelSettings(name=MODEL), lake, None, record, first_look)
    assert result.decision == BETTER
    control, challenger = result.looks[0].arms
    # only the two weeks whose windows closed by the first look count
    assert control.outcomes + challenger.outcomes == 2 * LEARNERS
    assert challenger.rate < control.rate
    assert 0 <= challenger.at_risk_never_flagged <= 1


def test_before_the_first_look_it_is_not_yet(lake):
    record = _record()
    _write(lake, record, weeks=2)
    result = experiment_report(
        ModelSettings(name=MODEL), lake, None, record, START + dt.timedelta(days=15)
    )
    assert result.decision == NOT_YET and "first is due" in result.reason


def test_no_scored_day_says_what_to_run(lake):
    with pytest.raises(ExperimentDataError, match="let bantay_scoring run"):
        experiment_report(ModelSettings(name=MODEL), lake, None, _record(), START)
