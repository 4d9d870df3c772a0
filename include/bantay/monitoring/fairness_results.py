"""What the daily check found about fairness and about the model's attributions, as plain
data: flag rates per slice from the day's scores, recall per slice on matured labels, and how
today's importance ranking compares with the version's own global explanation."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class SliceRate:
    """One slice group's flag rate on the day, and its ratio to the most-flagged group."""

    slice: str
    group: str
    rows: int
    flag_rate: float
    ratio: float | None  # None: too small, or nobody flagged in the judged groups
    too_small: bool


@dataclasses.dataclass(frozen=True)
class SliceRecall:
    """One slice group's recall on matured labels, with its interval and the gap to the best."""

    slice: str
    group: str
    rows: int
    positives: int
    recall: float | None  # None: too small to judge
    low: float | None
    high: float | None
    gap: float | None  # best group's recall - this group's (the false-negative gap)
    gap_low: float | None  # one-sided lower bound at the check's confidence (what is judged)
    gap_high: float | None  # one-sided upper bound
    too_small: bool


@dataclasses.dataclass(frozen=True)
class FairnessCheck:
    """Fairness of one day: label-free flag rates always, recall gaps once labels matured."""

    threshold: float
    min_flag_ratio: float
    allowed_gap: float
    rates: tuple[SliceRate, ...] = ()
    recalls: tuple[SliceRecall, ...] = ()
    labelled_days: tuple[str, ...] = ()  # the days whose matured labels the recalls rest on
    version: str | None = None  # the version whose scores the recalls judge

    @property
    def regressed(self) -> list[SliceRecall]:
        """Groups whose gap to the best group is beyond the allowed gap even at its one-sided
        lower bound (too-small groups never are)."""
        return [
            r
            for r in self.recalls
            if not r.too_small and r.gap_low is not None and r.gap_low > self.allowed_gap
        ]

    @property
    def below_ratio(self) -> list[SliceRate]:
        """Groups flagged at less than ``min_flag_ratio`` of the most-flagged group's rate."""
        return [r for r in self.rates if r.ratio is not None and r.ratio < self.min_flag_ratio]

    def as_data(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["rates"] = [dataclasses.asdict(r) for r in self.rates]
        data["recalls"] = [dataclasses.asdict(r) for r in self.recalls]
        data["labelled_days"] = list(self.labelled_days)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> FairnessCheck:
        return cls(
            **{
                **data,
                "rates": tuple(SliceRate(**r) for r in data["rates"]),
                "recalls": tuple(SliceRecall(**r) for r in data["recalls"]),
                "labelled_days": tuple(data["labelled_days"]),
            }
        )


@dataclasses.dataclass(frozen=True)
class FeatureLean:
    """How much the model leans on one feature: its mean |attribution| now against the
    version's own; ``change`` is relative (0.5: half as much again). The shares are the
    feature's part of all attribution, over every scored learner and over the flagged ones
    (None where not measured)."""

    feature: str
    reference: float
    current: float
    change: float
    share_before: float | None = None
    share_now: float | None = None
    flagged_before: float | None = None
    flagged_now: float | None = None

    @property
    def moved(self) -> float:
        """The larger move of its share (over all scored, among the flagged), signed."""
        moves = [
            now - before
            for before, now in (
                (self.share_before, self.share_now),
                (self.flagged_before, self.flagged_now),
            )
            if before is not None and now is not None
        ]
        return max(moves, key=abs, default=0.0)


# Against what the version's importances were measured: its drift reference (the same days and
# learners the input drift test compares with), or, for a version published before that was
# recorded, its test rows (observation days only: reported, never an alarm).
REFERENCE_BASIS, TEST_BASIS = "drift reference", "test rows"


@dataclasses.dataclass(frozen=True)
class AttributionCheck:
    """What the model leans on over the drift window against what it leaned on over its drift
    reference: NDCG of the importance ranking, the shift of attribution shares (total variation:
    the part of all attribution that moved between features) over every scored learner and
    among the flagged ones, per-feature change, and the share of flagged learners whose top
    reason changed since the day before."""

    ndcg: float
    min_ndcg: float
    large_change: float
    rows: int
    features: tuple[FeatureLean, ...] = ()
    top_reason_changed: float | None = None  # None: no flagged learner scored both days
    flagged_compared: int = 0
    basis: str = TEST_BASIS
    shift: float | None = None
    flagged_shift: float | None = None
    max_shift: float | None = None
    flagged_rows: int = 0
    days: int = 1

    @property
    def drifted(self) -> bool:
        if self.ndcg < self.min_ndcg:
            return True
        if self.basis != REFERENCE_BASIS or self.max_shift is None:
            return False
        return any(s is not None and s >= self.max_shift for s in (self.shift, self.flagged_shift))

    def _large(self, f: FeatureLean, sign: int) -> bool:
        shifts = self.max_shift is not None and self.basis == REFERENCE_BASIS
        if shifts and sign * f.moved >= self.max_shift:
            return True
        if sign > 0:
            return f.change >= self.large_change
        return f.change <= -self.large_change / (1 + self.large_change)

    @property
    def leaning_more(self) -> list[FeatureLean]:
        """Features the model leans on much more than it did, largest move first."""
        more = [f for f in self.features if self._large(f, 1)]
        return sorted(more, key=lambda f: (f.moved, f.change), reverse=True)

    @property
    def leaning_less(self) -> list[FeatureLean]:
        less = [f for f in self.features if self._large(f, -1)]
        return sorted(less, key=lambda f: (f.moved, f.change))

    def as_data(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["features"] = [dataclasses.asdict(f) for f in self.features]
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> AttributionCheck:
        return cls(**{**data, "features": tuple(FeatureLean(**f) for f in data["features"])})
