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
    gap_low: float | None
    gap_high: float | None
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
        """Groups whose whole interval of the gap to the best group lies beyond the allowed
        gap (too-small groups never are)."""
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
    """How much the model leans on one feature: its mean |attribution| today against the
    version's global explanation; ``change`` is relative (0.5: half as much again)."""

    feature: str
    reference: float
    current: float
    change: float


@dataclasses.dataclass(frozen=True)
class AttributionCheck:
    """Today's importance ranking against the version's own: NDCG, per-feature change, and the
    share of flagged learners whose top reason changed since the day before."""

    ndcg: float
    min_ndcg: float
    large_change: float
    rows: int
    features: tuple[FeatureLean, ...] = ()
    top_reason_changed: float | None = None  # None: no flagged learner scored both days
    flagged_compared: int = 0

    @property
    def drifted(self) -> bool:
        return self.ndcg < self.min_ndcg

    @property
    def leaning_more(self) -> list[FeatureLean]:
        """Features the model leans on much more than it did, largest change first."""
        more = [f for f in self.features if f.change >= self.large_change]
        return sorted(more, key=lambda f: f.change, reverse=True)

    @property
    def leaning_less(self) -> list[FeatureLean]:
        less = [
            f for f in self.features if f.change <= -self.large_change / (1 + self.large_change)
        ]
        return sorted(less, key=lambda f: f.change)

    def as_data(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["features"] = [dataclasses.asdict(f) for f in self.features]
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> AttributionCheck:
        return cls(**{**data, "features": tuple(FeatureLean(**f) for f in data["features"])})
