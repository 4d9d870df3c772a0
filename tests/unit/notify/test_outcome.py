"""What on-call hears about a training run, as a pure decision over the plan's trigger, the gate,
publishing and the approval wait; and the run link the e-mails carry."""

from __future__ import annotations

import datetime as dt

import pytest

from bantay.airflow.planning import AssetEvent, plan_training
from bantay.notify.mailer import airflow_run_url
from bantay.notify.outcome import retrain_outcome

NOW = dt.datetime(2026, 12, 3, 4, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("passed", "promoted", "waiting", "expected"),
    [
        (True, True, False, "promoted"),
        (False, False, False, "rejected"),
        (True, False, True, "waiting_for_approval"),
        (True, False, False, None),  # a person rejected it: they know, nothing to send
    ],
)
def test_a_drift_run_reports_what_came_of_it(passed, promoted, waiting, expected) -> None:
    assert retrain_outcome("drift", passed=passed, promoted=promoted, waiting=waiting) == expected


@pytest.mark.parametrize("trigger", ["schedule", "manual", None])
@pytest.mark.parametrize(
    ("passed", "promoted", "waiting"),
    [(True, True, False), (False, False, False), (True, False, True)],
)
def test_scheduled_and_manual_runs_send_nothing(trigger, passed, promoted, waiting) -> None:
    assert retrain_outcome(trigger, passed=passed, promoted=promoted, waiting=waiting) is None


def test_the_trigger_planning_records_is_the_one_the_decision_reads() -> None:
    drift = plan_training(
        "m",
        {},
        "asset_triggered",
        [AssetEvent("drift/m", {"date": "2026-12-02", "summary": "DRIFT"}, "bantay_drift")],
        NOW,
    )
    by_hand = plan_training(
        "m", {}, "asset_triggered", [AssetEvent("drift/m", {"reason": "feed fixed"}, None)], NOW
    )
    weekly = plan_training("m", {}, "scheduled", [], NOW)
    manual = plan_training("m", {"reason": "drift event seen by eye"}, "manual", [], NOW)

    assert retrain_outcome(drift.trigger, passed=False) == "rejected"
    assert retrain_outcome(by_hand.trigger, passed=True, promoted=True) == "promoted"
    assert retrain_outcome(weekly.trigger, passed=False) is None
    assert retrain_outcome(manual.trigger, passed=True, promoted=True) is None


def test_run_links_point_at_the_run_in_airflows_ui() -> None:
    run_id = "asset_triggered__2026-12-03T04:00:00+00:00"

    url = airflow_run_url("http://airflow.example:8080/", "bantay_training_m", run_id)

    assert url == f"http://airflow.example:8080/dags/bantay_training_m/runs/{run_id}"
