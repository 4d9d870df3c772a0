"""Seeded simulator of the learner early-warning data, with drift knobs of known ground truth.

Every date is generated on its own from ``(seed, date)``: writing one date never needs the days
before it, and writing a date twice gives identical bytes. Learner ids are pseudonymous integers.

Partitions: ``<raw_dir>/<source>/date=YYYY-MM-DD/part-0.parquet`` for the three feature sources
and for ``term_outcomes`` (labels). A label observed on day *d* matures ``label_delay_days`` later
and is written to that later day's partition, like a real term outcome feed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bantay.layout import partition_path
from bantay.schema import (
    ACTIVITY_FEATURES,
    CONTACT_FEATURES,
    FEATURES,
    INT_COLUMNS,
    LABEL_SOURCE,
    PROFILE_FEATURES,
    RANGES,
    REGIONS,
    SOURCE_FEATURES,
    SOURCES,
)

REGION_P = (0.25, 0.35, 0.2, 0.2)
_SOURCE_IDS = {name: i + 1 for i, name in enumerate(SOURCES)}
_EPOCH = dt.date(2020, 1, 1)


@dataclass(frozen=True)
class CovariateShift:
    """Shift ``features`` by ``size`` standard deviations from ``start`` on (ground truth drift).

    The standard deviation is measured on the day's own unshifted values of the feature, so
    ``size`` means what it says on every feature. Integer features move by randomised rounding
    (``x + size * sd`` rounded up with the probability of its fractional part), so a small
    shift of a count is not rounded away: the mean moves by ``size * sd`` up to clipping.
    """

    features: tuple[str, ...]
    start: dt.date
    size: float = 1.0

    def __post_init__(self) -> None:
        numeric = set(FEATURES) - {"region"}
        bad = [f for f in self.features if f not in numeric]
        if bad:
            raise ValueError(
                f"covariate shift: unknown numeric feature(s) {bad}; allowed: {sorted(numeric)}"
            )


@dataclass(frozen=True)
class ConceptShift:
    """From ``start`` the label depends less on the observed features (``size`` in 0..1)."""

    start: dt.date
    size: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.size <= 1:
            raise ValueError(f"concept shift size must be in (0, 1], got {self.size}")


BROKEN_KINDS = ("nulls", "frozen", "stuck", "unit")


@dataclass(frozen=True)
class BrokenFeed:
    """An upstream bug from ``start`` on:

    * ``nulls``: 90 % of the values are missing;
    * ``frozen``: every row carries the same constant, the same on every day of the break (the
      feature's typical value, so the mean barely moves: only the spread collapses);
    * ``stuck``: each learner's value stops changing, stuck at its value of the day before
      ``start`` (the distribution looks normal; only the day-over-day change is gone);
    * ``unit``: minutes reported as seconds (x60), or a ratio as a percentage (x100).
    """

    feature: str
    start: dt.date
    kind: str = "nulls"

    def __post_init__(self) -> None:
        if self.kind not in BROKEN_KINDS:
            raise ValueError(f"broken feed kind {self.kind!r}; allowed: {list(BROKEN_KINDS)}")
        if self.feature not in set(FEATURES) - set(PROFILE_FEATURES):
            allowed = sorted(set(ACTIVITY_FEATURES + CONTACT_FEATURES))
            raise ValueError(f"broken feed: unknown feature {self.feature!r}; allowed: {allowed}")


@dataclass(frozen=True)
class Scenario:
    """What to simulate: population, seed, label delay and the drift knobs."""

    learners: int = 5000
    seed: int = 7
    label_delay_days: int = 14
    label_every_days: int = 7
    missing_day_rate: float = 0.05
    late_row_rate: float = 0.01
    covariate: tuple[CovariateShift, ...] = ()
    concept: ConceptShift | None = None
    broken: tuple[BrokenFeed, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


def _rng(scenario: Scenario, *parts: int) -> np.random.Generator:
    return np.random.default_rng([scenario.seed, *parts])


def _day_index(day: dt.date) -> int:
    return (day - _EPOCH).days


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
    rng = _rng(scenario, 0)
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
    t = _day_index(day)
    wobble = _rng(scenario, 1, t).normal(0, 0.15, len(pop.learner_id))
    return pop.base_risk + pop.trend * np.sin(2 * np.pi * t / 365.0) + wobble


def _utc(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def _timestamps(rng: np.random.Generator, day: dt.date, n: int) -> pd.DatetimeIndex:
    # Activity happens in the school day (06:00-21:00 UTC), at microsecond precision.
    offsets = rng.integers(6 * 3600 * 10**6, 21 * 3600 * 10**6, n)
    return _utc(day) + pd.to_timedelta(offsets, unit="us")


def _apply_shifts(frame: pd.DataFrame, day: dt.date, scenario: Scenario) -> None:
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
                rng = _rng(scenario, 10, _day_index(day), k, j)
                floor = np.floor(shifted)
                shifted = floor + (rng.random(len(shifted)) < (shifted - floor))
            frame[col] = shifted.clip(lo, hi)


def _apply_broken(
    frame: pd.DataFrame,
    day: dt.date,
    scenario: Scenario,
    rng: np.random.Generator,
    source: str,
) -> None:
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
            before = _feature_rows(
                source, bug.start - dt.timedelta(days=1), scenario, population(scenario)
            )
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


def _present(pop: Population, day: dt.date, scenario: Scenario, source_id: int) -> np.ndarray:
    rng = _rng(scenario, 2, _day_index(day), source_id)
    return rng.random(len(pop.learner_id)) >= scenario.missing_day_rate


def _activity(pop: Population, day: dt.date, scenario: Scenario) -> pd.DataFrame:
    t = _day_index(day)
    rng = _rng(scenario, 3, t)
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
    t = _day_index(day)
    rng = _rng(scenario, 4, t)
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
    rng = _rng(scenario, 5, _day_index(day), sid)
    frame.insert(0, "learner_id", pop.learner_id)
    frame.insert(1, "event_timestamp", _timestamps(rng, day, len(frame)))
    keep = _present(pop, day, scenario, sid)
    if source == "learner_profile":
        keep[:] = True  # the profile is a daily snapshot of every enrolled learner
    frame = frame[keep]
    _apply_shifts(frame, day, scenario)
    late = _rng(scenario, 7, _day_index(day), sid).random(len(frame)) < scenario.late_row_rate
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
    rng = _rng(scenario, 6, _day_index(day), _SOURCE_IDS[source])
    _apply_broken(frame, day, scenario, rng, source)
    frame["created_timestamp"] = _utc(day) + pd.Timedelta(hours=23)
    return _typed(frame)


def is_observation_day(day: dt.date, scenario: Scenario) -> bool:
    """Labels are observed on a weekly grid (every ``label_every_days`` days)."""
    return _day_index(day) % scenario.label_every_days == 0


def label_partition(day: dt.date, scenario: Scenario) -> pd.DataFrame:
    """Term outcomes that mature on ``day``: observations made ``label_delay_days`` earlier.

    Observations happen every ``label_every_days`` days (weekly snapshots); a label says whether
    the learner was at risk as seen at that observation time.
    """
    observed = day - dt.timedelta(days=scenario.label_delay_days)
    if not is_observation_day(observed, scenario):
        return _typed(_empty_labels())
    pop = population(scenario)
    r = latent_risk(pop, observed, scenario)
    if scenario.concept and observed >= scenario.concept.start:
        k = scenario.concept.size
        r = (1 - k) * r + k * pop.hidden
    rng = _rng(scenario, 8, _day_index(observed))
    p = 1.0 / (1.0 + np.exp(-(-2.6 + 1.6 * r)))
    y = (rng.random(len(r)) < p).astype(np.int64)
    # disengaged: attendance and work collapse next month; driven by the same latent risk without
    # the family-contact part, so a model without family-contact features can learn it.
    activity_risk = r - 0.25 * pop.parent_abroad
    p_disengaged = 1.0 / (1.0 + np.exp(-(-1.9 + 1.3 * activity_risk)))
    disengaged = (_rng(scenario, 9, _day_index(observed)).random(len(r)) < p_disengaged).astype(
        np.int64
    )
    enrolled = rng.random(len(r)) >= 0.02  # a few learners leave and get no outcome
    frame = pd.DataFrame(
        {
            "learner_id": pop.learner_id[enrolled],
            "event_timestamp": _utc(observed) + pd.Timedelta(hours=23, minutes=59),
            "at_risk": y[enrolled],
            "disengaged": disengaged[enrolled],
            "created_timestamp": _utc(day) + pd.Timedelta(hours=6),
        }
    )
    return _typed(frame)


def _empty_labels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "learner_id": pd.Series([], dtype="int64"),
            "event_timestamp": pd.Series([], dtype="datetime64[us, UTC]"),
            "at_risk": pd.Series([], dtype="int64"),
            "disengaged": pd.Series([], dtype="int64"),
            "created_timestamp": pd.Series([], dtype="datetime64[us, UTC]"),
        }
    )


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if col in ("event_timestamp", "created_timestamp"):
            out[col] = pd.to_datetime(out[col], utc=True).astype("datetime64[us, UTC]")
        elif col == "region":
            out[col] = out[col].astype("string")
        elif col in INT_COLUMNS:
            # Nullable Int64 keeps an integer column integer even when a broken feed nulls it.
            out[col] = out[col].astype("int64" if out[col].notna().all() else "Int64")
        elif col != "learner_id":
            out[col] = out[col].astype("float64")
    out["learner_id"] = out["learner_id"].astype("int64")
    return out.sort_values(["event_timestamp", "learner_id"], kind="stable").reset_index(drop=True)


def partition(source: str, day: dt.date, scenario: Scenario) -> pd.DataFrame:
    """The partition of ``source`` that arrives on ``day``."""
    if source == LABEL_SOURCE:
        return label_partition(day, scenario)
    return feature_partition(source, day, scenario)


def write_table(frame: pd.DataFrame, path: Path) -> str:
    """Write ``frame`` as parquet with deterministic bytes (microsecond timestamps, no pandas
    index metadata); atomically, via a temp file and rename. Returns the sha256 of the bytes."""
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="snappy", coerce_timestamps="us", write_statistics=True)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.replace(path)
    return digest


def write_day(
    raw_dir: Path, day: dt.date, scenario: Scenario, sources: tuple[str, ...] = SOURCES
) -> dict[str, Path]:
    """Write every source's partition for ``day``; re-writing gives identical bytes."""
    written = {}
    for source in sources:
        path = partition_path(raw_dir, source, day)
        write_table(partition(source, day, scenario), path)
        written[source] = path
    return written


def write_range(raw_dir: Path, start: dt.date, days: int, scenario: Scenario) -> list[dt.date]:
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    for day in dates:
        write_day(raw_dir, day, scenario)
    return dates


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad date {text!r}; use YYYY-MM-DD") from None


def parse_shift(text: str) -> CovariateShift:
    """``FEATURE[,FEATURE...]@YYYY-MM-DD[:SIZE]``, e.g. ``study_minutes,quiz_score_avg@2026-03-01:1.5``."""
    try:
        feats, rest = text.split("@", 1)
        start, _, size = rest.partition(":")
        return CovariateShift(tuple(feats.split(",")), parse_date(start), float(size or 1.0))
    except ValueError as exc:
        raise ValueError(f"--shift {text!r}: {exc}; expected FEATURES@YYYY-MM-DD[:SIZE]") from None


def parse_concept(text: str) -> ConceptShift:
    """``YYYY-MM-DD[:SIZE]``."""
    start, _, size = text.partition(":")
    try:
        return ConceptShift(parse_date(start), float(size or 0.8))
    except ValueError as exc:
        raise ValueError(f"--concept {text!r}: {exc}; expected YYYY-MM-DD[:SIZE]") from None


def parse_broken(text: str) -> BrokenFeed:
    """``FEATURE@YYYY-MM-DD:KIND`` with KIND one of nulls, frozen, stuck, unit."""
    try:
        feat, rest = text.split("@", 1)
        start, _, kind = rest.partition(":")
        return BrokenFeed(feat, parse_date(start), kind or "nulls")
    except ValueError as exc:
        raise ValueError(f"--broken {text!r}: {exc}; expected FEATURE@YYYY-MM-DD:KIND") from None
