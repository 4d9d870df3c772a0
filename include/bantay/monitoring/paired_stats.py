"""Paired tests of two models scored on the same learners: DeLong's test for correlated ROC AUCs
(the fast O(n log n) covariance of Sun & Xu 2014), a paired bootstrap of any metric, and an exact
McNemar test on the positives each model flags.

"Paired" is what makes a shadow comparison sensitive: both models score the same learners, so
most of the sampling noise (which learners happened to be in the sample) is shared and cancels
in the difference. Treating the two AUCs as independent would throw that away.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from scipy.stats import binomtest, rankdata


@dataclass(frozen=True)
class DeLongResult:
    """Two correlated ROC AUCs, their covariance and the test of ``auc_b - auc_a == 0``."""

    auc_a: float
    auc_b: float
    var_a: float
    var_b: float
    cov: float
    positives: int
    negatives: int

    @property
    def difference(self) -> float:
        return self.auc_b - self.auc_a

    @property
    def se(self) -> float:
        return math.sqrt(max(self.var_a + self.var_b - 2 * self.cov, 0.0))

    @property
    def z(self) -> float:
        if self.se == 0:
            return 0.0 if self.difference == 0 else math.copysign(math.inf, self.difference)
        return self.difference / self.se

    @property
    def p_value(self) -> float:
        """Two-sided."""
        return 2 * (1 - NormalDist().cdf(abs(self.z))) if math.isfinite(self.z) else 0.0

    def interval(self, alpha: float) -> tuple[float, float]:
        """The two-sided ``1 - alpha`` normal interval of the difference."""
        half = NormalDist().inv_cdf(1 - alpha / 2) * self.se
        return self.difference - half, self.difference + half


def _classes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(y).ravel()
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0/1; drop unlabelled rows before a paired test")
    pos, neg = labels == 1, labels == 0
    if not pos.any() or not neg.any():
        raise ValueError(
            f"a ROC AUC needs both classes; the labels hold {int(pos.sum())} positives and "
            f"{int(neg.sum())} negatives: wait for more matured labels"
        )
    return pos, neg


def delong_covariance(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUCs of the ``k`` rows of ``scores`` (k x n) against ``y`` and their k x k
    covariance, by DeLong's structural components computed from midranks (Sun & Xu 2014):
    three rankings per model instead of the m x n comparisons of the original method."""
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    pos, neg = _classes(y)
    m, n = int(pos.sum()), int(neg.sum())
    x, z = s[:, pos], s[:, neg]
    tx = np.vstack([rankdata(row) for row in x])  # ranks among positives
    tz = np.vstack([rankdata(row) for row in z])  # ranks among negatives
    tall = np.vstack([rankdata(row) for row in np.hstack([x, z])])  # ranks among all
    aucs = (tall[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    v10 = (tall[:, :m] - tx) / n  # per positive: share of negatives scored below it
    v01 = 1 - (tall[:, m:] - tz) / m  # per negative: share of positives scored above it
    s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(s), len(s)))
    s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(s), len(s)))
    return aucs, s10 / m + s01 / n


def delong(y: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> DeLongResult:
    """DeLong's test of two models' ROC AUCs on the same labelled rows (b against a)."""
    aucs, cov = delong_covariance(y, np.vstack([score_a, score_b]))
    pos, _ = _classes(y)
    return DeLongResult(
        auc_a=float(aucs[0]),
        auc_b=float(aucs[1]),
        var_a=float(cov[0, 0]),
        var_b=float(cov[1, 1]),
        cov=float(cov[0, 1]),
        positives=int(pos.sum()),
        negatives=int((~pos).sum()),
    )


Metric = Callable[[np.ndarray, np.ndarray], float]


def paired_bootstrap(
    y: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    metric: Metric,
    *,
    samples: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """``metric(b) - metric(a)`` on ``samples`` resamples of the rows (the same rows for both
    models, which is what pairs them). Resamples holding a single class are skipped."""
    if samples < 1:
        raise ValueError(f"bootstrap samples must be 1 or more, got {samples}")
    labels = np.asarray(y).ravel()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(samples):
        idx = rng.integers(0, len(labels), len(labels))
        yb = labels[idx]
        if yb.min() == yb.max():
            continue
        out.append(metric(yb, score_b[idx]) - metric(yb, score_a[idx]))
    return np.asarray(out, dtype=float)


def percentile_interval(differences: np.ndarray, alpha: float) -> tuple[float, float] | None:
    """The two-sided ``1 - alpha`` percentile interval; None without resamples."""
    if differences.size == 0:
        return None
    low, high = np.quantile(differences, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def mcnemar(flagged_a: np.ndarray, flagged_b: np.ndarray) -> float:
    """Exact two-sided McNemar p-value of the flags of two models on the same rows (pass the
    positives' flags to test a recall difference): only the rows they disagree on count."""
    a, b = np.asarray(flagged_a, dtype=bool), np.asarray(flagged_b, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(only_b, only_a + only_b, 0.5).pvalue)
