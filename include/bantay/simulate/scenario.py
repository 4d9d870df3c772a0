"""What the simulator is asked to simulate: a ``Scenario`` and its drift knobs of known ground
truth (covariate, concept, fairness and importance shift, broken feeds), their command-line syntax, and the seeded
random streams every generated value is drawn from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from bantay.simulate.catalogue import (
    ACTIVITY_FEATURES,
    CONTACT_FEATURES,
    FEATURES,
    PROFILE_FEATURES,
    REGIONS,
)

_EPOCH = dt.date(2020, 1, 1)
T = TypeVar("T")


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


@dataclass(frozen=True)
class FairnessShift:
    """From ``start`` the labels of the learners of one ``region`` depend less on the observed
    features (``size`` in 0..1, as a concept shift confined to that slice): the model misses
    more of that region's at-risk learners while the other regions are untouched."""

    region: str
    start: dt.date
    size: float = 0.8

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ValueError(f"fairness shift: unknown region {self.region!r}; allowed: {REGIONS}")
        if not 0 < self.size <= 1:
            raise ValueError(f"fairness shift size must be in (0, 1], got {self.size}")


@dataclass(frozen=True)
class ImportanceShift:
    """From ``start`` each of ``features`` spreads around its day's median by ``factor`` (1.1:
    every value 10 % further from the median; below 1 it contracts). Its mean barely moves and a
    factor near 1 keeps the feature within its drift threshold, while the weight the model's
    attributions give it changes with its spread."""

    features: tuple[str, ...]
    start: dt.date
    factor: float = 1.1

    def __post_init__(self) -> None:
        numeric = set(FEATURES) - {"region"}
        bad = [f for f in self.features if f not in numeric]
        if bad:
            raise ValueError(
                f"importance shift: unknown numeric feature(s) {bad}; allowed: {sorted(numeric)}"
            )
        if self.factor <= 0:
            raise ValueError(f"importance shift factor must be above 0, got {self.factor}")


@dataclass(frozen=True)
class Decoupling:
    """From ``start`` a ``share`` of each day's learners get the value of ``features`` of
    another learner of that share (a join that mixes learners up, a feed no longer keyed per
    learner): every feature's distribution stays exactly what it was, so no input drift test
    can see it, while the feature stops tracking its learner's risk. What the model leans on
    moves: among the flagged learners always, and over the whole population for a model whose
    attributions depend on other features (trees), never for an additive one."""

    features: tuple[str, ...]
    start: dt.date
    share: float = 1.0

    def __post_init__(self) -> None:
        numeric = set(FEATURES) - {"region"}
        bad = [f for f in self.features if f not in numeric]
        if bad:
            raise ValueError(
                f"decoupling: unknown numeric feature(s) {bad}; allowed: {sorted(numeric)}"
            )
        if not 0 < self.share <= 1:
            raise ValueError(f"decoupling share must be in (0, 1], got {self.share}")


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
class Intervention:
    """Flags act: each day staff act on at most ``capacity`` of the learners flagged that day
    (in the order of ``flags[day]``, most at risk first), and a learner acted on is ``efficacy``
    (a share, 0..1) less likely to have the adverse outcome (``at_risk``) observed that day.

    The outcome is drawn from the same random number with and without the intervention, so an
    intervention only ever turns an adverse outcome into a good one, for the learners acted on:
    the counterfactual of every learner is known exactly.
    """

    efficacy: float
    capacity: int
    flags: Mapping[dt.date, Sequence[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.efficacy <= 1:
            raise ValueError(
                f"intervention efficacy {self.efficacy} must be a share in [0, 1] "
                "(0.3: an acted-on learner's risk of the adverse outcome falls by 30 %)"
            )
        if self.capacity < 0:
            raise ValueError(
                f"intervention capacity {self.capacity} must be 0 or more flags acted on a day"
            )

    def acted(self, day: dt.date) -> np.ndarray:
        """The learner ids acted on ``day``: the first ``capacity`` of its flags."""
        return np.asarray(list(self.flags.get(day, ()))[: self.capacity], dtype=np.int64)


@dataclass(frozen=True)
class Scenario:
    """What to simulate: population, seed, label delay and the drift knobs."""

    learners: int = 5000
    seed: int = 7
    label_delay_days: int = 14
    label_every_days: int = 7
    # The first observation day of the weekly grid (any day of the grid will do); None keeps the
    # grid of the simulator's epoch. A demo anchors it on its drift start so that the drifted
    # days' labels mature at the same point of its story whatever the day of the week.
    label_anchor: dt.date | None = None
    missing_day_rate: float = 0.05
    late_row_rate: float = 0.01
    covariate: tuple[CovariateShift, ...] = ()
    concept: ConceptShift | None = None
    broken: tuple[BrokenFeed, ...] = ()
    # Off by default: the labels of one region worsen; features spread, or stop tracking their
    # learner, so importances move.
    fairness: FairnessShift | None = None
    importance: tuple[ImportanceShift, ...] = ()
    decoupling: tuple[Decoupling, ...] = ()
    # Flags act (None: nobody acts on a flag, outcomes are those of the untouched world).
    intervention: Intervention | None = None
    extra: dict[str, str] = field(default_factory=dict)


def stream(scenario: Scenario, *parts: int) -> np.random.Generator:
    return np.random.default_rng([scenario.seed, *parts])


def day_index(day: dt.date) -> int:
    return (day - _EPOCH).days


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad date {text!r}; use YYYY-MM-DD") from None


def _at(text: str, flag: str, expected: str, build: Callable[[str, dt.date, str], T]) -> T:
    """``WHAT@YYYY-MM-DD[:VALUE]`` given to ``build(what, start, value)``; any error names the
    flag, the text and the expected form."""
    try:
        what, rest = text.split("@", 1)
        start, _, value = rest.partition(":")
        return build(what, parse_date(start), value)
    except ValueError as exc:
        raise ValueError(f"{flag} {text!r}: {exc}; expected {expected}") from None


def parse_shift(text: str) -> CovariateShift:
    """``FEATURE[,FEATURE...]@YYYY-MM-DD[:SIZE]``, e.g. ``study_minutes,quiz_score_avg@2026-03-01:1.5``."""
    return _at(
        text,
        "--shift",
        "FEATURES@YYYY-MM-DD[:SIZE]",
        lambda f, d, v: CovariateShift(tuple(f.split(",")), d, float(v or 1.0)),
    )


def parse_concept(text: str) -> ConceptShift:
    """``YYYY-MM-DD[:SIZE]``."""
    start, _, size = text.partition(":")
    try:
        return ConceptShift(parse_date(start), float(size or 0.8))
    except ValueError as exc:
        raise ValueError(f"--concept {text!r}: {exc}; expected YYYY-MM-DD[:SIZE]") from None


def parse_fairness(text: str) -> FairnessShift:
    """``REGION@YYYY-MM-DD[:SIZE]``, e.g. ``luzon@2026-03-01:0.8``."""
    return _at(
        text,
        "--fairness",
        "REGION@YYYY-MM-DD[:SIZE]",
        lambda r, d, v: FairnessShift(r, d, float(v or 0.8)),
    )


def parse_importance(text: str) -> ImportanceShift:
    """``FEATURE[,FEATURE...]@YYYY-MM-DD[:FACTOR]``, e.g. ``attendance_rate@2026-03-01:1.1``."""
    return _at(
        text,
        "--importance",
        "FEATURES@YYYY-MM-DD[:FACTOR]",
        lambda f, d, v: ImportanceShift(tuple(f.split(",")), d, float(v or 1.1)),
    )


def parse_decoupling(text: str) -> Decoupling:
    """``FEATURE[,FEATURE...]@YYYY-MM-DD[:SHARE]``, e.g. ``attendance_rate@2026-03-01:0.5``."""
    return _at(
        text,
        "--decouple",
        "FEATURES@YYYY-MM-DD[:SHARE]",
        lambda f, d, v: Decoupling(tuple(f.split(",")), d, float(v or 1.0)),
    )


def parse_broken(text: str) -> BrokenFeed:
    """``FEATURE@YYYY-MM-DD:KIND`` with KIND one of nulls, frozen, stuck, unit."""
    return _at(
        text,
        "--broken",
        "FEATURE@YYYY-MM-DD:KIND",
        lambda f, d, v: BrokenFeed(f, d, v or "nulls"),
    )
