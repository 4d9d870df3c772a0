"""Evaluate the daily fairness and attribution-drift signals on the simulator's ground truth.

    python benchmarks/eval_fairness.py            # full: 5 seeds, 5,000 learners
    python benchmarks/eval_fairness.py --quick    # under 3 minutes: 3 seeds, 3,000 learners
    python benchmarks/eval_fairness.py --size 1.0 # a stronger fairness shift

The model is bantay's own logistic-regression pipeline (``bantay.training.pipeline``) trained on
56 days of matured labels of the evaluation world (``eval_world``), explained as the training
DAG explains a version (``version_explanation``: mean |attribution| on its newest two
observation days of labelled rows, its time-split test set). Every
judgement is the daily check's own: ``judge_fairness`` (flag rates of the day's log; recall
gaps on the matured labels, scored by the model that served them) and ``attribution_drift``.

(a) fairness regression: from day E the labels of one region depend less on the features
    (``FairnessShift``); the first observation day's labels mature 14 days later. The days
    from that maturity until a regressed slice is flagged (goal: within 7 days), and any flag
    before it.
(b) no FAIRNESS on a fair model: the clean world over the same days, every seed; the count of
    days with a regressed slice (goal: 0).
(c) attribution drift: ``ImportanceShift`` spreads (factor > 1) or contracts (< 1) the most
    important feature from day E; on E+1, the NDCG of today's importance ranking, the feature's
    relative change, whether the attribution signal fired (NDCG alarm or a change beyond
    ``attribution_change``), and whether the input drift test flagged the feature (eval_drift's
    configuration). A clean day gives the false-alarm baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
from _bench import write_results  # noqa: E402
from eval_world import World  # noqa: E402

from bantay import simulate as sim  # noqa: E402
from bantay.monitoring.attribution import attribution_drift  # noqa: E402
from bantay.monitoring.drift import run_drift  # noqa: E402
from bantay.monitoring.fairness import judge_fairness  # noqa: E402
from bantay.serving.reasons import attribution_columns  # noqa: E402
from bantay.settings.drift import DriftConfig, FairnessConfig  # noqa: E402
from bantay.simulate.catalogue import CATEGORICAL, LABEL, NUMERICAL, TIMESTAMP  # noqa: E402
from bantay.simulate.labels import is_observation_day  # noqa: E402
from bantay.training.evaluation import evaluate  # noqa: E402
from bantay.training.explain import Explainer, version_explanation  # noqa: E402
from bantay.training.pipeline import fit_final  # noqa: E402

E = dt.date(2026, 11, 2)
AS_OF = E - dt.timedelta(days=8)
FEATURES = [*NUMERICAL, *CATEGORICAL]
LOGREG = {"trial_id": "logreg", "name": "logreg", "estimator": "logistic_regression", "params": {}}
SLICES = ["region", "grade_band", "parent_abroad"]
ALLOWED_GAP = 0.25  # the gate's max_recall_gap
FAIR = FairnessConfig()
DRIFT = DriftConfig(target_column=LABEL)
FACTORS = (0.5, 0.8, 0.9, 1.1, 1.25, 1.5, 2.0)
QUICK_FACTORS = (0.5, 0.9, 1.1, 2.0)


class Version:
    """The world's production version: model, decision threshold, manifest, explainer."""

    def __init__(self, world: World) -> None:
        train = world.training_set
        self.model = fit_final(
            LOGREG, train, {"numerical": NUMERICAL, "categorical": CATEGORICAL}, label_col=LABEL
        )
        world.__dict__["model"] = self.model  # the world's logs are scored by this version
        found = evaluate(train[LABEL].astype(int), world.score(train))["threshold_at_precision"]
        self.threshold = float(found) if found is not None else 0.5
        # Explained on its newest labelled rows, as a version is on its time-split test set.
        test = train[train[TIMESTAMP] >= sorted(train[TIMESTAMP].unique())[-2]]
        explanation = version_explanation(self.model, train, test, FEATURES)
        self.manifest = {"version": "v1", "explanation": explanation}
        self.explainer = Explainer(self.model, FEATURES, baseline=explanation["baseline"])

    def explained(self, log: pd.DataFrame) -> pd.DataFrame:
        attributions = self.explainer.explain(self.explainer.transform(log), with_margin=False)
        return log.join(attribution_columns(attributions, log.index))


def labelled(world: World, scenario: sim.Scenario, d: dt.date) -> pd.DataFrame | None:
    """Labels matured by ``d`` (42 days back) joined with the prediction logs that scored them."""
    labels = world.labels(scenario, d, d - dt.timedelta(days=42))
    days = sorted({pd.Timestamp(ts).date() for ts in labels[TIMESTAMP].unique()})
    logs = [world.prediction_log(world.clean, o) for o in days if o >= world.as_of]
    if not logs:
        return None
    return pd.concat(logs, ignore_index=True).merge(labels, on=["learner_id", TIMESTAMP])


def fairness_days(world: World, version: Version, scenario: sim.Scenario, days) -> list[dict]:
    out = []
    for d in days:
        check = judge_fairness(
            world.prediction_log(world.clean, d),
            labelled(world, scenario, d),
            SLICES,
            version.threshold,
            FAIR,
            allowed_gap=ALLOWED_GAP,
            target=LABEL,
        )
        worst = max(check.recalls, key=lambda r: r.gap or 0.0, default=None)
        out.append(
            {
                "day": str(d),
                "regressed": [f"{r.slice}={r.group}" for r in check.regressed],
                "worst": None
                if worst is None or worst.gap is None
                else {
                    "slice": f"{worst.slice}={worst.group}",
                    "recall": round(worst.recall, 3),
                    "gap": round(worst.gap, 3),
                    "gap_interval": [round(worst.gap_low, 3), round(worst.gap_high, 3)],
                },
                "below_four_fifths": [f"{r.slice}={r.group}" for r in check.below_ratio],
            }
        )
    return out


def fairness_trials(worlds: list[tuple[World, Version]], size: float) -> dict[str, Any]:
    """(a) and (b): the shifted region's regression flagged, and the clean world never."""
    trials, clean_flags, clean_days = [], 0, 0
    region = sim.catalogue.REGIONS[1]  # the largest region
    for world, version in worlds:
        scenario = sim.Scenario(
            learners=world.learners, seed=world.seed, fairness=sim.FairnessShift(region, E, size)
        )
        first = next(
            E + dt.timedelta(days=i)
            for i in range(7)
            if is_observation_day(E + dt.timedelta(days=i), scenario)
        )
        matures = first + dt.timedelta(days=scenario.label_delay_days)
        days = [matures + dt.timedelta(days=k) for k in range(-2, 8)]
        shifted = fairness_days(world, version, scenario, days)
        hits = [
            k
            for k, row in zip(range(-2, 8), shifted, strict=True)
            if f"region={region}" in row["regressed"]
        ]
        clean = fairness_days(world, version, world.clean, days)
        clean_days += len(clean)
        clean_flags += sum(bool(row["regressed"]) for row in clean)
        trials.append(
            {
                "seed": world.seed,
                "matures": str(matures),
                "delay_days": next((k for k in hits if k >= 0), None),
                "early_flags": sum(k < 0 for k in hits),
                "days": shifted,
                "clean_regressed_days": [row["day"] for row in clean if row["regressed"]],
            }
        )
    delays = [t["delay_days"] for t in trials]
    return {
        "region": region,
        "size": size,
        "trials": trials,
        "flagged_within_7_days": sum(d is not None and d <= 7 for d in delays),
        "max_delay_days": max((d if d is not None else 99) for d in delays),
        "fair_model_days": clean_days,
        "fair_model_fairness_days": clean_flags,
    }


def attribution_trials(worlds: list[tuple[World, Version]], factors) -> dict[str, Any]:
    """(c): the importance shift of the most important feature, per factor, on day E+1."""
    rows = []
    d = E + dt.timedelta(days=1)
    for world, version in worlds:
        ranking = version.manifest["explanation"]["global"]["mean_abs_attribution"]
        top = max(ranking, key=ranking.get)
        for factor in (1.0, *factors):
            knob = () if factor == 1.0 else (sim.ImportanceShift((top,), E, factor),)
            scenario = sim.Scenario(learners=world.learners, seed=world.seed, importance=knob)
            today = version.explained(world.prediction_log(scenario, d))
            yesterday = version.explained(world.prediction_log(scenario, d - dt.timedelta(days=1)))
            check = attribution_drift(today, yesterday, version.manifest, version.threshold, FAIR)
            drift = run_drift(
                world.reference, world.window(scenario, d, DRIFT.window_days), DRIFT, day=d
            )
            feature = next(f for f in drift.features if f.column == top)
            lean = next(f for f in check.features if f.feature == top)
            rows.append(
                {
                    "seed": world.seed,
                    "feature": top,
                    "factor": factor,
                    "ndcg": round(check.ndcg, 4),
                    "change": round(lean.change, 3),
                    "attribution_fired": check.drifted
                    or bool(check.leaning_more or check.leaning_less),
                    "ndcg_alarm": check.drifted,
                    "input_drift_score": round(feature.score, 4)
                    if feature.score is not None
                    else None,
                    "input_drifted": feature.drifted,
                }
            )
            world.forget(scenario)
    return {"rows": rows, **_attribution_summary(rows)}


def _attribution_summary(rows: list[dict]) -> dict[str, Any]:
    by: dict[float, list[dict]] = {}
    for r in rows:
        by.setdefault(r["factor"], []).append(r)
    return {
        "by_factor": {
            str(f): {
                "attribution_fired": sum(r["attribution_fired"] for r in rs),
                "ndcg_alarm": sum(r["ndcg_alarm"] for r in rs),
                "input_drifted": sum(r["input_drifted"] for r in rs),
                "fired_while_inputs_within_threshold": sum(
                    r["attribution_fired"] and not r["input_drifted"] for r in rs
                ),
                "trials": len(rs),
                "mean_change": round(sum(r["change"] for r in rs) / len(rs), 3),
                "min_ndcg": min(r["ndcg"] for r in rs),
            }
            for f, rs in sorted(by.items())
        }
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds, 3,000 learners, 4 factors")
    parser.add_argument("--size", type=float, default=0.8, help="the fairness shift's size")
    parser.add_argument("--label-days", type=int, help="days of labels judged (default: config)")
    parser.add_argument("--only", choices=("fairness", "attribution"), help="run one part")
    args = parser.parse_args(argv)
    if args.label_days:
        global FAIR
        FAIR = FAIR.model_copy(update={"label_days": args.label_days})
    warnings.filterwarnings("ignore")
    seeds, learners = ([1, 2, 3], 3_000) if args.quick else ([1, 2, 3, 4, 5], 5_000)
    started = time.monotonic()
    worlds = []
    for seed in seeds:
        world = World(learners=learners, seed=seed, as_of=AS_OF)
        worlds.append((world, Version(world)))
    fairness = attribution = None
    if args.only != "attribution":
        fairness = fairness_trials(worlds, args.size)
    if args.only != "fairness":
        attribution = attribution_trials(worlds, QUICK_FACTORS if args.quick else FACTORS)
    seconds = round(time.monotonic() - started, 1)
    name = "fairness_quick" if args.quick else "fairness"
    path = write_results(
        name,
        {
            "seeds": seeds,
            "learners": learners,
            "fairness_size": args.size,
            "slices": SLICES,
            "allowed_gap": ALLOWED_GAP,
            "fairness_config": FAIR.model_dump(),
        },
        {"fairness": fairness, "attribution": attribution, "seconds": seconds},
    )
    print(_summary(fairness, attribution, seconds))
    print(f"wrote {path}")
    return 0


def _summary(fairness: dict[str, Any], attribution: dict[str, Any], seconds: float) -> str:
    n = len(fairness["trials"])
    lines = [
        f"(a) fairness regression flagged within 7 days of labels maturing: "
        f"{fairness['flagged_within_7_days']}/{n} (max delay {fairness['max_delay_days']} days; "
        f"early flags {sum(t['early_flags'] for t in fairness['trials'])})",
        f"(b) FAIRNESS on the fair model: {fairness['fair_model_fairness_days']} of "
        f"{fairness['fair_model_days']} days",
        "(c) attribution drift by factor (fired / NDCG alarm / input drifted / fired while "
        "inputs within threshold, mean change, min NDCG):",
    ]
    for factor, row in attribution["by_factor"].items():
        lines.append(
            f"    x{factor}: {row['attribution_fired']}/{row['ndcg_alarm']}/{row['input_drifted']}/"
            f"{row['fired_while_inputs_within_threshold']} of {row['trials']}, "
            f"{row['mean_change']:+.2f}, {row['min_ndcg']:.3f}"
        )
    lines.append(f"{seconds} s")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
