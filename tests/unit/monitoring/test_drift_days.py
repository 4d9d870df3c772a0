"""The newest day judged per feature against the same weekday of the reference (on the learners
observed that day), per-day data quality, stuck columns, WATCH, and PERFORMANCE with the labelled
day it rests on, on synthetic frames with known truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from bantay.monitoring.drift import run_drift
from bantay.vocabulary import Verdict
from support.monitoring_frames import learner_config, learner_frame

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


SHOCK = {"quiz_score_avg": 2.0, "study_minutes": 2.0}


def _holiday(observed: bool) -> tuple[pd.DataFrame, int]:
    """A week whose second-to-last day's feed is shifted by 2 std (one day only); on the newest
    day one learner in ten is absent from the feed, so scoring carries its shifted values
    forward (as-of reads). With ``observed``, the log marks those rows as such."""
    shocked = D - dt.timedelta(days=1)
    window = _days(D - dt.timedelta(days=6), 7, seed=700, **{str(shocked): {"shift": SHOCK}})
    days = window["event_timestamp"].dt.date
    absent = np.random.default_rng(7).random(N) < 0.1
    today = np.flatnonzero((days == D).to_numpy())[absent]
    before = np.flatnonzero((days == shocked).to_numpy())[absent]
    window.loc[today, list(SHOCK)] = window.loc[before, list(SHOCK)].to_numpy()
    if observed:
        window["observed"] = True
        window.loc[today, "observed"] = False
    return window, len(today)


def test_a_one_day_shock_is_drift_on_one_day_only_when_carried_values_are_left_out() -> None:
    window, carried = _holiday(observed=True)
    days = window["event_timestamp"].dt.date
    shocked = D - dt.timedelta(days=1)

    on_the_day = run_drift(REF, window[days <= shocked], learner_config(), day=shocked)
    next_day = run_drift(REF, window, learner_config(), day=D)

    assert on_the_day.verdict is Verdict.DRIFT
    assert next_day.verdict is not Verdict.DRIFT, [f for f in next_day.features if f.drifted]
    assert next_day.current_rows_unobserved == carried > 0
    assert next_day.current_rows == N - carried
    assert next_day.summary()["current_rows_unobserved"] == carried


def test_a_log_without_the_observed_marker_is_judged_on_every_row_as_before() -> None:
    window, _ = _holiday(observed=False)

    result = run_drift(REF, window, learner_config(), day=D)

    # The carried one-in-ten rows alone move the shifted features past their thresholds.
    assert result.verdict is Verdict.DRIFT
    assert {f.column for f in result.features if f.drifted} == set(SHOCK)
    assert result.current_rows_unobserved == 0 and result.current_rows == N


def _unrelated_labels(shift: dict[str, float] | None = None):
    """The newest day (shifted by ``shift``), and matured labels that no longer fit the score."""
    window = _days(D - dt.timedelta(days=6), 7, seed=500, **{str(D): {"shift": shift or {}}})
    labelled = _days(D - dt.timedelta(days=14), 1, seed=600)
    labelled["at_risk"] = np.random.default_rng(0).binomial(1, 0.2, len(labelled))
    return window, labelled


def test_a_performance_verdict_names_its_labelled_day_as_evidence() -> None:
    window, labelled = _unrelated_labels()

    result = run_drift(REF, window, learner_config(), day=D, labelled=labelled)

    assert result.verdict is Verdict.PERFORMANCE
    assert result.evidence_day == str(D - dt.timedelta(days=14)) == result.performance.labelled_day
    assert result.summary()["evidence_day"] == result.evidence_day


def test_a_performance_day_whose_own_features_moved_is_its_own_evidence() -> None:
    window, labelled = _unrelated_labels(shift={"quiz_score_avg": 0.4})

    result = run_drift(REF, window, learner_config(), day=D, labelled=labelled)

    assert result.verdict is Verdict.PERFORMANCE and result.n_drifted > 0
    assert result.evidence_day is None
