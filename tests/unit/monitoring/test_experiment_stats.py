"""The group-sequential statistics against published tables: Lan-DeMets O'Brien-Fleming
spending boundaries for 2 to 5 equally spaced looks at two-sided 0.05 (as tabulated by Jennison
and Turnbull and reproduced by the R packages ldbounds and gsDesign), the alpha they spend, the
power of a design and the sample size it needs."""

from __future__ import annotations

import math

import pytest
from scipy.stats import norm

from bantay.monitoring.experiment_stats import (
    boundaries,
    crossing,
    drift_for_power,
    inflation,
    obf_spending,
    sample_size,
)

PUBLISHED = {
    2: [2.963, 1.969],
    3: [3.710, 2.511, 1.993],
    4: [4.333, 2.963, 2.359, 2.014],
    5: [4.877, 3.357, 2.680, 2.290, 2.031],
}


def equal(k: int) -> list[float]:
    return [(i + 1) / k for i in range(k)]


@pytest.mark.parametrize("looks", sorted(PUBLISHED))
def test_boundaries_match_the_published_table(looks):
    assert boundaries(equal(looks), 0.05) == pytest.approx(PUBLISHED[looks], abs=1.5e-3)


@pytest.mark.parametrize("looks", [1, 3, 5])
def test_the_boundaries_spend_exactly_alpha_under_no_difference(looks):
    bounds = boundaries(equal(looks), 0.05)
    assert crossing(equal(looks), bounds, 0.0).total == pytest.approx(0.05, abs=1e-6)


def test_a_single_look_is_the_fixed_test():
    assert boundaries([1.0], 0.05) == pytest.approx([norm.ppf(0.975)], abs=1e-6)


def test_unequal_fractions_spend_what_the_function_allows_at_each_look():
    fractions = [0.23, 0.61, 1.0]
    bounds = boundaries(fractions, 0.05)
    spent = crossing(fractions, bounds, 0.0)
    cumulative = [sum(spent.upper[: i + 1]) + sum(spent.lower[: i + 1]) for i in range(3)]
    assert cumulative == pytest.approx([obf_spending(t, 0.05) for t in fractions], abs=1e-6)
    assert bounds[0] > bounds[1] > bounds[2]


def test_the_planned_last_look_spends_what_is_left_before_full_information():
    fractions = [0.3, 0.55, 0.8]  # the last date came before the planned information
    bounds = boundaries(fractions, 0.05, final=True)
    assert crossing(fractions, bounds, 0.0).total == pytest.approx(0.05, abs=1e-6)
    assert bounds[:2] == pytest.approx(boundaries(fractions[:2], 0.05))


def test_information_beyond_the_plan_keeps_the_looks_correlation():
    # the planned information was passed by 40 % at the third look: capping it at 1 would
    # overstate its correlation with the second look and spend more than alpha
    fractions = [0.4, 0.7, 1.4]
    bounds = boundaries(fractions, 0.05, final=True)
    assert crossing(fractions, bounds, 0.0).total == pytest.approx(0.05, abs=1e-6)
    capped = boundaries([0.4, 0.7, 1.0], 0.05, final=True)
    assert crossing(fractions, capped, 0.0).total > 0.05


def test_spending_is_zero_at_the_start_and_alpha_at_the_end():
    assert obf_spending(0.0, 0.05) == 0.0
    assert obf_spending(1.0, 0.05) == pytest.approx(0.05)
    assert obf_spending(2.0, 0.05) == pytest.approx(0.05)
    assert obf_spending(0.5, 0.05) == pytest.approx(0.00305, abs=5e-5)


def test_fractions_must_increase():
    with pytest.raises(ValueError, match="positive and increasing"):
        boundaries([0.5, 0.4], 0.05)


def test_the_design_has_its_power_and_the_published_inflation():
    theta = drift_for_power(5, 0.05, 0.8)
    bounds = boundaries(equal(5), 0.05)
    assert sum(crossing(equal(5), bounds, theta).upper) == pytest.approx(0.8, abs=1e-4)
    # O'Brien-Fleming-like spending costs little information: a few per cent at most, more
    # with more looks (1.0037 for 2 looks and 1.0247 for 5, also found by simulating 400,000
    # sequential trials at this drift: power 0.800 and 0.801)
    by_looks = [inflation(k, 0.05, 0.8) for k in (2, 3, 5)]
    assert 1.0 < by_looks[0] < by_looks[1] < by_looks[2] < 1.03
    assert by_looks[2] == pytest.approx(1.0247, abs=1e-3)


def test_sample_size_from_base_rate_and_effect():
    size = sample_size(0.12, 0.03, alpha=0.05, power=0.8, looks=1)
    z = norm.ppf(0.975) + norm.ppf(0.8)
    assert size.per_arm == math.ceil(z * z * (0.12 * 0.88 + 0.09 * 0.91) / 0.03**2)
    grouped = sample_size(0.12, 0.03, alpha=0.05, power=0.8, looks=5, design_effect=2.0)
    assert grouped.per_arm > 2 * size.per_arm


@pytest.mark.parametrize(
    ("base", "effect", "said"), [(1.2, 0.02, "base rate"), (0.1, 0.2, "minimum effect")]
)
def test_a_design_that_cannot_be_met_names_the_input(base, effect, said):
    with pytest.raises(ValueError, match=said):
        sample_size(base, effect, alpha=0.05, power=0.8, looks=3)
