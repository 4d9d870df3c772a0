"""Retrain guards as a pure function: persistence, cooldown, running, rate limit, idempotency."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bantay.monitoring.guards import DayRecord, Decision, decide_retrain
from bantay.settings.drift import GuardConfig
from bantay.vocabulary import Action, Verdict

D0 = date(2026, 11, 18)


def _simulate(
    verdicts: list[Verdict], cfg: GuardConfig, retrains: list[date] | None = None
) -> list[Decision]:
    """Run the daily decision over consecutive days, recording each like the drift DAG does."""
    history: list[DayRecord] = []
    retrains = list(retrains or [])
    decisions = []
    for i, verdict in enumerate(verdicts):
        today = D0 + timedelta(days=i)
        decision = decide_retrain(verdict, today, history, cfg, retrains=retrains)
        history.append(DayRecord(today, str(verdict), str(decision.action)))
        if decision.triggers_retrain:
            retrains.append(today)
        decisions.append(decision)
    return decisions


def test_five_drifted_days_with_persistence_2_and_cooldown_7_trigger_exactly_one_retrain() -> None:
    cfg = GuardConfig(persistence_days=2, cooldown_days=7, max_retrains_per_7d=2)

    actions = [d.action for d in _simulate([Verdict.DRIFT] * 5, cfg)]

    assert actions == [
        Action.HELD_PERSISTENCE,
        Action.RETRAIN_TRIGGERED,
        Action.HELD_COOLDOWN,
        Action.HELD_COOLDOWN,
        Action.HELD_COOLDOWN,
    ]
    assert actions.count(Action.RETRAIN_TRIGGERED) == 1


def test_data_quality_never_triggers_even_after_a_drift_streak() -> None:
    cfg = GuardConfig(persistence_days=1, cooldown_days=0, max_retrains_per_7d=99)
    verdicts = [Verdict.DRIFT, Verdict.DRIFT] + [Verdict.DATA_QUALITY] * 5

    decisions = _simulate(verdicts, cfg)

    assert [d.action for d in decisions[2:]] == [Action.DATA_QUALITY_ALERT] * 5
    assert "fix the feed" in decisions[-1].reason


def test_ok_is_no_action() -> None:
    assert decide_retrain("OK", D0, [], GuardConfig()).action is Action.NO_ACTION


def test_a_missing_day_or_an_ok_day_breaks_the_persistence_streak() -> None:
    cfg = GuardConfig(persistence_days=3, cooldown_days=0)
    gap = [DayRecord(D0, "DRIFT", "guard_held:persistence")]  # D0+1 missing
    ok_between = [
        DayRecord(D0, "DRIFT", "guard_held:persistence"),
        DayRecord(D0 + timedelta(days=1), "OK", "no_action"),
    ]

    held_gap = decide_retrain(Verdict.DRIFT, D0 + timedelta(days=2), gap, cfg)
    held_ok = decide_retrain(Verdict.DRIFT, D0 + timedelta(days=2), ok_between, cfg)

    assert (held_gap.action, held_gap.streak, held_gap.needed) == (Action.HELD_PERSISTENCE, 1, 3)
    assert (held_ok.action, held_ok.streak) == (Action.HELD_PERSISTENCE, 1)


def test_a_running_retrain_holds() -> None:
    history = [DayRecord(D0, "DRIFT", "guard_held:persistence")]

    decision = decide_retrain(
        Verdict.DRIFT, D0 + timedelta(days=1), history, GuardConfig(), retrain_running=True
    )

    assert decision.action is Action.HELD_RUNNING


def test_cooldown_counts_retrains_of_any_cause_and_says_until_when() -> None:
    cfg = GuardConfig(persistence_days=1, cooldown_days=7)
    scheduled = datetime(2026, 11, 16, 23, 30, tzinfo=UTC)  # a weekly scheduled retrain

    held = decide_retrain(Verdict.DRIFT, D0, [], cfg, retrains=[scheduled])
    free = decide_retrain(Verdict.DRIFT, date(2026, 11, 23), [], cfg, retrains=[scheduled])

    assert held.action is Action.HELD_COOLDOWN
    assert held.until == date(2026, 11, 23)
    assert "2026-11-23" in held.reason
    assert free.action is Action.RETRAIN_TRIGGERED


def test_rate_limit_caps_drift_triggered_retrains_per_7_days() -> None:
    cfg = GuardConfig(persistence_days=1, cooldown_days=0, max_retrains_per_7d=2)

    actions = [d.action for d in _simulate([Verdict.DRIFT] * 8, cfg)]

    assert actions[:3] == [
        Action.RETRAIN_TRIGGERED,
        Action.RETRAIN_TRIGGERED,
        Action.HELD_RATE_LIMIT,
    ]
    assert actions[3:7] == [Action.HELD_RATE_LIMIT] * 4
    assert actions[7] is Action.RETRAIN_TRIGGERED  # day 1's retrain left the 7-day window
    assert sum(a is Action.RETRAIN_TRIGGERED for a in actions[:7]) == 2


def test_rerunning_a_date_that_triggered_does_not_trigger_again() -> None:
    cfg = GuardConfig(persistence_days=1, cooldown_days=0)
    today = D0 + timedelta(days=1)
    history = [DayRecord(today, "DRIFT", "retrain_triggered")]

    decision = decide_retrain(Verdict.DRIFT, today, history, cfg)

    assert decision.action is Action.ALREADY_TRIGGERED
    assert not decision.triggers_retrain


def test_rerunning_a_held_date_decides_afresh_from_prior_days_only() -> None:
    cfg = GuardConfig(persistence_days=2, cooldown_days=0)
    history = [
        DayRecord(D0, "DRIFT", "guard_held:persistence"),
        DayRecord(D0 + timedelta(days=1), "DRIFT", "guard_held:persistence"),  # today's old row
    ]

    decision = decide_retrain(Verdict.DRIFT, D0 + timedelta(days=1), history, cfg)

    assert decision.action is Action.RETRAIN_TRIGGERED
    assert decision.streak == 2


def test_registry_rows_as_mappings_are_accepted() -> None:
    rows = [
        {"report_date": "2026-11-17", "verdict": "DRIFT", "decision": "guard_held:persistence"},
        {"report_date": date(2026, 11, 16), "verdict": "DRIFT", "decision": None},
    ]

    decision = decide_retrain("DRIFT", D0, rows, GuardConfig(persistence_days=3, cooldown_days=0))

    assert decision.action is Action.RETRAIN_TRIGGERED
    assert decision.streak == 3


def test_unknown_verdict_is_rejected() -> None:
    with pytest.raises(ValueError, match="DRIFTED"):
        decide_retrain("DRIFTED", D0, [], GuardConfig())


def test_bad_guard_config_is_rejected() -> None:
    with pytest.raises(ValueError, match="persistence_days"):
        GuardConfig(persistence_days=0)


def test_a_data_quality_day_in_the_window_holds_a_drift_retrain() -> None:
    cfg = GuardConfig(persistence_days=1, cooldown_days=0)

    held = decide_retrain(Verdict.DRIFT, D0, [], cfg, data_quality_days=[D0 - timedelta(days=3)])

    assert held.action is Action.HELD_DATA_QUALITY
    assert str(D0 - timedelta(days=3)) in held.reason


def test_drift_waits_for_the_labels_of_the_drifted_period_then_triggers() -> None:
    cfg = GuardConfig(persistence_days=1, cooldown_days=0)
    ready = D0 + timedelta(days=9)

    early = decide_retrain(Verdict.DRIFT, D0, [], cfg, labels_ready=ready)
    on_time = decide_retrain(Verdict.DRIFT, ready, [], cfg, labels_ready=ready)

    assert early.action is Action.HELD_LABELS and early.until == ready
    assert str(ready) in early.reason
    assert on_time.triggers_retrain


def test_a_scheduled_run_before_the_cooldown_ends_is_named_instead_of_the_cooldown() -> None:
    cfg = GuardConfig(persistence_days=1, cooldown_days=7)
    promoted = D0 - timedelta(days=2)
    sunday = D0 + timedelta(days=3)

    held = decide_retrain(Verdict.DRIFT, D0, [], cfg, retrains=[promoted], next_scheduled=sunday)

    assert held.action is Action.HELD_SCHEDULED and held.until == sunday
    assert f"scheduled retrain on {sunday}" in held.reason


def test_weekly_unpromoted_candidates_never_hold_a_drift_retrain() -> None:
    """Only promoted retrains are passed as ``retrains``: a week of DRIFT triggers once."""
    cfg = GuardConfig(persistence_days=2, cooldown_days=7)

    actions = [d.action for d in _simulate([Verdict.DRIFT] * 9, cfg, retrains=[])]

    assert actions.count(Action.RETRAIN_TRIGGERED) == 2  # day 2, then after the cooldown
    assert actions[1] is Action.RETRAIN_TRIGGERED and actions[8] is Action.RETRAIN_TRIGGERED


def test_labels_ready_on_reads_delay_and_cadence_from_the_label_feed() -> None:
    import pandas as pd

    from bantay.monitoring.retrain_inputs import labels_ready_on

    observed = [date(2026, 10, 5), date(2026, 10, 12)]  # weekly, mature 14 days later
    labels = pd.DataFrame(
        {
            "learner_id": [1, 2],
            "event_timestamp": [pd.Timestamp(d, tz="UTC") for d in observed],
            "at_risk": [0, 1],
            "_matured": [pd.Timestamp(d + timedelta(days=14)) for d in observed],
        }
    )

    assert labels_ready_on(labels, date(2026, 10, 15), "at_risk") == date(2026, 11, 2)
    assert labels_ready_on(labels, date(2026, 10, 12), "at_risk") is None  # already matured


def test_promoted_retrains_leaves_out_what_a_drift_event_started() -> None:
    """Reasons as planning writes them; the registry is a stand-in (two read methods)."""
    from types import SimpleNamespace

    from bantay.airflow.planning import AssetEvent, plan_training
    from bantay.monitoring.retrain_inputs import promoted_retrains

    run_after = datetime(2026, 11, 20, 4, tzinfo=UTC)
    drift = plan_training(
        "m",
        {},
        "asset_triggered",
        [AssetEvent("drift/m", {"date": "2026-11-19"}, "bantay_drift")],
        run_after,
    )
    weekly = plan_training("m", {}, "scheduled", [], run_after - timedelta(days=5))
    versions = [
        SimpleNamespace(version="v1", reason=weekly.reason, lineage={"as_of": weekly.as_of}),
        SimpleNamespace(version="v2", reason=drift.reason, lineage={"as_of": drift.as_of}),
    ]
    at = run_after + timedelta(hours=1)
    promotions = [SimpleNamespace(kind="promote", to_version=v.version, at=at) for v in versions]
    registry = SimpleNamespace(
        versions=SimpleNamespace(of=lambda model: versions),
        promotions=SimpleNamespace(of=lambda model: promotions),
    )

    assert promoted_retrains(registry, "m") == [date(2026, 11, 15)]


def test_a_promotion_fitted_before_the_drift_neither_silences_it_nor_holds_its_retrain() -> None:
    """Weekly promotions during a drift: only a version fitted on rows from the drift's first
    day on counts for the cooldown (the registry is a stand-in with two read methods)."""
    from types import SimpleNamespace

    from bantay.monitoring.retrain_inputs import promoted_retrains

    def version(name: str, as_of: str, until: str) -> SimpleNamespace:
        lineage = {"as_of": f"{as_of}T04:00:00+00:00", "fitted": {"until": f"{until}T23:59:00"}}
        return SimpleNamespace(version=name, reason="scheduled", lineage=lineage)

    # Sunday's scheduled version: trained on the 15th, its newest matured label from the 8th.
    versions = [version("sunday", "2026-11-15", "2026-11-08")]
    at = datetime(2026, 11, 15, 5, tzinfo=UTC)
    promotions = [SimpleNamespace(kind="promote", to_version="sunday", at=at)]
    registry = SimpleNamespace(
        versions=SimpleNamespace(of=lambda model: versions),
        promotions=SimpleNamespace(of=lambda model: promotions),
    )
    began, today = date(2026, 11, 10), date(2026, 11, 17)
    history = [DayRecord(began + timedelta(days=i), "DRIFT", "x") for i in range(7)]

    def decide(retrains: list[date]) -> Decision:
        return decide_retrain(Verdict.DRIFT, today, history, GuardConfig(), retrains=retrains)

    assert decide(promoted_retrains(registry, "m")).action is Action.HELD_COOLDOWN
    assert promoted_retrains(registry, "m", began) == []
    assert decide(promoted_retrains(registry, "m", began)).triggers_retrain
    # A version fitted on the drifted rows is the drift's answer: it counts.
    versions.append(version("learned", "2026-11-16", "2026-11-15"))
    promotions.append(SimpleNamespace(kind="promote", to_version="learned", at=at))
    assert promoted_retrains(registry, "m", began) == [date(2026, 11, 16)]


def test_fairness_never_triggers_a_retrain_nor_extends_a_drift_streak() -> None:
    cfg = GuardConfig(persistence_days=2, cooldown_days=0)
    decisions = _simulate([Verdict.FAIRNESS] * 4, cfg)
    assert {d.action for d in decisions} == {Action.NO_ACTION}
    assert "person must look" in decisions[0].reason
    # A FAIRNESS day between two DRIFT days ends the streak, like any non-drift verdict.
    history = [
        DayRecord(D0, "DRIFT", "guard_held:persistence"),
        DayRecord(D0 + timedelta(days=1), "FAIRNESS", "no_action"),
    ]
    held = decide_retrain(Verdict.DRIFT, D0 + timedelta(days=2), history, cfg)
    assert (held.action, held.streak) == (Action.HELD_PERSISTENCE, 1)
