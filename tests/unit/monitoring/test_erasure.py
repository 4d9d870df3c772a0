"""Erasing a learner from the drift check's evidence samples: the learner's rows are recognised
by value at chart precision (check.json keeps no id), one sample row per row of theirs, and
nothing else in the sample changes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from bantay.layout import Layout
from bantay.monitoring.day_check import _columns
from bantay.monitoring.erasure import _of_day, drop_from_sample, normal, prediction_rows


def _sample(frame: pd.DataFrame) -> dict:
    return _columns(frame)  # exactly as check.json writes a sample


def test_values_as_check_json_writes_them():
    assert (
        normal(np.float64(0.123456)) == 0.1235 and normal(3) == 3.0 and normal(np.int64(3)) == 3.0
    )
    assert normal("ncr") == "ncr" and normal(None) is None and normal(float("nan")) is None


def test_the_learners_rows_leave_the_sample_and_nothing_else():
    day = pd.DataFrame(
        {
            "learner_id": [1, 2, 3, 4],
            "attendance_rate": [0.912345, 0.5, 0.912345, 0.7],
            "region": ["ncr", "luzon", "ncr", "visayas"],
            "score": [0.25, 0.5, 0.25, 0.9],
        }
    )
    sample = _sample(day[["attendance_rate", "region", "score"]])
    learner = day[day["learner_id"] == 1]
    assert drop_from_sample(sample, learner) == 1
    # Learner 3's identical row stays once: the sample is what it would be without learner 1.
    assert sample == {
        "attendance_rate": [0.5, 0.9123, 0.7],
        "region": ["luzon", "ncr", "visayas"],
        "score": [0.5, 0.25, 0.9],
    }
    assert drop_from_sample(sample, day[day["learner_id"] == 9]) == 0


def test_a_sample_with_a_column_the_rows_lack_is_left():
    sample = {"attendance_rate": [0.5], "score": [0.1]}
    assert drop_from_sample(sample, pd.DataFrame({"attendance_rate": [0.5]})) == 0
    assert sample == {"attendance_rate": [0.5], "score": [0.1]}


def test_the_learners_rows_of_each_day_of_the_prediction_log(tmp_path):
    layout = Layout(home=tmp_path, data=tmp_path / "data")
    for day, ids in ((dt.date(2026, 9, 1), [1, 2]), (dt.date(2026, 9, 2), [2, 1, 1])):
        path = layout.prediction_path("m1", day)
        path.parent.mkdir(parents=True)
        pd.DataFrame({"learner_id": ids, "score": [0.1] * len(ids)}).to_parquet(path)
    rows = prediction_rows(layout, "m1", 1)
    assert len(rows) == 3 and set(rows["learner_id"]) == {1}
    assert len(_of_day(rows, "2026-09-02")) == 2
    assert prediction_rows(layout, "nothing", 1).empty
