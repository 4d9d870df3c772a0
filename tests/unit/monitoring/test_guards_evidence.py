"""Persistence counts days with their own evidence: a PERFORMANCE verdict rests on a labelled
day that stays in the lookback for weeks, so the same labels judged again on later days are one
observation of the change, not several."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bantay.monitoring.guards import DayRecord, Decision, decide_retrain, drift_start, with_evidence
from bantay.settings.drift import GuardConfig
from bantay.stores.registry import Registry
from bantay.vocabulary import Action, Verdict

D0 = date(2026, 11, 18)
CFG = GuardConfig(persistence_days=2, cooldown_days=0, max_retrains_per_7d=99)


def _simulate(days: list[tuple[Verdict, str | None]], cfg: GuardConfig = CFG) -> list[Decision]:
    """The daily decision over consecutive days, each recorded as the drift task records it."""
    history: list[DayRecord] = []
    decisions = []
    for i, (verdict, evidence) in enumerate(days):
        today = D0 + timedelta(days=i)
        decision = decide_retrain(verdict, today, history, cfg, evidence=evidence)
        history.append(DayRecord(today, str(verdict), str(decision.action), evidence))
        decisions.append(decision)
    return decisions


def test_one_labelled_day_judged_on_seven_days_is_one_day_of_persistence() -> None:
    labelled = "2026-11-04"

    decisions = _simulate([(Verdict.PERFORMANCE, labelled)] * 7)

    assert [d.action for d in decisions] == [Action.HELD_PERSISTENCE] * 7
    assert {d.streak for d in decisions} == {1}
    assert "count once" in decisions[-1].reason


def test_the_next_labelled_day_confirms_the_drop() -> None:
    week = [(Verdict.PERFORMANCE, "2026-11-04")] * 7 + [(Verdict.PERFORMANCE, "2026-11-11")]

    decisions = _simulate(week)

    assert decisions[-1].action is Action.RETRAIN_TRIGGERED and decisions[-1].streak == 2


def test_a_day_judged_on_its_own_log_counts_beside_a_labelled_day() -> None:
    decisions = _simulate([(Verdict.DRIFT, None), (Verdict.PERFORMANCE, "2026-11-04")])

    assert decisions[-1].action is Action.RETRAIN_TRIGGERED and decisions[-1].streak == 2


def test_labels_seen_earlier_in_the_run_do_not_count_again_after_other_evidence() -> None:
    run = [
        (Verdict.PERFORMANCE, "2026-11-04"),
        (Verdict.DRIFT, None),
        (Verdict.PERFORMANCE, "2026-11-04"),
    ]

    decisions = _simulate(run, GuardConfig(persistence_days=3, cooldown_days=0))

    assert [d.streak for d in decisions] == [1, 2, 2]
    assert decisions[-1].action is Action.HELD_PERSISTENCE


def test_days_recorded_without_evidence_count_each_as_before() -> None:
    history = [DayRecord(D0, "PERFORMANCE", "guard_held:persistence")]

    decision = decide_retrain(Verdict.PERFORMANCE, D0 + timedelta(days=1), history, CFG)

    assert decision.action is Action.RETRAIN_TRIGGERED and decision.streak == 2


def test_the_drift_started_on_the_first_day_of_the_run_whatever_its_evidence() -> None:
    history = [
        DayRecord(D0 + timedelta(days=i), "PERFORMANCE", "guard_held:persistence", "2026-11-04")
        for i in range(4)
    ]

    assert drift_start(D0 + timedelta(days=4), history) == D0


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.upgrade()
    yield reg
    reg.dispose()


def test_the_evidence_survives_the_registry_row(registry) -> None:
    """The drift task keeps a PERFORMANCE day's labelled day in the row's decision detail."""
    first = decide_retrain(Verdict.PERFORMANCE, D0, [], CFG, evidence="2026-11-04")
    registry.drift.upsert(
        "m",
        D0,
        verdict="PERFORMANCE",
        drifted_share=0.0,
        n_drifted=0,
        n_features=12,
        decision=str(first.action),
        decision_detail=with_evidence(first.reason, "2026-11-04"),
    )
    history = registry.drift.reports("m")
    tomorrow = D0 + timedelta(days=1)

    same = decide_retrain(Verdict.PERFORMANCE, tomorrow, history, CFG, evidence="2026-11-04")
    new = decide_retrain(Verdict.PERFORMANCE, tomorrow, history, CFG, evidence="2026-11-11")

    assert history[0].decision_detail.endswith("; evidence: labels observed on 2026-11-04")
    assert (same.action, same.streak) == (Action.HELD_PERSISTENCE, 1)
    assert (new.action, new.streak) == (Action.RETRAIN_TRIGGERED, 2)


def test_with_evidence_leaves_a_day_judged_on_its_own_log_unchanged() -> None:
    assert with_evidence("watching", None) == "watching"
