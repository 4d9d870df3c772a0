"""The demo's story does not depend on the day of the week: for a demo ending on each of seven
consecutive days, the simulated term outcomes of the drifted days mature inside the checked days,
and bantay's own guards (fed with what the drift check would read from the label feed) trigger
exactly one drift retrain, after the drifted labels matured. Before the label grid followed the
drift, four weekdays of seven ended with the labels guard holding on every DRIFT day."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from demo import LABEL_DELAY, Calendar, story_gaps

from bantay.monitoring.guards import DayRecord, decide_retrain, drift_start
from bantay.monitoring.retrain_inputs import labels_ready_on
from bantay.schema import TIMESTAMP
from bantay.settings.drift import GuardConfig
from bantay.simulate.labels import label_partition
from bantay.simulate.scenario import Scenario
from bantay.vocabulary import Action, Verdict

FRIDAY = dt.date(2026, 12, 4)
LAST_DAYS = [FRIDAY + dt.timedelta(days=i) for i in range(7)]


def _matured(cal: Calendar, scenario: Scenario, up_to: dt.date) -> pd.DataFrame:
    """The label feed as the drift check reads it: partitions by maturity day, up to ``up_to``."""
    days = [cal.first + dt.timedelta(days=i) for i in range((up_to - cal.first).days + 1)]
    parts = [label_partition(d, scenario).assign(_matured=pd.Timestamp(d)) for d in days]
    return pd.concat([p for p in parts if not p.empty], ignore_index=True)


@pytest.mark.parametrize("last", LAST_DAYS, ids=lambda d: d.strftime("%A"))
def test_the_drift_retrain_fires_once_after_the_drifted_labels_mature(last: dt.date) -> None:
    cal = Calendar.ending(last, 80)
    scenario = Scenario(learners=50, label_delay_days=LABEL_DELAY, label_anchor=cal.label_anchor)
    guards = GuardConfig()  # the demo's learner_risk guards are the defaults
    history: list[DayRecord] = []
    decisions = {}
    for day in cal.check_days:
        verdict = Verdict.DRIFT if day >= cal.drift_start else Verdict.OK
        labels = _matured(cal, scenario, day)
        ready = labels_ready_on(labels, drift_start(day, history), "at_risk")
        decision = decide_retrain(
            verdict,
            day,
            history,
            guards,
            retrains=[cal.first_training_as_of],
            labels_ready=ready if verdict is Verdict.DRIFT else None,
        )
        decisions[day] = decision.action
        history.append(DayRecord(day, str(verdict), str(decision.action)))
    fired = [d for d, a in decisions.items() if a is Action.RETRAIN_TRIGGERED]
    assert len(fired) == 1, decisions
    observed = pd.to_datetime(_matured(cal, scenario, fired[0])[TIMESTAMP], utc=True).dt.date
    assert observed.max() >= cal.drift_start, "the retrain would learn pre-drift labels only"


def _summary(**changes) -> dict:
    run = {"dag_id": "bantay_training_learner_risk", "dag_run_id": "r1"}
    data = {
        "drift": [
            {"date": "2026-11-01", "verdict": "OK", "decision": "no_action"},
            {"date": "2026-11-02", "verdict": "DRIFT", "decision": "retrain_triggered"},
            {"date": "2026-11-03", "verdict": "WATCH", "decision": "no_action"},
        ],
        "runs": [{**run, "run_type": "asset_triggered", "state": "success"}],
        "approvals": [{"run_id": "r1", "chosen": ["Approve"]}],
        "versions": [
            {
                "version": "v2",
                "status": "production",
                "run_id": "r1",
                "fitted": {"rows_after_drift": 2000},
            }
        ],
    }
    return {**data, **changes}


def test_a_complete_story_has_no_gaps() -> None:
    assert story_gaps(_summary()) == []


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"drift": [{"verdict": "DRIFT", "decision": "guard_held:labels"}]}, "guard_held:labels"),
        ({"runs": []}, "Asset event"),
        ({"approvals": []}, "approval"),
        ({"versions": [{"version": "v1", "status": "production", "run_id": "x"}]}, "production"),
        (
            {"versions": [{"version": "v2", "status": "production", "run_id": "r1", "fitted": {}}]},
            "no drifted rows",
        ),
        ({"drift": _summary()["drift"][:2]}, "never re-checked"),
        (
            {
                "drift": [
                    *_summary()["drift"][:2],
                    {"date": "2026-11-03", "verdict": "DRIFT", "decision": "guard_held:cooldown"},
                ]
            },
            "did not clear",
        ),
    ],
)
def test_a_missing_step_is_named(changes: dict, said: str) -> None:
    gaps = story_gaps(_summary(**changes))
    assert gaps and said in " ".join(gaps)
