"""Judge a randomised experiment on matured outcomes: per arm, the adverse-outcome rate and the
share of at-risk learners never flagged, on closed label windows, analysed at each planned
maturation date with the group-sequential boundaries of ``experiment_stats``.

The primary statistic is the adverse-outcome rate of the control arm minus the challenger's
(positive: the challenger's flags left fewer learners failing), over every outcome observed
after the start whose window has closed by the look. Outcomes of one unit (a learner's weekly
outcomes, or a school's learners when schools are assigned) are correlated, so the variance is
the cluster-robust one of a ratio estimator, clustered on the unit of assignment. The
information at a look is 1 / variance; its fraction of the planned maximum decides how much
alpha the look may spend; the last planned date spends what is left. The interval is the
repeated confidence interval at the look's boundary (valid whenever the experiment is read).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from bantay.monitoring.experiment_stats import boundaries
from bantay.serving.experiment import CHALLENGER, CONTROL

BETTER = "challenger better"
WORSE = "challenger worse"
NOT_YET = "not yet"
NO_DIFFERENCE = "no difference"
UNIT, ARM_COL, OUTCOME, FLAGGED, MATURED = "unit", "arm", "outcome", "flagged", "matured"
OBSERVATION_COLUMNS = (UNIT, ARM_COL, OUTCOME, FLAGGED, MATURED)


@dataclass(frozen=True)
class ArmResult:
    """One arm at one look."""

    arm: str
    units: int
    outcomes: int  # learner outcomes observed (closed windows)
    adverse: int
    rate: float | None
    at_risk_never_flagged: float | None  # of the adverse outcomes, the share never flagged
    flagged_share: float | None  # of the outcomes, the share whose learner was flagged


@dataclass(frozen=True)
class Look:
    """One analysis: a maturation date with the arms, the statistic and its boundary."""

    date: str
    fraction: float
    bound: float | None
    difference: float | None  # control rate minus challenger rate
    se: float | None
    z: float | None
    interval: tuple[float, float] | None
    arms: tuple[ArmResult, ...]
    decision: str


@dataclass(frozen=True)
class ExperimentResult:
    """What the experiment says as of a day."""

    experiment: str
    as_of: str
    decision: str
    stop: bool  # a boundary was crossed (or the last look was read): the experiment is over
    reason: str
    looks: tuple[Look, ...]
    sample_per_arm: int
    still_needed: int  # outcomes per arm before the planned size is reached
    notes: list[str] = field(default_factory=list)
    guardrails: tuple[Any, ...] = ()  # experiment_guardrails.Guardrail, each holds or breached

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clustered_rate(frame: pd.DataFrame) -> tuple[float, float]:
    """The rate of ``OUTCOME`` and its cluster-robust variance (clusters: ``UNIT``)."""
    sums = frame.groupby(UNIT, sort=False)[OUTCOME].agg(["sum", "count"])
    total = float(sums["count"].sum())
    rate = float(sums["sum"].sum()) / total
    m = len(sums)
    resid = sums["sum"].to_numpy(float) - rate * sums["count"].to_numpy(float)
    variance = (m / (m - 1)) * float(resid @ resid) / total**2 if m > 1 else math.inf
    return rate, variance


def _arm(frame: pd.DataFrame, arm: str) -> ArmResult:
    rows = frame[frame[ARM_COL] == arm]
    adverse = rows[rows[OUTCOME] == 1]
    return ArmResult(
        arm=arm,
        units=int(rows[UNIT].nunique()),
        outcomes=len(rows),
        adverse=len(adverse),
        rate=float(rows[OUTCOME].mean()) if len(rows) else None,
        at_risk_never_flagged=float((~adverse[FLAGGED].astype(bool)).mean())
        if len(adverse)
        else None,
        flagged_share=float(rows[FLAGGED].astype(bool).mean()) if len(rows) else None,
    )


@dataclass
class _Moment:
    date: dt.date
    arms: tuple[ArmResult, ArmResult]
    difference: float | None
    se: float | None


def _moment(observations: pd.DataFrame, date: dt.date) -> _Moment:
    rows = observations[observations[MATURED] <= pd.Timestamp(date)]
    arms = (_arm(rows, CONTROL), _arm(rows, CHALLENGER))
    sides = [rows[rows[ARM_COL] == a] for a in (CONTROL, CHALLENGER)]
    if any(side[UNIT].nunique() < 2 for side in sides):
        return _Moment(date, arms, None, None)
    (rc, vc), (rt, vt) = (clustered_rate(side) for side in sides)
    se = math.sqrt(vc + vt)
    return _Moment(date, arms, rc - rt, se if se > 0 else None)


def _decision(z: float, bound: float, final: bool) -> str:
    if z >= bound:
        return BETTER
    if z <= -bound:
        return WORSE
    return NO_DIFFERENCE if final else NOT_YET


def analyse(observations: pd.DataFrame, record: dict[str, Any], as_of: dt.date) -> ExperimentResult:
    """The experiment ``record`` judged on ``observations`` (one row per learner outcome:
    ``unit``, ``arm``, ``outcome`` 0/1, ``flagged`` by its arm's model before the outcome,
    ``matured`` the day its label arrived) at each planned date up to ``as_of``."""
    missing = sorted(set(OBSERVATION_COLUMNS) - set(observations.columns))
    if missing:
        raise ValueError(f"experiment observations lack {missing}; expected {OBSERVATION_COLUMNS}")
    plan, sample = record["plan"], record["sample_size"]
    schedule = [dt.date.fromisoformat(d) for d in record["schedule"]]
    due = [d for d in schedule if d <= as_of]
    moments, fractions, final = [], [], False
    for date in due:
        m = _moment(observations, date)
        if m.se is None:
            continue
        # uncapped: the looks' correlation is that of the information actually reached
        t = (1 / m.se**2) / sample["max_information"]
        if fractions and t <= fractions[-1]:
            continue  # no new information since the last look: not a look
        moments.append(m)
        fractions.append(t)
        final = t >= 1.0 or date == schedule[-1]
        if final:
            break
    bounds = boundaries(fractions, plan["alpha"], final=final) if fractions else []
    looks: list[Look] = []
    for i, (m, t, c) in enumerate(zip(moments, fractions, bounds, strict=True)):
        z = m.difference / m.se
        half = c * m.se if math.isfinite(c) else math.inf
        decision = _decision(z, c, final and i == len(moments) - 1)
        looks.append(
            Look(
                date=m.date.isoformat(),
                fraction=round(t, 4),
                bound=c if math.isfinite(c) else None,
                difference=m.difference,
                se=m.se,
                z=z,
                interval=(m.difference - half, m.difference + half),
                arms=m.arms,
                decision=decision,
            )
        )
        if decision != NOT_YET:
            break
    return _result(record, as_of, looks, observations, due)


def _result(
    record: dict[str, Any],
    as_of: dt.date,
    looks: list[Look],
    observations: pd.DataFrame,
    due: list[dt.date],
) -> ExperimentResult:
    per_arm = int(record["sample_size"]["per_arm"])
    counts = [int((observations[ARM_COL] == a).sum()) for a in (CONTROL, CHALLENGER)]
    still = max(0, per_arm - min(counts))
    notes = []
    if not looks:
        decision = NOT_YET
        reason = (
            f"no analysis yet: the first is due {record['schedule'][0]}"
            if not due
            else "no look had outcomes of two units in each arm"
        )
    else:
        last = looks[-1]
        decision = last.decision
        reason = {
            BETTER: f"the challenger's arm had fewer adverse outcomes (z {last.z:.2f} above "
            f"the boundary {last.bound:.2f} at information fraction {last.fraction:.2f})",
            WORSE: f"stop for harm: the challenger's arm had more adverse outcomes (z "
            f"{last.z:.2f} below -{last.bound or math.inf:.2f} at information fraction "
            f"{last.fraction:.2f})",
            NO_DIFFERENCE: "the planned information was reached without crossing a boundary",
            NOT_YET: f"z {last.z:.2f} within +-{last.bound or math.inf:.2f} at information "
            f"fraction {last.fraction:.2f}; {still} more outcomes per arm planned",
        }[decision]
    if len(due) > len(looks) and decision == NOT_YET and looks:
        notes.append("dates with no new information since the previous look were not looks")
    return ExperimentResult(
        experiment=record["id"],
        as_of=as_of.isoformat(),
        decision=decision,
        stop=decision != NOT_YET,
        reason=reason,
        looks=tuple(looks),
        sample_per_arm=per_arm,
        still_needed=still,
        notes=notes,
    )


def naive_flagged_comparison(observations: pd.DataFrame) -> dict[str, float | None]:
    """The comparison the experiment replaces: the adverse-outcome rate among the learners
    each arm's model flagged (biased: a model whose flags helped sees its flagged learners do
    better, and flags different learners). Shown beside the experiment, never decided on."""
    out: dict[str, float | None] = {}
    for arm in (CONTROL, CHALLENGER):
        rows = observations[(observations[ARM_COL] == arm) & observations[FLAGGED].astype(bool)]
        out[arm] = float(rows[OUTCOME].mean()) if len(rows) else None
    return out
