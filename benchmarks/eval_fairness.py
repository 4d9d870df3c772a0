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
(c) attribution drift, for each shipped model family (logistic regression, gradient boosting),
    against the version's explained drift reference over the 7-day drift window, as the daily
    check judges it: ``Decoupling`` hands the most important feature between a share of the
    learners from day E (its distribution unchanged: no input test can see it), and
    ``ImportanceShift`` spreads it by a factor near 1 (within its input threshold). Per knob
    the first day the attribution signal alarms, whether any input feature drifted that day
    (the input test of eval_drift's configuration), and on the clean world the days it alarms
    over the 15 days around E (goal: none).
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
HGB = {"trial_id": "hgb", "name": "hgb", "estimator": "hist_gradient_boosting", "params": {}}
FAMILIES = {"logistic_regression": LOGREG, "hist_gradient_boosting": HGB}
KNOBS = (("decouple", 1.0), ("decouple", 0.5), ("spread", 1.1), ("spread", 0.9))


class Version:
    """A version of the world: model, decision threshold, manifest (its explanation with the
    drift reference's), explainer. The serving one scores the world's prediction logs."""

    def __init__(self, world: World, trial: dict = LOGREG, serves: bool = True) -> None:
        train = world.training_set
        self.model = fit_final(
            trial, train, {"numerical": NUMERICAL, "categorical": CATEGORICAL}, label_col=LABEL
        )
        if serves:
            world.__dict__["model"] = self.model  # the world's logs are scored by this version
        score = self.model.predict_proba(train[FEATURES])[:, 1]
        found = evaluate(train[LABEL].astype(int), score)["threshold_at_precision"]
        self.threshold = float(found) if found is not None else 0.5
        # Explained on its newest labelled rows, as a version is on its time-split test set,
        # and on its drift reference, as training records it.
        test = train[train[TIMESTAMP] >= sorted(train[TIMESTAMP].unique())[-2]]
        explanation = version_explanation(
            self.model, train, test, FEATURES, reference=world.reference, threshold=self.threshold
        )
        self.manifest = {"version": "v1", "explanation": explanation}
        self.explainer = Explainer(self.model, FEATURES, baseline=explanation["baseline"])
        self._logs: dict = {}

    def explained(self, log: pd.DataFrame) -> pd.DataFrame:
        attributions = self.explainer.explain(self.explainer.transform(log), with_margin=False)
        return log.join(attribution_columns(attributions, log.index))

    def log(self, world: World, scenario: sim.Scenario, d: dt.date) -> pd.DataFrame:
        """The day's prediction log as this version writes it: score and attributions."""
        key = (id(scenario), d)
        if key not in self._logs:
            frame = world.features(scenario, d).copy()
            frame.insert(1, TIMESTAMP, pd.Timestamp(d, tz="UTC"))
            score, attributions = self.explainer.scored(self.explainer.transform(frame))
            frame["score"] = score
            self._logs[key] = frame.join(attribution_columns(attributions, frame.index))
        return self._logs[key]

    def forget(self) -> None:
        self._logs.clear()


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


def _check(world: World, version: Version, scenario: sim.Scenario, d: dt.date):
    window = pd.concat(
        [version.log(world, scenario, d - dt.timedelta(days=i)) for i in range(7)],
        ignore_index=True,
    )
    today = version.log(world, scenario, d)
    yesterday = version.log(world, scenario, d - dt.timedelta(days=1))
    return attribution_drift(window, today, yesterday, version.manifest, version.threshold, FAIR)


def _inputs_drifted(world: World, scenario: sim.Scenario, d: dt.date) -> list[str]:
    drift = run_drift(world.reference, world.window(scenario, d, DRIFT.window_days), DRIFT, day=d)
    return [f.column for f in drift.features if f.drifted and f.column != "score"]


def _knob(world: World, kind: str, size: float, feature: str) -> sim.Scenario:
    if kind == "decouple":
        knob = {"decoupling": (sim.Decoupling((feature,), E, size),)}
    else:
        knob = {"importance": (sim.ImportanceShift((feature,), E, size),)}
    return sim.Scenario(learners=world.learners, seed=world.seed, **knob)


def attribution_trials(worlds: list[tuple[World, Version]]) -> dict[str, Any]:
    """(c): per model family and knob, the first alarm after E; the clean world's alarms."""
    rows = []
    for world, serving in worlds:
        for family, trial in FAMILIES.items():
            version = serving if trial is LOGREG else Version(world, trial, serves=False)
            ranking = version.manifest["explanation"]["reference"]["mean_abs_attribution"]
            top = max(ranking, key=ranking.get)
            clean_days = [E + dt.timedelta(days=k) for k in range(-7, 8)]
            clean = [_check(world, version, world.clean, d) for d in clean_days]
            rows.append(
                {
                    "seed": world.seed,
                    "family": family,
                    "knob": "clean",
                    "alarm_days": [
                        str(d) for d, c in zip(clean_days, clean, strict=True) if c.drifted
                    ],
                    "max_shift": round(max(c.shift or 0 for c in clean), 4),
                    "max_flagged_shift": round(max(c.flagged_shift or 0 for c in clean), 4),
                    "days": len(clean_days),
                }
            )
            for kind, size in KNOBS:
                scenario = _knob(world, kind, size, top)
                checks = [
                    (k, _check(world, version, scenario, E + dt.timedelta(days=k)))
                    for k in range(8)
                ]
                first = next(((k, c) for k, c in checks if c.drifted), None)
                at = E + dt.timedelta(days=first[0] if first else 7)
                last = checks[-1][1]
                rows.append(
                    {
                        "seed": world.seed,
                        "family": family,
                        "knob": f"{kind} {size:g}",
                        "feature": top,
                        "delay_days": first[0] if first else None,
                        "inputs_drifted_that_day": _inputs_drifted(world, scenario, at),
                        "shift_day_7": round(last.shift or 0, 4),
                        "flagged_shift_day_7": round(last.flagged_shift or 0, 4),
                        "ndcg_day_7": round(last.ndcg, 4),
                        "leaning_more": [f.feature for f in last.leaning_more],
                        "leaning_less": [f.feature for f in last.leaning_less],
                    }
                )
                world.forget(scenario)
            version.forget()
    return {"rows": rows, **_attribution_summary(rows)}


def _attribution_summary(rows: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in rows:
        entry = out.setdefault(f"{r['family']} / {r['knob']}", {"trials": 0})
        entry["trials"] += 1
        if r["knob"] == "clean":
            entry["alarm_days"] = entry.get("alarm_days", 0) + len(r["alarm_days"])
            entry["days"] = entry.get("days", 0) + r["days"]
            entry["max_shift"] = max(
                entry.get("max_shift", 0), r["max_shift"], r["max_flagged_shift"]
            )
            continue
        fired = r["delay_days"] is not None
        entry["detected"] = entry.get("detected", 0) + fired
        entry["detected_inputs_within_thresholds"] = entry.get(
            "detected_inputs_within_thresholds", 0
        ) + (fired and not r["inputs_drifted_that_day"])
        delays = entry.setdefault("delays", [])
        delays.append(r["delay_days"])
    return {"by_family_and_knob": out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds, 3,000 learners")
    parser.add_argument("--size", type=float, default=0.8, help="the fairness shift's size")
    parser.add_argument("--label-days", type=int, help="days of labels judged (default: config)")
    parser.add_argument("--only", choices=("fairness", "attribution"), help="run one part")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds (default 1-5; quick 1-3)")
    args = parser.parse_args(argv)
    if args.label_days:
        global FAIR
        FAIR = FAIR.model_copy(update={"label_days": args.label_days})
    warnings.filterwarnings("ignore")
    seeds, learners = ([1, 2, 3], 3_000) if args.quick else ([1, 2, 3, 4, 5], 5_000)
    seeds = args.seeds or seeds
    started = time.monotonic()
    worlds = []
    for seed in seeds:
        world = World(learners=learners, seed=seed, as_of=AS_OF)
        worlds.append((world, Version(world)))
    fairness = attribution = None
    if args.only != "attribution":
        fairness = fairness_trials(worlds, args.size)
    if args.only != "fairness":
        attribution = attribution_trials(worlds)
    seconds = round(time.monotonic() - started, 1)
    name = "fairness_quick" if args.quick else "fairness"
    name += f"_{args.only}" if args.only and args.only != "fairness" else ""
    name += f"_size{args.size:g}" if args.size != 0.8 else ""
    name += f"_seeds{min(seeds)}-{max(seeds)}" if args.seeds else ""
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


def _summary(
    fairness: dict[str, Any] | None, attribution: dict[str, Any] | None, seconds: float
) -> str:
    lines = []
    if fairness:
        n = len(fairness["trials"])
        lines += [
            f"(a) fairness regression (size {fairness['size']}) flagged within 7 days of labels "
            f"maturing: {fairness['flagged_within_7_days']}/{n} (max delay "
            f"{fairness['max_delay_days']} days; early flags "
            f"{sum(t['early_flags'] for t in fairness['trials'])})",
            f"(b) FAIRNESS on the fair model: {fairness['fair_model_fairness_days']} of "
            f"{fairness['fair_model_days']} days",
        ]
    if attribution:
        lines.append("(c) attribution drift (detected / with no input drifted that day; delays):")
        for name, row in attribution["by_family_and_knob"].items():
            if "days" in row:
                lines.append(
                    f"    {name}: alarms on {row['alarm_days']} of {row['days']} days "
                    f"(largest shift {row['max_shift']:.4f})"
                )
            else:
                lines.append(
                    f"    {name}: {row['detected']}/{row['trials']}, "
                    f"{row['detected_inputs_within_thresholds']}/{row['trials']}; {row['delays']}"
                )
    lines.append(f"{seconds} s")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
