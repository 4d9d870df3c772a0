"""How far one version's drift reference moved from another's, feature by feature.

The same effect sizes as the drift check's defaults (``bantay.monitoring.drift`` says why): the
normalised Wasserstein distance for numerical features (the distance in units of the older
reference's standard deviation) and the Jensen-Shannon distance for categorical ones (natural
logarithm, as Evidently computes it). Written with numpy alone: the pages do not import Evidently
or SciPy for two samples of a few thousand rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Evidently's floor for the normalising standard deviation (a constant column).
MIN_STD = 0.001


@dataclass(frozen=True)
class FeatureShift:
    """One feature's move between two references."""

    feature: str
    kind: str  # numerical | categorical
    method: str  # wasserstein | jensenshannon
    distance: float | None  # None: a side has no values
    threshold: float | None  # the drift check's threshold for this feature
    rows: tuple[int, int]  # non-null values on each side
    summary: tuple[Any, Any]  # mean (numerical) or most common value (categorical) per side

    @property
    def over(self) -> bool:
        """Whether the move reaches the drift check's threshold."""
        return None not in (self.distance, self.threshold) and self.distance >= self.threshold


def wasserstein(u: np.ndarray, v: np.ndarray) -> float:
    """The 1-D Wasserstein distance of two samples: the area between their empirical CDFs."""
    u, v = np.sort(u), np.sort(v)
    both = np.sort(np.concatenate([u, v]))
    widths = np.diff(both)
    cdf_u = np.searchsorted(u, both[:-1], side="right") / len(u)
    cdf_v = np.searchsorted(v, both[:-1], side="right") / len(v)
    return float(np.sum(np.abs(cdf_u - cdf_v) * widths))


def normalised_wasserstein(older: np.ndarray, newer: np.ndarray) -> float:
    """Wasserstein distance over the older sample's standard deviation (floored)."""
    return wasserstein(older, newer) / max(float(np.std(older)), MIN_STD)


def jensen_shannon(older: pd.Series, newer: pd.Series) -> float:
    """The Jensen-Shannon distance of two categorical samples over the union of their values."""
    p = older.value_counts(normalize=True)
    q = newer.value_counts(normalize=True)
    values = p.index.union(q.index)
    p = p.reindex(values, fill_value=0.0).to_numpy(float)
    q = q.reindex(values, fill_value=0.0).to_numpy(float)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))

    return float(np.sqrt(max((kl(p) + kl(q)) / 2, 0.0)))


def feature_shift(
    feature: str,
    kind: str,
    older: pd.Series,
    newer: pd.Series,
    threshold: float | None,
) -> FeatureShift:
    """How far ``feature`` moved from the older reference to the newer one."""
    a, b = older.dropna(), newer.dropna()
    method = "wasserstein" if kind == "numerical" else "jensenshannon"
    distance = summary = None
    if len(a) and len(b):
        if kind == "numerical":
            x, y = a.to_numpy(float), b.to_numpy(float)
            distance = normalised_wasserstein(x, y)
            summary = (float(x.mean()), float(y.mean()))
        else:
            distance = jensen_shannon(a.astype(str), b.astype(str))
            summary = (a.astype(str).mode().iloc[0], b.astype(str).mode().iloc[0])
    return FeatureShift(
        feature,
        kind,
        method,
        distance,
        threshold,
        (len(a), len(b)),
        summary or (None, None),
    )


def reference_shifts(
    older: pd.DataFrame,
    newer: pd.DataFrame,
    kinds: dict[str, str],
    thresholds: dict[str, float | None],
) -> list[FeatureShift]:
    """Every feature both references carry (``kinds``: feature -> numerical|categorical), the
    largest move first, relative to its threshold (methods differ in scale)."""
    shifts = [
        feature_shift(name, kind, older[name], newer[name], thresholds.get(name))
        for name, kind in kinds.items()
        if name in older.columns and name in newer.columns
    ]

    def weight(s: FeatureShift) -> float:
        if s.distance is None:
            return -1.0
        return s.distance / s.threshold if s.threshold else s.distance

    return sorted(shifts, key=weight, reverse=True)
