"""The drift check reads the prediction log without what it never looks at: the reasons' texts
(only the first, on the checked day and the day before, for the top reason's change) and, for the
labelled rows, the attributions. Everything else comes back as it was written."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bantay.monitoring.window import current_window, labelled_predictions
from support.monitoring_frames import one_model_project

MODEL = "learner_risk"
DAY = dt.date(2026, 11, 20)
N = 50


@pytest.fixture
def settings(tmp_path, monkeypatch):
    return one_model_project(tmp_path, monkeypatch)


def _log(settings, day: dt.date) -> pd.DataFrame:
    rng = np.random.default_rng(day.toordinal())
    frame = pd.DataFrame(
        {
            "learner_id": np.arange(N),
            "event_timestamp": pd.Timestamp(dt.datetime.combine(day, dt.time(23, 59), dt.UTC)),
            "attendance_rate": rng.random(N),
            "score": rng.random(N),
            "model_version": "v1",
            "reason_1": [f"attendance {i}" for i in range(N)],
            "reason_2": "quiz",
            "attr_attendance_rate": rng.normal(size=N).astype(np.float32),
            "attr_base": -1.0,
        }
    )
    path = settings.layout.prediction_path(MODEL, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return frame


def test_the_window_keeps_every_value_but_the_reasons_it_never_reads(settings):
    written = {
        DAY - dt.timedelta(days=i): _log(settings, DAY - dt.timedelta(days=i)) for i in (0, 1, 3)
    }
    window = current_window(settings.layout, settings.model(MODEL), DAY)
    assert "reason_2" not in window.columns
    day = pd.to_datetime(window["event_timestamp"]).dt.date
    for d, frame in written.items():
        rows = window[day == d].reset_index(drop=True)
        pd.testing.assert_frame_equal(
            rows.drop(columns="reason_1"), frame.drop(columns=["reason_1", "reason_2"])
        )
        if d >= DAY - dt.timedelta(days=1):  # the top reason's change compares these two days
            assert rows["reason_1"].tolist() == frame["reason_1"].tolist()
        else:
            assert rows["reason_1"].isna().all()


def test_labelled_rows_come_without_attributions_or_reasons(settings):
    _log(settings, DAY)
    labels = pd.DataFrame(
        {
            "learner_id": np.arange(N),
            "event_timestamp": pd.Timestamp(dt.datetime.combine(DAY, dt.time(23, 59), dt.UTC)),
            "at_risk": np.arange(N) % 2,
            "_matured": pd.Timestamp(DAY + dt.timedelta(days=14)),
        }
    )
    rows = labelled_predictions(settings.layout, settings.model(MODEL), labels)
    assert len(rows) == N
    assert not [c for c in rows.columns if c.startswith(("attr_", "reason_"))]
    assert {"attendance_rate", "score", "at_risk", "model_version"} <= set(rows.columns)


def test_no_log_in_the_window_names_the_day_and_the_fix(settings):
    with pytest.raises(FileNotFoundError, match="trigger bantay_scoring with date"):
        current_window(settings.layout, settings.model(MODEL), DAY)
