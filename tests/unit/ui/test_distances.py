"""The per-feature distances between two drift references, checked against SciPy's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from bantay.ui.distances import (
    MIN_STD,
    feature_shift,
    jensen_shannon,
    normalised_wasserstein,
    reference_shifts,
    wasserstein,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wasserstein_matches_scipy_on_samples_of_different_sizes(seed):
    rng = np.random.default_rng(seed)
    u = rng.normal(0, 1, 300)
    v = rng.gamma(2.0, 1.5, 170)
    assert wasserstein(u, v) == pytest.approx(wasserstein_distance(u, v), rel=1e-12)


def test_a_shift_by_a_constant_moves_the_normalised_distance_by_that_many_stds():
    older = np.linspace(0, 10, 101)
    assert normalised_wasserstein(older, older + 2.5) == pytest.approx(2.5 / np.std(older))
    assert normalised_wasserstein(older, older) == 0.0


def test_a_constant_older_reference_is_normalised_by_the_floor_not_by_zero():
    assert normalised_wasserstein(np.zeros(10), np.ones(10)) == pytest.approx(1 / MIN_STD)


def test_jensen_shannon_matches_scipy_over_the_union_of_values():
    older = pd.Series(["north"] * 6 + ["south"] * 3 + ["east"])
    newer = pd.Series(["north"] * 2 + ["south"] * 5 + ["west"] * 3)
    p = np.array([1, 6, 3, 0]) / 10  # east, north, south, west
    q = np.array([0, 2, 5, 3]) / 10
    assert jensen_shannon(older, newer) == pytest.approx(jensenshannon(p, q))
    assert jensen_shannon(older, older.sample(frac=1, random_state=3)) == pytest.approx(0.0)


def test_a_side_without_values_has_no_distance():
    shift = feature_shift("x", "numerical", pd.Series([1.0, 2.0]), pd.Series([None]), 0.1)
    assert shift.distance is None and not shift.over and shift.rows == (2, 0)


def test_the_largest_move_relative_to_its_threshold_comes_first():
    rng = np.random.default_rng(5)
    base = rng.normal(0, 1, 500)
    older = pd.DataFrame(
        {"a": base, "b": base, "c": base, "region": ["n", "s"] * 250, "unused": base}
    )
    newer = pd.DataFrame(
        {"a": base + 0.05, "b": base + 1.0, "c": base, "region": ["n"] * 400 + ["s"] * 100}
    )
    kinds = {"a": "numerical", "b": "numerical", "c": "numerical", "region": "categorical"}
    shifts = reference_shifts(older, newer, kinds, {"a": 0.1, "b": 0.1, "c": 0.1, "region": 0.05})
    assert [s.feature for s in shifts] == ["b", "region", "a", "c"]
    assert [s.over for s in shifts] == [True, True, False, False]
    assert shifts[0].summary == pytest.approx((base.mean(), base.mean() + 1.0))
    assert shifts[1].method == "jensenshannon" and shifts[1].summary == ("n", "n")
