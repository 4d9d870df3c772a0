"""The simulated world: a fixed population with a slowly moving latent risk, and the feature
sources generated from it, one day at a time, with missing days and late-arriving rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bantay.simulate.catalogue import INT_COLUMNS, REGIONS, SOURCE_FEATURES, SOURCES
from bantay.simulate.drift import apply_broken, apply_shifts
from bantay.simulate.scenario import Scenario, day_index, stream

REGION_P = (0.25, 0.35, 0.2, 0.2)
_SOURCE_IDS = {name: i + 1 for i, name in enumerate(SOURCES)}


@dataclass(frozen=True)
class Population:
    """Per-learner traits that do not change day to day."""

    learner_id: np.ndarray
    base_risk: np.ndarray
    trend: np.ndarray
    grade_level: np.ndarray
    region: np.ndarray
    parent_abroad: np.ndarray
    hidden: np.ndarray


def population(scenario: Scenario) -> Population:
    rng = stream(scenario, 0)
    n = scenario.learners
    parent_abroad = (rng.random(n) < 0.4).astype(np.int64)
    return Population(
        learner_id=np.arange(100_001, 100_001 + n, dtype=np.int64),
        base_risk=rng.normal(0, 1, n) + 0.25 * parent_abroad,
        trend=rng.normal(0, 0.4, n),
        grade_level=rng.integers(1, 13, n).astype(np.int64),
        region=np.array(REGIONS)[rng.choice(len(REGIONS), n, p=REGION_P)],
        parent_abroad=parent_abroad,
        hidden=rng.normal(0, 1, n),
    )


def latent_risk(pop: Population, day: dt.date, scenario: Scenario) -> np.ndarray:
    """Slowly moving risk per learner; deterministic per (seed, day)."""
    t = day_index(day)
    wobble = stream(scenario, 1, t).normal(0, 0.15, len(pop.learner_id))
    return pop.base_risk + pop.trend * np.sin(2 * np.pi * t / 365.0) + wobble


def utc_midnight(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def _timestamps(rng: np.random.Generator, day: dt.date, n: int) -> pd.DatetimeIndex:
    # Activity happens in the school day (06:00-21:00 UTC), at microsecond precision.
    offsets = rng.integers(6 * 3600 * 10**6, 21 * 3600 * 10**6, n)
    return utc_midnight(day) + pd.to_timedelta(offsets, unit="us")


def _present(pop: Population, day: dt.date, scenario: Scenario, source_id: int) -> np.ndarray:
    rng = stream(scenario, 2, day_index(day), source_id)
    return rng.random(len(pop.learner_id)) >= scenario.missing_day_rate


def _activity(pop: Population, day: dt.date, scenario: Scenario) -> pd.DataFrame:
    t = day_index(day)
    rng = stream(scenario, 3, t)
    n = len(pop.learner_id)
    r = latent_risk(pop, day, scenario)
    weekend = day.weekday() >= 5
    season = 1.0 + 0.15 * np.sin(2 * np.pi * t / 7.0)
    data = {
        "attendance_rate": np.clip(0.9 - 0.07 * r + rng.normal(0, 0.04, n) - 0.1 * weekend, 0, 1),
        "assignment_completion": np.clip(0.8 - 0.1 * r + rng.normal(0, 0.07, n), 0, 1),
        "quiz_score_avg": np.clip(74 - 9 * r + rng.normal(0, 7, n), 0, 100),
        "study_minutes": np.clip((95 - 25 * r) * season + rng.normal(0, 20, n), 0, 600),
        "late_submissions": np.clip(rng.poisson(np.exp(-0.6 + 0.55 * r)), 0, 20),
    }
    return pd.DataFrame(data)


def _contact(pop: Population, day: dt.date, scenario: Scenario) -> pd.DataFrame:
    t = day_index(day)
    rng = stream(scenario, 4, t)
    n = len(pop.learner_id)
    r = latent_risk(pop, day, scenario)
    abroad = pop.parent_abroad == 1
    calls = rng.poisson(np.where(abroad, 1.2 * np.exp(-0.35 * r), 0.3))
    data = {
        "calls_with_parent": np.clip(calls, 0, 20),
        "messages_with_parent": np.clip(rng.poisson(3.0 * np.exp(-0.3 * r)), 0, 100),
        "days_since_last_contact": np.clip(
            rng.poisson(np.where(abroad, 1.5 + 2.0 * np.clip(r, 0, None), 0.5)), 0, 365
        ),
        "support_on_time_ratio": np.clip(
            0.85 - 0.08 * r * np.where(abroad, 1.5, 0.5) + rng.normal(0, 0.06, n), 0, 1
        ),
    }
    return pd.DataFrame(data)


def _profile(pop: Population, day: dt.date, scenario: Scenario) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "grade_level": pop.grade_level,
            "region": pop.region,
            "parent_abroad": pop.parent_abroad,
        }
    )


_BUILDERS = {
    "learning_activity": _activity,
    "family_contact": _contact,
    "learner_profile": _profile,
}


def _feature_rows(source: str, day: dt.date, scenario: Scenario, pop: Population) -> pd.DataFrame:
    """All rows whose event happened on ``day`` (before deciding which arrive late)."""
    sid = _SOURCE_IDS[source]
    frame = _BUILDERS[source](pop, day, scenario)
    rng = stream(scenario, 5, day_index(day), sid)
    frame.insert(0, "learner_id", pop.learner_id)
    frame.insert(1, "event_timestamp", _timestamps(rng, day, len(frame)))
    keep = _present(pop, day, scenario, sid)
    if source == "learner_profile":
        keep[:] = True  # the profile is a daily snapshot of every enrolled learner
    frame = frame[keep]
    apply_shifts(frame, day, scenario)
    late = stream(scenario, 7, day_index(day), sid).random(len(frame)) < scenario.late_row_rate
    if source == "learner_profile":
        late[:] = False
    frame = frame.assign(_late=late)
    return frame


def feature_partition(source: str, day: dt.date, scenario: Scenario) -> pd.DataFrame:
    """The partition that *arrives* on ``day``: on-time rows of ``day`` plus late rows of the day
    before (their event time is yesterday; ``created_timestamp`` says when they arrived)."""
    if source not in SOURCE_FEATURES:
        raise ValueError(f"unknown source {source!r}; allowed: {list(SOURCE_FEATURES)}")
    pop = population(scenario)
    today = _feature_rows(source, day, scenario, pop)
    yesterday = _feature_rows(source, day - dt.timedelta(days=1), scenario, pop)
    frame = pd.concat([today[~today["_late"]], yesterday[yesterday["_late"]]], ignore_index=True)
    frame = frame.drop(columns="_late")
    # A broken feed is a property of what arrives, so it hits the whole partition of ``day``.
    rng = stream(scenario, 6, day_index(day), _SOURCE_IDS[source])
    apply_broken(frame, day, scenario, rng, lambda d: _feature_rows(source, d, scenario, pop))
    frame["created_timestamp"] = utc_midnight(day) + pd.Timedelta(hours=23)
    return typed(frame)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if col in ("event_timestamp", "created_timestamp"):
            stamps = out[col]
            if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
                stamps = pd.to_datetime(stamps, utc=True)
            # already zone-aware: to_datetime would walk every value to decide on a cache
            out[col] = stamps.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        elif col == "region":
            out[col] = out[col].astype("string")
        elif col in INT_COLUMNS:
            # Nullable Int64 keeps an integer column integer even when a broken feed nulls it.
            out[col] = out[col].astype("int64" if out[col].notna().all() else "Int64")
        elif col != "learner_id":
            out[col] = out[col].astype("float64")
    out["learner_id"] = out["learner_id"].astype("int64")
    return out.sort_values(["event_timestamp", "learner_id"], kind="stable").reset_index(drop=True)
