"""DeLong's fast covariance against an independent O(m x n) computation, a textbook value and a
paired bootstrap; McNemar's exact test."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from bantay.monitoring.paired_stats import (
    delong,
    delong_covariance,
    mcnemar,
    paired_bootstrap,
    percentile_interval,
)


def pairwise_delong(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DeLong, DeLong & Clarke-Pearson (1988) as written: the Mann-Whitney kernel over every
    (positive, negative) pair, its structural components and their covariances. No ranks."""
    v10, v01, aucs = [], [], []
    for s in scores:
        x, z = s[y == 1][:, None], s[y == 0][None, :]
        psi = (x > z) + 0.5 * (x == z)
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
        aucs.append(psi.mean())
    m, n = int((y == 1).sum()), int((y == 0).sum())
    return np.array(aucs), np.cov(np.vstack(v10)) / m + np.cov(np.vstack(v01)) / n


def correlated_scores(n: int, seed: int, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(int)
    a = 1.1 * y + rng.normal(0, 1, n)
    b = 0.6 * a + 0.9 * y + rng.normal(0, 1, n)
    if ties:
        a, b = np.round(a), np.round(b * 2) / 2
    return y, a, b


@pytest.mark.parametrize("ties", [False, True])
def test_fast_covariance_equals_the_pairwise_definition(ties):
    y, a, b = correlated_scores(400, seed=3, ties=ties)
    fast_auc, fast_cov = delong_covariance(y, np.vstack([a, b]))
    slow_auc, slow_cov = pairwise_delong(y, [a, b])
    np.testing.assert_allclose(fast_auc, slow_auc, rtol=1e-12)
    np.testing.assert_allclose(fast_cov, slow_cov, rtol=1e-10)
    assert fast_auc[0] == pytest.approx(roc_auc_score(y, a))


def test_hanley_mcneil_ct_ratings_give_the_textbook_area():
    """Hanley & McNeil (1982), Radiology 143:29, table 1: 58 normal and 51 abnormal CT images
    rated 1..5; the trapezoidal area is 0.893 (by hand: 2642 / (58 x 51) = 0.89317)."""
    normal, abnormal = [33, 6, 6, 11, 2], [3, 2, 2, 11, 33]
    ratings = np.repeat(np.tile(np.arange(1, 6), 2), normal + abnormal).astype(float)
    y = np.repeat([0, 1], [58, 51])
    result = delong(y, ratings, ratings)
    assert result.auc_a == pytest.approx(2642 / 2958, abs=1e-12)
    assert round(result.auc_a, 3) == 0.893
    _, slow_cov = pairwise_delong(y, [ratings])
    assert result.var_a == pytest.approx(float(slow_cov), rel=1e-10)
    assert result.difference == 0 and result.p_value == 1.0


def test_tiny_example_by_hand():
    """Positives score 0.9 and 0.4, negatives 0.6 and 0.1 (model a); model b ranks both
    positives on top. By hand: AUC a = 3/4, AUC b = 1; components of a: V10 = (1, 1/2),
    V01 = (1/2, 1), so var a = var(V10)/2 + var(V01)/2 = 1/8/2 + 1/8/2 = 1/8."""
    y = np.array([1, 1, 0, 0])
    a = np.array([0.9, 0.4, 0.6, 0.1])
    b = np.array([0.9, 0.8, 0.6, 0.1])
    result = delong(y, a, b)
    assert (result.auc_a, result.auc_b) == (0.75, 1.0)
    assert result.var_a == pytest.approx(1 / 8)
    assert result.var_b == 0 and result.cov == 0
    assert result.se == pytest.approx(np.sqrt(1 / 8))


def test_delong_standard_error_agrees_with_a_paired_bootstrap():
    y, a, b = correlated_scores(1500, seed=11)
    result = delong(y, a, b)
    boot = paired_bootstrap(y, a, b, roc_auc_score, samples=1500, seed=5)
    assert boot.size == 1500
    assert np.std(boot, ddof=1) == pytest.approx(result.se, rel=0.12)
    assert np.mean(boot) == pytest.approx(result.difference, abs=result.se / 3)
    low, high = percentile_interval(boot, 0.05)
    d_low, d_high = result.interval(0.05)
    assert low == pytest.approx(d_low, abs=result.se / 2)
    assert high == pytest.approx(d_high, abs=result.se / 2)


def test_pairing_shrinks_the_error_of_the_difference():
    """Two correlated models: the paired standard error is well below the independent one."""
    y, a, b = correlated_scores(1000, seed=2)
    result = delong(y, a, b)
    assert result.cov > 0
    assert result.se < 0.9 * np.sqrt(result.var_a + result.var_b)


def test_a_single_class_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="both classes.*wait for more matured labels"):
        delong(np.zeros(10, dtype=int), np.arange(10.0), np.arange(10.0))


def test_mcnemar_counts_only_disagreements():
    both = np.ones(50, dtype=bool)
    a = np.concatenate([both, np.zeros(6, dtype=bool)])
    b = np.concatenate([both, np.ones(6, dtype=bool)])
    assert mcnemar(a, b) == pytest.approx(2 * 0.5**6)  # 6 discordant, all one way
    assert mcnemar(a, a) == 1.0
