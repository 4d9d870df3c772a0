"""Evaluate the shadow comparison (``bantay.monitoring.paired.compare_shadow``) on the simulator's
ground truth.

    python benchmarks/eval_paired.py            # full: writes benchmarks/results/paired.json
    python benchmarks/eval_paired.py --quick    # under 3 minutes: paired_quick.json

Every comparison is ``compare_shadow`` itself, on a prediction log and the simulator's labels of
one observation day, for a fresh population (a new simulator seed) each time. The model is the
evaluation world's logistic regression (``eval_world``), trained once on 56 days of matured
labels; "production" and "shadow" are scores derived from it, so each question has a known
answer:

(a) false wins: two equally good models. ``noise``: the model's logit plus independent noise of
    the same size for each (their population ROC AUCs are equal by symmetry); ``refit``: the
    same family fitted on two bootstrap samples of the training set (equal in expectation, not
    exactly). The share of comparisons deciding "challenger better" must stay within alpha / 2
    (and "better or worse" within alpha).
(b) power: the shadow is the model, production the model's logit plus noise calibrated so the
    population ROC AUC is 0.03 lower; the share deciding "challenger better" per sample size.
(c) flags act: production and shadow equally good (as in ``noise``), staff act on production's
    top flags (capacity a day), an acted-on learner's adverse outcome is ``efficacy`` less
    likely. The naive comparison (the adverse-outcome rate among the learners each model
    flagged, with a two-proportion test) against the paired one, per efficacy; the labels with
    efficacy 0 are the exact counterfactual (same random numbers).
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from eval_world import World, fit_model, predict, stamp  # noqa: E402

from bantay import simulate as sim  # noqa: E402
from bantay.monitoring.paired import BETTER, WORSE, compare_shadow  # noqa: E402
from bantay.monitoring.paired_stats import delong  # noqa: E402
from bantay.simulate.catalogue import ENTITY, LABEL  # noqa: E402
from bantay.simulate.labels import is_observation_day, label_partition  # noqa: E402

AS_OF = dt.date(2026, 6, 1)  # the model is trained on the labels matured by then
DELAY = 14  # the simulator's default label delay
ALPHA = 0.05
NOISE = 0.5  # sd of the noise added to the model's logit in the equal-models null
EFFICACY_NOISE = 1.0  # (c): two equally good models that disagree more (a new challenger)
GAIN = 0.03  # the true ROC AUC improvement the power runs must detect
FLAG_SHARE = 0.2  # each model flags its top 20 % (its own decision threshold)
CAPACITY_SHARE = 0.1  # staff act on at most 10 % of learners a day (half the flags)
EFFICACIES = (0.0, 0.25, 0.5)

FULL = {
    "learners": 5000,
    "null": 400,
    "refit": 100,
    "power": 200,
    "sizes": (1000, 2000, 3000, 5000),
    "efficacy": 150,
}
QUICK = {
    "learners": 5000,
    "null": 60,
    "refit": 12,
    "power": 40,
    "sizes": (1000, 3000),
    "efficacy": 40,
}


def eval_day() -> dt.date:
    """The first observation day two weeks after the model's data (outside what it saw)."""
    day = AS_OF + dt.timedelta(days=DELAY)
    while not is_observation_day(day, sim.Scenario()):
        day += dt.timedelta(days=1)
    return day


DAY = eval_day()


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


class Lab:
    """The trained model and fresh populations to compare on."""

    def __init__(self, learners: int) -> None:
        self.train = World(learners=learners, seed=7, as_of=AS_OF)
        self.model = self.train.model

    def population(self, seed: int, learners: int):
        """(features, the model's logit of them, labels) of one day of a new population."""
        world = World(learners=learners, seed=seed, as_of=AS_OF)
        feats = world.features(world.clean, DAY)
        return feats, logit(predict(self.model, feats)), self.labels(seed, learners)

    @staticmethod
    def labels(seed: int, learners: int, intervention=None) -> pd.DataFrame:
        """The day's outcomes, maturing ``DELAY`` days later; flags act when ``intervention``."""
        scenario = sim.Scenario(learners=learners, seed=seed, intervention=intervention)
        return label_partition(DAY + dt.timedelta(days=DELAY), scenario)


def compare(ids, a, b, labels, capacity: int | None = None) -> Any:
    """``compare_shadow`` on one day's log (production ``a``, shadow ``b``) and its labels."""
    log = pd.DataFrame(
        {
            ENTITY: ids,
            "event_timestamp": stamp(DAY),
            "score": a,
            "model_version": "production",
            "shadow_score": b,
            "shadow_version": "shadow",
        }
    )
    return compare_shadow(
        log,
        labels,
        model="learner_risk",
        label=LABEL,
        as_of=DAY + dt.timedelta(days=DELAY),
        label_delay_days=DELAY,
        bootstrap=0,
        acting_capacity=capacity,
    )


def rate(hits: int, n: int) -> dict[str, Any]:
    """A share with its 95 % Wilson interval."""
    z = 1.96
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {
        "rate": p,
        "hits": hits,
        "n": n,
        "ci95": [max(0.0, centre - half), min(1.0, centre + half)],
    }


def null_noise(lab: Lab, p: dict[str, Any]) -> dict[str, Any]:
    better = worse = 0
    diffs = []
    for r in range(p["null"]):
        feats, s, labels = lab.population(10_000 + r, p["learners"])
        rng = np.random.default_rng(r)
        a = s + rng.normal(0, NOISE, len(s))
        b = s + rng.normal(0, NOISE, len(s))
        res = compare(feats[ENTITY].to_numpy(), a, b, labels)
        better += res.decision == BETTER
        worse += res.decision == WORSE
        diffs.append(res.roc_auc_difference)
    return {
        "false_win": rate(better, p["null"]),
        "decisive": rate(better + worse, p["null"]),
        "mean_difference": float(np.mean(diffs)),
        "learners": p["learners"],
    }


def null_refit(lab: Lab, p: dict[str, Any]) -> dict[str, Any]:
    train = lab.train.training_set
    better = worse = 0
    for r in range(p["refit"]):
        rows = np.random.default_rng(50_000 + r)
        ma = fit_model(train.iloc[rows.integers(0, len(train), len(train))])
        mb = fit_model(train.iloc[rows.integers(0, len(train), len(train))])
        feats, _, labels = lab.population(20_000 + r, p["learners"])
        res = compare(feats[ENTITY].to_numpy(), predict(ma, feats), predict(mb, feats), labels)
        better += res.decision == BETTER
        worse += res.decision == WORSE
    return {"false_win": rate(better, p["refit"]), "decisive": rate(better + worse, p["refit"])}


def calibrate_noise(lab: Lab, learners: int) -> tuple[float, float, float]:
    """The noise sd that makes production ``GAIN`` ROC AUC worse than the shadow (the model's
    logit plus ``NOISE``) on a large pool; both carry independent noise."""
    pools = [lab.population(90_000 + i, learners) for i in range(8)]
    s = np.concatenate([x[1] for x in pools])
    y = np.concatenate(
        [
            pd.DataFrame({ENTITY: x[0][ENTITY]}).merge(x[2], on=ENTITY, how="left")[LABEL]
            for x in pools
        ]
    )
    keep = ~np.isnan(y)
    s, y = s[keep], y[keep].astype(int)
    rng = np.random.default_rng(1)
    shadow = s + rng.normal(0, NOISE, len(s))
    z = rng.normal(0, 1, len(s))
    target = delong(y, shadow, shadow).auc_a
    low, high = NOISE, 5.0
    for _ in range(40):
        mid = (low + high) / 2
        gap = target - delong(y, s + mid * z, s).auc_a
        low, high = (mid, high) if gap < GAIN else (low, mid)
    sigma = (low + high) / 2
    return sigma, target, target - delong(y, s + sigma * z, s).auc_a


def power(lab: Lab, p: dict[str, Any]) -> dict[str, Any]:
    sigma, base, gap = calibrate_noise(lab, p["learners"])
    out: dict[str, Any] = {
        "noise_sd": sigma,
        "shadow_roc_auc": base,
        "true_gain": gap,
        "by_learners": {},
    }
    for n in p["sizes"]:
        wins, cut_wins, positives = 0, 0, []
        for r in range(p["power"]):
            feats, s, labels = lab.population(30_000 + 1000 * n + r, n)
            rng = np.random.default_rng(r)
            a, b = s + rng.normal(0, sigma, len(s)), s + rng.normal(0, NOISE, len(s))
            res = compare(feats[ENTITY].to_numpy(), a, b, labels)
            wins += res.decision == BETTER
            positives.append(res.positives)
            cut = compare(feats[ENTITY].to_numpy(), a, b, labels, int(CAPACITY_SHARE * n))
            cut_wins += cut.decision == BETTER
        out["by_learners"][str(n)] = {
            **rate(wins, p["power"]),
            "mean_positives": float(np.mean(positives)),
            "below_cut": rate(cut_wins, p["power"]),
        }
    return out


def _naive(y, fa, fb) -> tuple[float, bool]:
    """Adverse-outcome rate among each model's flagged learners (shadow minus production), and
    whether a two-proportion z-test calls the shadow better (its flags hit more outcomes)."""
    pa, pb = y[fa].mean(), y[fb].mean()
    pooled = y[fa | fb].mean() if (fa | fb).any() else 0.0
    se = math.sqrt(max(pooled * (1 - pooled) * (1 / fa.sum() + 1 / fb.sum()), 1e-12))
    z = (pb - pa) / se
    return pb - pa, z > NormalDist().inv_cdf(1 - ALPHA / 2)


def _efficacy_replicate(lab: Lab, n: int, r: int, acc: dict) -> None:
    seed = 40_000 + r
    feats, s, _ = lab.population(seed, n)
    rng = np.random.default_rng(r)
    a = s + rng.normal(0, EFFICACY_NOISE, len(s))
    b = s + rng.normal(0, EFFICACY_NOISE, len(s))
    ids = feats[ENTITY].to_numpy()
    fa = a >= np.quantile(a, 1 - FLAG_SHARE)
    fb = b >= np.quantile(b, 1 - FLAG_SHARE)
    order = ids[fa][np.argsort(-a[fa])]  # staff start with production's most at risk
    acc["overlap"].append(float((fa & fb).sum() / fa.sum()))
    for e in EFFICACIES:
        knob = sim.Intervention(e, int(CAPACITY_SHARE * n), {DAY: tuple(order.tolist())})
        labels = lab.labels(seed, n, knob)
        res = compare(ids, a, b, labels)
        y = pd.DataFrame({ENTITY: ids}).merge(labels, on=ENTITY, how="left")[LABEL].to_numpy()
        known = ~np.isnan(y)
        diff, win = _naive(y[known], fa[known], fb[known])
        acc[e]["naive"].append(diff)
        acc[e]["naive_win"] += int(win)
        acc[e]["paired"].append(res.roc_auc_difference)
        acc[e]["paired_win"] += int(res.decision == BETTER)
        cut = compare(ids, a, b, labels, capacity=int(CAPACITY_SHARE * n))
        acc[e]["cut"].append(cut.roc_auc_difference)
        acc[e]["cut_win"] += int(cut.decision == BETTER)


def efficacy(lab: Lab, p: dict[str, Any]) -> dict[str, Any]:
    acc: dict[Any, Any] = {
        e: {"naive": [], "naive_win": 0, "paired": [], "paired_win": 0, "cut": [], "cut_win": 0}
        for e in EFFICACIES
    }
    acc["overlap"] = []
    for r in range(p["efficacy"]):
        _efficacy_replicate(lab, p["learners"], r, acc)
    out: dict[str, Any] = {"flag_overlap": float(np.mean(acc["overlap"])), "by_efficacy": {}}
    for e in EFFICACIES:
        v = acc[e]
        out["by_efficacy"][str(e)] = {
            "naive_difference": float(np.mean(v["naive"])),
            "naive_sd": float(np.std(v["naive"], ddof=1)),
            "naive_false_win": rate(v["naive_win"], p["efficacy"]),
            "paired_difference": float(np.mean(v["paired"])),
            "paired_sd": float(np.std(v["paired"], ddof=1)),
            "paired_false_win": rate(v["paired_win"], p["efficacy"]),
            "below_cut_difference": float(np.mean(v["cut"])),
            "below_cut_sd": float(np.std(v["cut"], ddof=1)),
            "below_cut_false_win": rate(v["cut_win"], p["efficacy"]),
        }
    base = out["by_efficacy"]["0.0"]
    for e in EFFICACIES[1:]:
        row = out["by_efficacy"][str(e)]
        row["naive_bias"] = row["naive_difference"] - base["naive_difference"]
        row["paired_bias"] = row["paired_difference"] - base["paired_difference"]
        # in standard deviations of each estimate across populations: comparable scales
        row["naive_bias_in_sd"] = row["naive_bias"] / base["naive_sd"]
        row["paired_bias_in_sd"] = row["paired_bias"] / base["paired_sd"]
        row["below_cut_bias"] = row["below_cut_difference"] - base["below_cut_difference"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer replicates, under 3 minutes")
    args = parser.parse_args()
    p = QUICK if args.quick else FULL
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    lab = Lab(p["learners"])
    numbers: dict[str, Any] = {}
    for name, fn in (
        ("null_noise", null_noise),
        ("null_refit", null_refit),
        ("power", power),
        ("efficacy", efficacy),
    ):
        t0 = time.perf_counter()
        numbers[name] = fn(lab, p)
        numbers[name]["seconds"] = round(time.perf_counter() - t0, 1)
        print(f"{name}: {numbers[name]['seconds']} s", flush=True)
    numbers["seconds"] = round(time.perf_counter() - started, 1)
    params = {
        **p,
        "sizes": list(p["sizes"]),
        "alpha": ALPHA,
        "noise_sd": NOISE,
        "gain": GAIN,
        "flag_share": FLAG_SHARE,
        "capacity_share": CAPACITY_SHARE,
        "efficacies": list(EFFICACIES),
        "efficacy_noise_sd": EFFICACY_NOISE,
        "day": str(DAY),
        "model_as_of": str(AS_OF),
    }
    path = write_results("paired_quick" if args.quick else "paired", params, numbers, NOTES)
    print(summary(numbers))
    print(f"wrote {path}")


NOTES = [
    "Every comparison is compare_shadow (DeLong at alpha, two-sided; each learner once) on one "
    "observation day of a fresh simulated population; the model is eval_world's logistic "
    "regression trained once on 56 days of matured labels.",
    "efficacy: staff act on production's flags only (the shadow's flags are never acted on); "
    "the labels at efficacy 0 are the exact counterfactual of the others (same random numbers).",
]


def summary(n: dict[str, Any]) -> str:
    rows = [
        (
            "(a) false win, noise null",
            f"{n['null_noise']['false_win']['rate']:.3f}",
            f"<= {ALPHA / 2}",
        ),
        (
            "(a) better-or-worse, noise null",
            f"{n['null_noise']['decisive']['rate']:.3f}",
            f"<= {ALPHA}",
        ),
        (
            "(a) false win, bootstrap refits",
            f"{n['null_refit']['false_win']['rate']:.3f}",
            f"<= {ALPHA / 2}",
        ),
    ]
    for size, v in n["power"]["by_learners"].items():
        rows.append((f"(b) power, +{GAIN} ROC AUC, {size} learners", f"{v['rate']:.3f}", ">= 0.8"))
        rows.append(
            (f"(b) ... below the acting cut, {size} learners", f"{v['below_cut']['rate']:.3f}", "-")
        )
    for e, v in n["efficacy"]["by_efficacy"].items():
        rows.append(
            (
                f"(c) efficacy {e}: naive diff / false win",
                f"{v['naive_difference']:+.4f} / {v['naive_false_win']['rate']:.3f}",
                f"0 / <= {ALPHA / 2}",
            )
        )
        rows.append(
            (
                f"(c) efficacy {e}: paired diff / false win",
                f"{v['paired_difference']:+.4f} / {v['paired_false_win']['rate']:.3f}",
                f"0 / <= {ALPHA / 2}",
            )
        )
        rows.append(
            (
                f"(c) efficacy {e}: paired below the cut",
                f"{v['below_cut_difference']:+.4f} / {v['below_cut_false_win']['rate']:.3f}",
                f"0 / <= {ALPHA / 2}",
            )
        )
    return table(rows, ("question", "measured", "goal"))


if __name__ == "__main__":
    main()
