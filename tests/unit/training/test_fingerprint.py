"""The training set's digest: the same data in any row or column order is one digest; a changed
value changes the whole digest and its day's, and only its day's."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bantay.training.fingerprint import changed_days, training_set_digest


def _frame() -> pd.DataFrame:
    times = pd.to_datetime(["2026-10-01 08:00", "2026-10-01 08:00", "2026-10-02 09:30"], utc=True)
    return pd.DataFrame(
        {
            "learner_id": ["L2", "L1", "L1"],
            "event_timestamp": times,
            "quiz_score_avg": [0.1, 1 / 3, np.nan],
            "region": ["north", None, "south"],
            "at_risk": [0, 1, 0],
        }
    )


def test_row_and_column_order_do_not_change_the_digest():
    frame = _frame()
    shuffled = frame.iloc[[2, 0, 1], ::-1]
    assert training_set_digest(shuffled) == training_set_digest(frame)


def test_a_changed_value_changes_the_digest_and_only_its_day():
    frame = _frame()
    changed = frame.copy()
    changed.loc[2, "quiz_score_avg"] = 0.5
    before, after = training_set_digest(frame), training_set_digest(changed)
    assert before["sha256"] != after["sha256"] and before["rows"] == after["rows"] == 3
    assert changed_days(before["days"], after["days"]) == ["2026-10-02"]


def test_floats_are_digested_exactly():
    frame = _frame()
    nudged = frame.copy()
    nudged.loc[1, "quiz_score_avg"] = np.nextafter(1 / 3, 1)
    assert training_set_digest(nudged)["sha256"] != training_set_digest(frame)["sha256"]


def test_added_and_removed_days_are_changed_days():
    assert changed_days({"a": "1", "b": "2"}, {"b": "2", "c": "3"}) == ["a", "c"]
