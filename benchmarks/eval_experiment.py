"""Evaluate the randomised experiment (``bantay.monitoring.experiment.analyse``) on the
simulator's ground truth, where flags act.

    python benchmarks/eval_experiment.py            # full: writes benchmarks/results/experiment.json
    python benchmarks/eval_experiment.py --quick    # a few minutes: experiment_quick.json

Simulated at the outcome level, not through the pipeline (scoring, Feast and the DAGs would cost
minutes per experiment): each experiment is a fresh population (a new simulator seed) of
``learners``, scored once on one day's features by the evaluation world's logistic regression
(``eval_world``; scores are held for the experiment's six weeks), split into arms by the
product's keyed hash (``bantay.serving.experiment.assign``, a seeded key per run). Each arm's
model flags the learners at or above its threshold (its top ``FLAG_SHARE`` of the population);
every observation day staff act on at most ``CAPACITY_SHARE`` of each arm's learners, its most
at risk first, and an acted-on learner's adverse outcome is ``EFFICACY`` less likely
(``simulate.Intervention``; the same random numbers as the untouched world, so the
counterfactual is exact). Outcomes are the simulator's weekly labels, matured 14 days later; the
analysis is the product's, on the design ``bantay experiment start`` would register.

(a) equal arms: both arms served by the same model (an A/A experiment): the share deciding
    "challenger better" must stay within alpha / 2 and any decision within alpha.
(b) better: the challenger is the model, production the model's logit plus noise (a weaker
    ranking): the challenger's arm must win.
(c) worse: production is the model, the challenger a much weaker ranking: stopped for harm,
    before the last look.
(d) the naive comparison on the same runs: the adverse-outcome rate among each arm's flagged
    learners (more adverse outcomes among its flags read as the better model, as in
    ``eval_paired``), with a two-proportion test, against the same on the untouched outcomes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import math
import sys
import time
import warnings
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import table, write_results  # noqa: E402
from eval_paired import rate  # noqa: E402
from eval_world import World, predict  # noqa: E402

from bantay import simulate as sim  # noqa: E402
from bantay.monitoring.experiment import (  # noqa: E402
    BETTER,
    NOT_YET,
    WORSE,
    analyse,
    naive_flagged_comparison,
)
from bantay.monitoring.experiment_stats import sample_size  # noqa: E402
from bantay.serving.experiment import CHALLENGER, ExperimentPlan, assign, new_record  # noqa: E402
from bantay.simulate.catalogue import ENTITY, LABEL  # noqa: E402
from bantay.simulate.labels import is_observation_day, label_partition  # noqa: E402

AS_OF = dt.date(2026, 6, 1)  # the model is trained on the labels matured by then
DELAY = 14
ALPHA = 0.05
FLAG_SHARE = 0.2
CAPACITY_SHARE = 0.1
EFFICACY = 0.5
WEAK_NOISE = 2.0  # (b) production's extra logit noise (ROC AUC ~0.70 against ~0.82)
BROKEN_NOISE = 4.0  # (c) the harmful challenger's (ROC AUC ~0.61)
PLAN = {"base_rate": 0.15, "min_effect": 0.008, "looks": 5, "design_effect": 1.5}

FULL = {"learners": 20_000, "equal": 200, "better": 100, "worse": 100}
QUICK = {"learners": 20_000, "equal": 40, "better": 20, "worse": 20}


def first_observation_day() -> dt.date:
    day = AS_OF + dt.timedelta(days=DELAY)
    while not is_observation_day(day, sim.Scenario()):
        day += dt.timedelta(days=1)
    return day


START = first_observation_day()


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def design() -> dict[str, Any]:
    """The experiment record as ``bantay experiment start`` registers it."""
    plan = ExperimentPlan(**PLAN)
    size = sample_size(
        plan.base_rate,
        plan.min_effect,
        alpha=ALPHA,
        power=plan.power,
        looks=plan.looks,
        design_effect=plan.design_effect,
    )
    return new_record(
        "learner_risk",
        "challenger",
        "production",
        plan,
        start=START,
        label_delay_days=DELAY,
        sample=size.as_dict(),
        actor="eval",
        reason="eval_experiment",
    )


class Run:
    """One population, its arms and the weekly outcomes of a pair of serving models."""

    def __init__(self, model, record: dict[str, Any], seed: int, learners: int) -> None:
        world = World(learners=learners, seed=seed, as_of=AS_OF)
        feats = world.features(world.clean, START)
        self.ids = feats[ENTITY].to_numpy()
        self.logit = logit(predict(model, feats))
        self.seed, self.learners = seed, learners
        self.record = {**record, "key": hashlib.sha256(f"run {seed}".encode()).hexdigest()}
        self.arms = assign(self.record["key"], self.ids, self.record["plan"]["share"])
        last = dt.date.fromisoformat(self.record["schedule"][-1]) - dt.timedelta(days=DELAY)
        self.days = [START + dt.timedelta(days=7 * k) for k in range((last - START).days // 7 + 1)]

    def noisy(self, sd: float, stream: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, stream])
        return self.logit + rng.normal(0, sd, len(self.logit))

    def observations(self, control: np.ndarray, challenger: np.ndarray, efficacy: float):
        """Every arm's weekly outcomes when staff act on each arm's model's flags."""
        served = np.where(self.arms == CHALLENGER, challenger, control)
        cut = np.where(
            self.arms == CHALLENGER,
            np.quantile(challenger, 1 - FLAG_SHARE),
            np.quantile(control, 1 - FLAG_SHARE),
        )
        flagged = served >= cut
        acted: list[int] = []
        for arm in ("control", CHALLENGER):
            mine = flagged & (self.arms == arm)
            capacity = int(CAPACITY_SHARE * (self.arms == arm).sum())
            acted += self.ids[mine][np.argsort(-served[mine])][:capacity].tolist()
        knob = sim.Intervention(efficacy, len(acted), dict.fromkeys(self.days, tuple(acted)))
        scenario = sim.Scenario(learners=self.learners, seed=self.seed, intervention=knob)
        frame = pd.DataFrame({ENTITY: self.ids, "arm": self.arms, "flagged": flagged})
        parts = []
        for day in self.days:
            labels = label_partition(day + dt.timedelta(days=DELAY), scenario)
            rows = frame.merge(labels[[ENTITY, LABEL]], on=ENTITY, how="inner")
            parts.append(
                pd.DataFrame(
                    {
                        "unit": rows[ENTITY].astype(str),
                        "arm": rows["arm"],
                        "outcome": rows[LABEL].astype(int),
                        "flagged": rows["flagged"],
                        "matured": pd.Timestamp(day + dt.timedelta(days=DELAY)),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)


def naive(rows: pd.DataFrame) -> tuple[float, str]:
    """Challenger minus control adverse-outcome rate among flagged learners, and what a
    two-proportion test reads into it as ``eval_paired`` does (its flags hit more adverse
    outcomes: better at finding the learners at risk)."""
    rates = naive_flagged_comparison(rows)
    flagged = rows[rows["flagged"].astype(bool)]
    n = flagged.groupby("arm")["outcome"].count()
    pooled = flagged["outcome"].mean()
    se = math.sqrt(pooled * (1 - pooled) * (1 / n["control"] + 1 / n[CHALLENGER]))
    diff = rates[CHALLENGER] - rates["control"]
    z = diff / se
    crit = NormalDist().inv_cdf(1 - ALPHA / 2)
    return diff, BETTER if z >= crit else WORSE if z <= -crit else NOT_YET


def arm_difference(rows: pd.DataFrame) -> float:
    """Control minus challenger adverse-outcome rate over every outcome (the truth, large n)."""
    by = rows.groupby("arm")["outcome"].mean()
    return float(by["control"] - by[CHALLENGER])


class Tally:
    """One scenario's experiments: decisions, stops, the truth and the naive comparison."""

    def __init__(self, looks: int) -> None:
        self.looks = looks
        self.decisions = {BETTER: 0, WORSE: 0, NOT_YET: 0, "no difference": 0}
        self.naive_calls = {BETTER: 0, WORSE: 0, NOT_YET: 0}
        self.untouched_calls = {BETTER: 0, WORSE: 0, NOT_YET: 0}
        self.stopped_at: list[int] = []
        self.truths: list[float] = []
        self.naive: list[float] = []
        self.untouched: list[float] = []

    def add(self, run: Run, control: np.ndarray, challenger: np.ndarray) -> None:
        rows = run.observations(control, challenger, EFFICACY)
        res = analyse(rows, run.record, dt.date.fromisoformat(run.record["schedule"][-1]))
        self.decisions[res.decision] += 1
        if res.decision in (BETTER, WORSE):
            self.stopped_at.append(len(res.looks))
        diff, call = naive(rows)
        self.naive_calls[call] += 1
        self.naive.append(diff)
        untouched = run.observations(control, challenger, 0.0)
        cf_diff, cf_call = naive(untouched)
        self.untouched.append(cf_diff)
        self.untouched_calls[cf_call] += 1
        self.truths.append(arm_difference(rows) - arm_difference(untouched))

    def result(self) -> dict[str, Any]:
        runs = sum(self.decisions.values())
        bias = float(np.mean(self.naive) - np.mean(self.untouched))
        return {
            "runs": runs,
            "decisions": self.decisions,
            "win": rate(self.decisions[BETTER], runs),
            "harm": rate(self.decisions[WORSE], runs),
            "any_decision": rate(self.decisions[BETTER] + self.decisions[WORSE], runs),
            "mean_look_of_stop": float(np.mean(self.stopped_at)) if self.stopped_at else None,
            "stopped_before_last_look": rate(
                sum(1 for k in self.stopped_at if k < self.looks), runs
            ),
            "true_effect_of_flags": float(np.mean(self.truths)),
            "naive_difference": float(np.mean(self.naive)),
            "naive_difference_untouched": float(np.mean(self.untouched)),
            "naive_bias": bias,
            "naive_bias_in_sd": bias / float(np.std(self.untouched, ddof=1)) if runs > 1 else None,
            "naive_calls": self.naive_calls,
            "naive_calls_untouched": self.untouched_calls,
        }


PICKS = {
    "equal": lambda run: (run.logit, run.logit),
    "better": lambda run: (run.noisy(WEAK_NOISE, 1), run.logit),
    "worse": lambda run: (run.logit, run.noisy(BROKEN_NOISE, 2)),
}


def experiments(lab: dict, p: dict[str, Any]) -> dict[str, Any]:
    """Every scenario on the same populations (seed 60,000 + r), each built once."""
    looks = lab["record"]["plan"]["looks"]
    tallies = {name: Tally(looks) for name in PICKS}
    for r in range(max(p[name] for name in PICKS)):
        run = Run(lab["model"], lab["record"], 60_000 + r, lab["learners"])
        for name, pick in PICKS.items():
            if r < p[name]:
                tallies[name].add(run, *pick(run))
        if (r + 1) % 20 == 0:
            print(f"{r + 1} populations", flush=True)
    return {name: t.result() for name, t in tallies.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer experiments")
    args = parser.parse_args()
    p = QUICK if args.quick else FULL
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    record = design()
    lab = {
        "model": World(learners=5000, seed=7, as_of=AS_OF).model,
        "record": record,
        "learners": p["learners"],
    }
    numbers: dict[str, Any] = experiments(lab, p)
    numbers["seconds"] = round(time.perf_counter() - started, 1)
    params = {
        **p,
        "alpha": ALPHA,
        "plan": PLAN,
        "sample_size": record["sample_size"],
        "schedule": record["schedule"],
        "start": str(START),
        "flag_share": FLAG_SHARE,
        "capacity_share": CAPACITY_SHARE,
        "efficacy": EFFICACY,
        "weak_noise_sd": WEAK_NOISE,
        "broken_noise_sd": BROKEN_NOISE,
        "model_as_of": str(AS_OF),
    }
    path = write_results("experiment_quick" if args.quick else "experiment", params, numbers, NOTES)
    print(summary(numbers))
    print(f"wrote {path}")


NOTES = [
    "Outcome-level simulation: scores held from one day's features for the experiment's six "
    "weeks; flags, staff action (simulate.Intervention) and weekly outcomes from the simulator; "
    "arms by the product's keyed hash; the analysis is bantay.monitoring.experiment.analyse on "
    "the design bantay experiment start registers.",
    "true_effect_of_flags: the control-minus-challenger adverse-outcome rate with staff acting, "
    "minus the same with no action (the same random numbers): what the arms' flags changed.",
    "naive: challenger minus control adverse-outcome rate among each arm's flagged learners; "
    "naive_difference_untouched is the same on the counterfactual outcomes (nobody acted).",
]


def summary(n: dict[str, Any]) -> str:
    eq, better, worse = n["equal"], n["better"], n["worse"]
    rows = [
        (
            "(a) equal arms: false 'challenger better'",
            f"{eq['win']['rate']:.3f}",
            f"<= {ALPHA / 2}",
        ),
        ("(a) equal arms: any decision", f"{eq['any_decision']['rate']:.3f}", f"<= {ALPHA}"),
        ("(b) better challenger wins", f"{better['win']['rate']:.3f}", ">= 0.8"),
        ("(c) worse challenger stopped for harm", f"{worse['harm']['rate']:.3f}", ">= 0.8"),
        (
            "(c) ... before the last look / mean look",
            f"{worse['stopped_before_last_look']['rate']:.3f} / {worse['mean_look_of_stop']}",
            "early",
        ),
    ]
    for name in ("equal", "better", "worse"):
        v = n[name]
        rows.append(
            (
                f"(d) {name}: naive diff (untouched) / calls",
                f"{v['naive_difference']:+.4f} ({v['naive_difference_untouched']:+.4f}) / "
                f"better {v['naive_calls'][BETTER]} worse {v['naive_calls'][WORSE]} "
                f"(untouched: {v['naive_calls_untouched'][BETTER]}, "
                f"{v['naive_calls_untouched'][WORSE]}) of {v['runs']}",
                "-",
            )
        )
    return table(rows, ("question", "measured", "goal"))


if __name__ == "__main__":
    main()
