"""Run planning as pure functions: every queued drift event counts, hand-made events need a reason,
manual runs need a reason, force needs its own reason, days and scoring day come out right."""

from __future__ import annotations

import datetime as dt

import pytest

from bantay.airflow.planning import (
    AssetEvent,
    PlanError,
    days_to_process,
    days_to_score,
    plan_training,
    training_window,
    unscored_days,
)
from bantay.vocabulary import is_drift_reason

NOW = dt.datetime(2026, 11, 20, 4, tzinfo=dt.UTC)


def drift_event(model: str, day: str, source: str | None = "bantay_drift", **extra) -> AssetEvent:
    return AssetEvent(
        asset=f"drift/{model}",
        extra={"date": day, "summary": f"DRIFT {model} {day}", "report_json": "s3://r", **extra},
        source_dag_id=source,
    )


def test_every_queued_drift_event_is_in_the_reason_deduplicated_by_day():
    events = [
        drift_event("m", "2026-11-18"),
        drift_event("m", "2026-11-19"),
        drift_event("m", "2026-11-19"),
    ]
    plan = plan_training("m", {}, "asset_triggered", events, NOW)
    assert plan.trigger == "drift"
    assert plan.reason.count("drift event on 2026-11-18") == 1
    assert plan.reason.count("drift event on 2026-11-19") == 1
    assert is_drift_reason(plan.reason)


def test_another_models_events_are_not_this_models_reason():
    with pytest.raises(PlanError, match="no drift/a event"):
        plan_training("a", {}, "asset_triggered", [drift_event("b", "2026-11-19")], NOW)


def test_a_hand_made_drift_event_needs_a_reason():
    with pytest.raises(PlanError, match="has no 'reason' in its extra"):
        plan_training(
            "m", {}, "asset_triggered", [drift_event("m", "2026-11-19", source=None)], NOW
        )
    plan = plan_training(
        "m",
        {},
        "asset_triggered",
        [AssetEvent("drift/m", {"reason": "labels fixed upstream"}, None)],
        NOW,
    )
    assert plan.reason == "drift event by hand: labels fixed upstream"
    assert is_drift_reason(plan.reason)


def test_manual_runs_need_a_reason_and_force_needs_its_own():
    with pytest.raises(PlanError, match="needs a 'reason'"):
        plan_training("m", {"reason": "  "}, "manual", [], NOW)
    with pytest.raises(PlanError, match="force_reason"):
        plan_training("m", {"reason": "x", "force": True, "force_reason": None}, "manual", [], NOW)
    plan = plan_training(
        "m", {"reason": "x", "force": False, "force_reason": None}, "manual", [], NOW
    )
    assert (plan.trigger, plan.force_reason, plan.as_of) == ("manual", None, NOW.isoformat())


def test_scheduled_runs_say_so_and_as_of_must_be_a_time():
    scheduled = plan_training("m", {}, "DagRunType.SCHEDULED", [], NOW)
    assert scheduled.reason == "training schedule" and not is_drift_reason(scheduled.reason)
    with pytest.raises(PlanError, match="not an ISO date-time"):
        plan_training("m", {"reason": "x", "as_of": "yesterday"}, "manual", [], NOW)


def test_days_to_process_from_params_or_interval():
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert days_to_process(None, start, start + dt.timedelta(days=1)) == [dt.date(2026, 11, 1)]
    assert days_to_process({"start_date": "2026-11-01", "end_date": "2026-11-03"}, None, None) == [
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 3),
    ]
    with pytest.raises(PlanError, match="before start_date"):
        days_to_process({"start_date": "2026-11-03", "end_date": "2026-11-01"}, None, None)


def test_days_to_score_are_every_day_of_all_events_oldest_first():
    events = [
        AssetEvent("features/bantay", {"days": ["2026-11-05", "2026-11-02"]}),
        AssetEvent("features/bantay", {"days": ["2026-11-04", "2026-11-05"]}),
    ]
    assert days_to_score({}, events, NOW) == ["2026-11-02", "2026-11-04", "2026-11-05"]
    assert days_to_score({"date": "2026-10-01"}, events, NOW) == ["2026-10-01"]
    assert days_to_score({}, [], NOW) == ["2026-11-19"]


def test_a_catch_up_scores_the_days_never_scored_and_always_the_newest():
    days = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    logged = {"2026-11-03", "2026-11-05"}
    assert unscored_days(days, logged.__contains__) == ["2026-11-02", "2026-11-04", "2026-11-05"]
    assert unscored_days(days, lambda day: True) == ["2026-11-05"]
    assert unscored_days(["2026-11-05"], lambda day: False) == ["2026-11-05"]


def test_a_drift_retrain_is_as_of_the_end_of_the_newest_checked_day() -> None:
    """Keyed on the data the decision saw, not on when the scheduler processed the events."""
    late = dt.datetime(2026, 12, 1, 13, 7, tzinfo=dt.UTC)
    events = [
        AssetEvent("drift/m", {"date": day}, "bantay_drift") for day in ("2026-11-19", "2026-11-18")
    ]
    plan = plan_training("m", {}, "asset_triggered", events, late)
    assert plan.as_of == "2026-11-20T00:00:00+00:00"
    by_hand = [AssetEvent("drift/m", {"reason": "new term"}, None)]
    assert plan_training("m", {}, "asset_triggered", by_hand, late).as_of == late.isoformat()
    given = {"as_of": "2026-11-25T00:00:00+00:00"}
    assert plan_training("m", given, "asset_triggered", events, late).as_of == given["as_of"]


def test_the_training_window_ends_the_day_before_as_of():
    days = training_window("2026-11-08T04:00:00+00:00", 7)
    assert days == [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(7)]
    midnight = dt.datetime(2026, 11, 8, tzinfo=dt.UTC)
    assert training_window(midnight, 56)[-1] == dt.date(2026, 11, 7)
    assert training_window(midnight, 56)[0] == dt.date(2026, 9, 13)
    with pytest.raises(PlanError, match="at least 1"):
        training_window(midnight, 0)


def test_scoring_skips_the_models_the_features_run_held():
    from bantay.airflow.planning import AssetEvent, held_by_features

    held = {"learner_risk": "feed(s) family_contact quarantined or missing for 2026-10-05"}
    night = AssetEvent("features/bantay", {"models": ["learner_engagement"], "held": held})
    assert held_by_features([night]) == held
    redelivered = AssetEvent("features/bantay", {"models": ["learner_risk"], "held": {}})
    assert held_by_features([night, redelivered]) == {}  # a later event released it
    assert held_by_features([AssetEvent("features/bantay", {"days": ["2026-10-05"]})]) == {}
