"""The newest day judged per feature against the same weekday of the reference, per-day data
quality, stuck columns, WATCH and PERFORMANCE, on synthetic frames with known truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from bantay.monitoring.config import Verdict
from bantay.monitoring.drift import run_drift
from fixtures_monitoring import learner_config, learner_frame

D = dt.date(2026, 11, 16)
N = 1_500


def _days(first: dt.date, n: int, seed: int, **kw) -> pd.DataFrame:
    """``n`` daily frames of the same learners, stamped at the end of each day."""
    frames = []
    for i in range(n):
        day = first + dt.timedelta(days=i)
        f = learner_frame(N, seed=seed + i, **kw.get(str(day), {}))
        f["learner_id"] = np.arange(N)
        f["event_timestamp"] = pd.Timestamp(dt.datetime.combine(day, dt.time(23, 59), dt.UTC))
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


REF = _days(D - dt.timedelta(days=30), 14, seed=1)


def test_a_shift_on_the_newest_day_alone_is_drift_on_that_feature_only() -> None:
    window = _days(
        D - dt.timedelta(days=6), 7, seed=100, **{str(D): {"shift": {"quiz_score_avg": 0.4}}}
    )

    result = run_drift(REF, window, learner_config(), day=D)

    assert result.verdict is Verdict.DRIFT
    assert [f.column for f in result.features if f.drifted] == ["quiz_score_avg"]
    assert result.day == str(D) and result.current_rows == N


def test_a_shift_that_ended_is_watch_not_drift() -> None:
    shifted = {str(D - dt.timedelta(days=d)): {"shift": {"study_minutes": 1.0}} for d in (2, 3, 4)}
    window = _days(D - dt.timedelta(days=6), 7, seed=200, **shifted)

    result = run_drift(REF, window, learner_config(), day=D)

    assert result.verdict is Verdict.WATCH
    assert [f.column for f in result.watched] == ["study_minutes"]


def test_a_break_on_an_earlier_day_is_kept_with_its_day() -> None:
    window = _days(D - dt.timedelta(days=6), 7, seed=300)
    broken_day = window["event_timestamp"].dt.date == D - dt.timedelta(days=3)
    window.loc[broken_day, "attendance_rate"] = np.nan

    result = run_drift(REF, window, learner_config(), day=D)

    assert result.verdict in (Verdict.OK, Verdict.WATCH)  # the newest day is clean
    assert result.data_quality_days == [str(D - dt.timedelta(days=3))]


def test_a_stuck_column_is_data_quality_even_though_its_distribution_looks_normal() -> None:
    window = _days(D - dt.timedelta(days=6), 7, seed=400)
    today = window["event_timestamp"].dt.date == D
    yesterday = window["event_timestamp"].dt.date == D - dt.timedelta(days=1)
    window.loc[today, "support_on_time_ratio"] = window.loc[
        yesterday, "support_on_time_ratio"
    ].to_numpy()

    result = run_drift(REF, window, learner_config(), day=D)

    assert result.verdict is Verdict.DATA_QUALITY
    assert [(f.column, f.issue) for f in result.today_findings] == [
        ("support_on_time_ratio", "stuck")
    ]
    assert not next(f for f in result.features if f.column == "support_on_time_ratio").drifted


def test_matured_labels_that_no_longer_fit_the_score_are_performance() -> None:
    window = _days(D - dt.timedelta(days=6), 7, seed=500)
    labelled = _days(D - dt.timedelta(days=14), 1, seed=600)
    rng = np.random.default_rng(0)
    labelled["at_risk"] = rng.binomial(1, 0.2, len(labelled))  # labels unrelated to the score
    healthy = _days(D - dt.timedelta(days=14), 1, seed=601)

    broken = run_drift(REF, window, learner_config(), day=D, labelled=labelled)
    fine = run_drift(REF, window, learner_config(), day=D, labelled=healthy)

    assert broken.verdict is Verdict.PERFORMANCE
    p = broken.performance
    assert p.drop > 0.2 and p.low > p.tolerance and p.labelled_day == str(D - dt.timedelta(days=14))
    assert fine.verdict is Verdict.OK and not fine.performance.degraded
