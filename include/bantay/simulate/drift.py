"""Ground-truth drift applied to generated rows: covariate and importance shifts, broken
upstream feeds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from bantay.simulate.catalogue import INT_COLUMNS, RANGES
from bantay.simulate.scenario import Scenario, day_index, stream


def apply_shifts(frame: pd.DataFrame, day: dt.date, scenario: Scenario) -> None:
    for k, shift in enumerate(scenario.covariate):
        if day < shift.start:
            continue
        for j, col in enumerate(shift.features):
            if col not in frame:
                continue
            lo, hi = RANGES[col]
            values = frame[col].astype("float64")
            shifted = values + shift.size * float(values.std(ddof=0) or 0.0)
            if col in INT_COLUMNS:  # randomised rounding keeps the expected shift
                rng = stream(scenario, 10, day_index(day), k, j)
                floor = np.floor(shifted)
                shifted = floor + (rng.random(len(shifted)) < (shifted - floor))
            frame[col] = shifted.clip(lo, hi)
    apply_importance(frame, day, scenario)
    apply_decoupling(frame, day, scenario)


def apply_importance(frame: pd.DataFrame, day: dt.date, scenario: Scenario) -> None:
    """Spread each shifted feature around the day's median by its factor (integers rounded)."""
    for shift in scenario.importance:
        if day < shift.start:
            continue
        for col in shift.features:
            if col not in frame:
                continue
            lo, hi = RANGES[col]
            values = frame[col].astype("float64")
            spread = values.median() + shift.factor * (values - values.median())
            if col in INT_COLUMNS:
                spread = spread.round()
            frame[col] = spread.clip(lo, hi)


def apply_decoupling(frame: pd.DataFrame, day: dt.date, scenario: Scenario) -> None:
    """Hand each decoupled feature's values of a seeded ``share`` of the day's rows to other
    rows of that share (a permutation: the day's values are the same multiset)."""
    for k, shift in enumerate(scenario.decoupling):
        if day < shift.start:
            continue
        rng = stream(scenario, 11, day_index(day), k)
        rows = np.flatnonzero(rng.random(len(frame)) < shift.share)
        for col in shift.features:
            if col not in frame:
                continue
            values = frame[col].to_numpy(copy=True)
            values[rows] = values[rng.permutation(rows)]
            frame[col] = values


def apply_broken(
    frame: pd.DataFrame,
    day: dt.date,
    scenario: Scenario,
    rng: np.random.Generator,
    rows_on: Callable[[dt.date], pd.DataFrame],
) -> None:
    """Break ``frame`` (the partition arriving on ``day``) as ``scenario.broken`` says;
    ``rows_on(date)`` gives the source's rows of another date (``stuck`` freezes at them)."""
    for bug in scenario.broken:
        if day < bug.start or bug.feature not in frame:
            continue
        col = bug.feature
        if bug.kind == "nulls":
            mask = rng.random(len(frame)) < 0.9
            frame[col] = frame[col].astype("float64").mask(mask)
        elif bug.kind == "frozen":
            frame[col] = _TYPICAL[col]
        elif bug.kind == "stuck":
            before = rows_on(bug.start - dt.timedelta(days=1))
            last = before.set_index("learner_id")[col]
            frame[col] = frame["learner_id"].map(last).fillna(frame[col]).to_numpy()
        else:  # unit: a feed switched from minutes (or fractions) to seconds (or percent)
            factor = 60.0 if RANGES[col][1] > 1 else 100.0
            frame[col] = frame[col].astype("float64") * factor


# The typical value of each feature a broken feed can freeze at (the mean barely moves).
_TYPICAL: dict[str, float] = {
    "attendance_rate": 0.85,
    "assignment_completion": 0.8,
    "quiz_score_avg": 74.0,
    "study_minutes": 95.0,
    "late_submissions": 1.0,
    "calls_with_parent": 1.0,
    "messages_with_parent": 3.0,
    "days_since_last_contact": 2.0,
    "support_on_time_ratio": 0.85,
}
