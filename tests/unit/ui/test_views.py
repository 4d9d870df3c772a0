"""The Models page says which guard holds a model's retrain and when it releases, not only the
weekly count (the reader is a stand-in with the settings; drift rows are stand-ins too)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from bantay.settings import get_settings
from bantay.ui.views import guard_state

DAY = dt.date(2026, 11, 20)


def _row(day: dt.date, decision: str, detail: str) -> SimpleNamespace:
    return SimpleNamespace(report_date=day, decision=decision, decision_detail=detail)


def test_the_guard_that_holds_is_named_with_its_release() -> None:
    reader = SimpleNamespace(settings=get_settings())
    detail = "the labels of the drifted period mature on 2026-12-03; ...; evidence: labels observed on 2026-11-01"
    held = guard_state(reader, "learner_risk", [_row(DAY, "guard_held:labels", detail)])
    assert held.holding == "labels"
    assert held.why.startswith("the labels of the drifted period mature on 2026-12-03")
    assert "evidence" not in held.why
    quiet = guard_state(reader, "learner_risk", [_row(DAY, "no_action", "no drift")])
    assert quiet.holding is None and quiet.why is None


def test_a_retrain_button_states_the_latest_hold() -> None:
    from bantay.ui.views import hold_of

    detail = "the labels of the drifted period mature on 2026-12-03; evidence: labels to 11-08"
    older = _row(DAY - dt.timedelta(days=1), "guard_held:labels", detail)
    assert hold_of([older, _row(DAY, "no_action", "no drift")]) is None
    assert hold_of([]) is None
    hold = hold_of([_row(DAY, "guard_held:labels", detail)])
    assert hold == {
        "day": DAY,
        "guard": "labels",
        "why": "the labels of the drifted period mature on 2026-12-03",
        "labels": True,
    }
    assert not hold_of([_row(DAY, "guard_held:cooldown", "cooldown until 2026-11-27")])["labels"]
