"""The group-sequential statistics of a randomised experiment: Lan-DeMets alpha spending with
the O'Brien-Fleming-like spending function, two-sided boundaries for whatever information
fractions the maturation dates reached, the power of such a design, and the sample size it
needs, stated before the experiment starts.

The boundaries come from the exact recursion of Armitage, McPherson and Rowe (the sequential
statistic as a Brownian motion in information time, its density carried from look to look on a
grid and integrated numerically), not from simulation: the same fractions give the same
boundaries on every machine.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

GRID = 401  # points of the continuation region at each look
FIXED_TOLERANCE = 1e-10


def obf_spending(t: float, alpha: float) -> float:
    """Lan-DeMets O'Brien-Fleming-like spending of a two-sided ``alpha``, each side spending
    its ``alpha / 2`` as ``2 - 2 Phi(z_{1-alpha/4} / sqrt(t))`` (the convention of the
    published tables: 2.963 and 1.969 for two looks at 0.05); all of ``alpha`` by ``t = 1``."""
    if t <= 0:
        return 0.0
    t = min(t, 1.0)
    return float(2.0 * (2.0 - 2.0 * norm.cdf(norm.ppf(1 - alpha / 4) / math.sqrt(t))))


@dataclass(frozen=True)
class Crossing:
    """Per look: the probability of stopping there above the upper or below the lower bound."""

    upper: tuple[float, ...]
    lower: tuple[float, ...]

    @property
    def total(self) -> float:
        return float(sum(self.upper) + sum(self.lower))


def _check_fractions(fractions: list[float]) -> None:
    if not fractions:
        raise ValueError("no looks: an analysis needs at least one information fraction")
    if any(t <= 0 for t in fractions) or any(b <= a for a, b in itertools.pairwise(fractions)):
        raise ValueError(f"information fractions {fractions} must be positive and increasing")


def _grid(bound: float, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Points on the B-value scale of the continuation region ``|Z| < bound`` at ``t``, with
    Simpson weights."""
    edge = bound * math.sqrt(t)
    points = np.linspace(-edge, edge, GRID)
    weights = np.ones(GRID)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    return points, weights * (points[1] - points[0]) / 3.0


class _Recursion:
    """The sub-density of the B-value B(t) = Z(t) sqrt(t) on the paths that have not stopped,
    carried look to look for a drift ``theta`` (E[Z(1)])."""

    def __init__(self, theta: float) -> None:
        self.theta = theta
        self.t = 0.0
        self.points: np.ndarray | None = None  # None: at the start, all mass at B = 0
        self.mass: np.ndarray | None = None  # density times weights

    def _moments(self, t: float) -> tuple[np.ndarray, float]:
        step = t - self.t
        start = np.zeros(1) if self.points is None else self.points
        return start + self.theta * step, math.sqrt(step)

    def _weights(self) -> np.ndarray:
        return np.ones(1) if self.mass is None else self.mass

    def cross(self, t: float, bound: float) -> tuple[float, float]:
        """P(stop above), P(stop below) at ``t`` for the two-sided ``bound`` on Z."""
        mean, sd = self._moments(t)
        edge = bound * math.sqrt(t)
        upper = norm.sf((edge - mean) / sd)
        lower = norm.cdf((-edge - mean) / sd)
        w = self._weights()
        return float(w @ upper), float(w @ lower)

    def advance(self, t: float, bound: float) -> None:
        mean, sd = self._moments(t)
        points, weights = _grid(bound, t)
        density = norm.pdf((points[:, None] - mean[None, :]) / sd) / sd
        self.mass = (density @ self._weights()) * weights
        self.points, self.t = points, t


def boundaries(fractions: list[float], alpha: float, *, final: bool = False) -> list[float]:
    """Two-sided |Z| boundaries at ``fractions`` (increasing information fractions, which also
    give the looks' correlation: pass the information actually reached, even beyond 1) under
    Lan-DeMets O'Brien-Fleming spending. A fraction of 1 or more spends what is left of
    ``alpha``; so does the last look when ``final`` (the planned last analysis, reached before
    or after the planned information). A look whose alpha to spend is negligible gets an
    infinite bound."""
    _check_fractions(fractions)
    out: list[float] = []
    walk = _Recursion(0.0)
    spent = 0.0
    for i, t in enumerate(fractions):
        last = final and i == len(fractions) - 1
        target = (alpha if last else obf_spending(t, alpha)) - spent
        if target <= FIXED_TOLERANCE:
            bound = math.inf
        else:
            bound = brentq(
                lambda c, t=t, target=target: sum(walk.cross(t, c)) - target, 0.5, 40.0, xtol=1e-7
            )
        out.append(bound)
        spent += sum(walk.cross(t, bound)) if math.isfinite(bound) else 0.0
        walk.advance(t, bound if math.isfinite(bound) else 40.0)
    return out


def crossing(fractions: list[float], bounds: list[float], theta: float) -> Crossing:
    """Probabilities of stopping at each look above / below ``bounds`` when E[Z(1)] = theta."""
    _check_fractions(fractions)
    walk = _Recursion(theta)
    upper, lower = [], []
    for t, c in zip(fractions, bounds, strict=True):
        c = c if math.isfinite(c) else 40.0
        up, down = walk.cross(t, c)
        upper.append(up)
        lower.append(down)
        walk.advance(t, c)
    return Crossing(tuple(upper), tuple(lower))


def drift_for_power(looks: int, alpha: float, power: float) -> float:
    """E[Z] at full information for which ``looks`` equally spaced looks detect the effect in
    its direction with probability ``power``."""
    fractions = [(k + 1) / looks for k in range(looks)]
    bounds = boundaries(fractions, alpha)
    return brentq(lambda th: sum(crossing(fractions, bounds, th).upper) - power, 0.1, 10.0)


def inflation(looks: int, alpha: float, power: float) -> float:
    """How much more information the sequential design needs than a single final analysis."""
    fixed = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return (drift_for_power(looks, alpha, power) / fixed) ** 2


@dataclass(frozen=True)
class SampleSize:
    """What an experiment needs, stated before it starts: observations per arm (learner
    outcomes; times the design effect when whole groups are assigned)."""

    per_arm: int
    fixed_per_arm: int  # a single analysis at the end would need this many
    inflation: float
    design_effect: float
    max_information: float  # 1 / Var(rate difference) at the planned size

    def as_dict(self) -> dict[str, float]:
        return {
            "per_arm": self.per_arm,
            "fixed_per_arm": self.fixed_per_arm,
            "inflation": round(self.inflation, 4),
            "design_effect": self.design_effect,
            "max_information": self.max_information,
        }


def sample_size(
    base_rate: float,
    effect: float,
    *,
    alpha: float,
    power: float,
    looks: int,
    design_effect: float = 1.0,
) -> SampleSize:
    """Outcomes per arm to detect an absolute fall of ``effect`` in the adverse-outcome rate
    ``base_rate`` with ``power`` at two-sided ``alpha`` over ``looks`` analyses."""
    if not 0 < base_rate < 1:
        raise ValueError(f"base rate {base_rate} must be a share in (0, 1), e.g. 0.12")
    if not 0 < effect < base_rate:
        raise ValueError(
            f"minimum effect {effect} must be above 0 and below the base rate {base_rate} "
            "(an absolute fall of the adverse-outcome rate, e.g. 0.02)"
        )
    p1 = base_rate - effect
    variance = base_rate * (1 - base_rate) + p1 * (1 - p1)
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    fixed = z * z * variance / effect**2 * design_effect
    factor = inflation(looks, alpha, power) if looks > 1 else 1.0
    per_arm = math.ceil(fixed * factor)
    return SampleSize(
        per_arm=per_arm,
        fixed_per_arm=math.ceil(fixed),
        inflation=factor,
        design_effect=design_effect,
        max_information=(drift_for_power(looks, alpha, power) / effect) ** 2
        if looks > 1
        else (z / effect) ** 2,
    )
