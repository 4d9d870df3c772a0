"""Evaluate bantay's drift decisions on the simulator's ground truth.

    python benchmarks/eval_drift.py            # full: 5 seeds, 6 features, 30 clean days
    python benchmarks/eval_drift.py --quick    # a few minutes: fewer seeds, features, days
    python benchmarks/eval_drift.py --cost-only  # the cost of one check at 5k and 50k learners
    python benchmarks/eval_drift.py --quick --loop-only  # only the closed-loop episodes

Every check is ``bantay.monitoring.drift.run_drift`` on the world of ``eval_world`` (prediction
logs, a trained model and its reference built like the pipeline's), and every retrain decision
is ``bantay.monitoring.guards.decide_retrain`` over the days as they come. Prints the goals with
the measured values and writes ``benchmarks/results/eval_drift[_quick].json``.

The closed loop (``eval_loop``) runs the shipped configuration day by day through a covariate
shift, a concept shift and a one-day shock: the checks, the guards, the Sunday schedule and the
retrains they trigger, each retrain publishing a model refit on all its rows with the reference
the training pipeline gives it; its rows measure how the loop answers a drift, not one check.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_loop import run_loop, table_rows  # noqa: E402
from eval_world import World  # noqa: E402

from bantay import simulate as sim  # noqa: E402
from bantay.settings.drift import DriftConfig, GuardConfig
from bantay.simulate.catalogue import LABEL, TIMESTAMP  # noqa: E402
from bantay.simulate.labels import is_observation_day  # noqa: E402
from bantay.vocabulary import Verdict

E = dt.date(2026, 11, 2)  # the first evaluated day; shifts and breaks start here
AS_OF = E - dt.timedelta(days=8)  # the production model was trained a week before
SIZES = (0.1, 0.2, 0.3, 0.5, 1.0)
SHIFT_FEATURES = (
    "study_minutes",
    "attendance_rate",
    "late_submissions",
    "messages_with_parent",
    "support_on_time_ratio",
    "quiz_score_avg",
)
BREAK_FEATURES = ("study_minutes", "attendance_rate", "messages_with_parent", "late_submissions")
BREAK_KINDS = ("nulls", "unit", "frozen", "stuck")
CFG = DriftConfig(target_column=LABEL)
GUARDS = GuardConfig()
TOLERANCE = 0.02  # the gate's max_regression


def day(k: int) -> dt.date:
    return E + dt.timedelta(days=k)


def check(world: World, scenario: sim.Scenario, d: dt.date, labelled=None):
    from bantay.monitoring.drift import run_drift

    return run_drift(
        world.reference,
        world.window(scenario, d, CFG.window_days),
        CFG,
        day=d,
        labelled=labelled,
        performance_tolerance=TOLERANCE,
    )


def false_alarms(worlds: list[World], days: int) -> dict[str, Any]:
    from bantay.monitoring.guards import DayRecord, decide_retrain

    flags = feature_days = drift_days = watch_days = retrains = checks = 0
    by_feature: dict[str, int] = {}
    for w in worlds:
        history: list[DayRecord] = []
        for k in range(days):
            r = check(w, w.clean, day(k))
            cols = [*r.features, *([r.prediction] if r.prediction else [])]
            for f in cols:
                feature_days += 1
                if f.drifted:
                    flags += 1
                    by_feature[f.column] = by_feature.get(f.column, 0) + 1
            drift_days += r.verdict is Verdict.DRIFT
            watch_days += r.verdict is Verdict.WATCH
            dec = decide_retrain(r.verdict, day(k), history, GUARDS)
            history.append(DayRecord(day(k), str(r.verdict), str(dec.action)))
            retrains += dec.triggers_retrain
            checks += 1
    return {
        "feature_days": feature_days,
        "flagged": flags,
        "rate": flags / feature_days,
        "by_feature": by_feature,
        "checks": checks,
        "drift_days": drift_days,
        "watch_days": watch_days,
        "retrains": retrains,
    }


def detection(worlds: list[World], features, sizes, max_days: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in sizes:
        trials = []
        for w in worlds:
            for feat in features:
                scenario = sim.Scenario(
                    learners=w.learners,
                    seed=w.seed,
                    covariate=(sim.CovariateShift((feat,), E, size),),
                )
                first = None
                wrong = set()
                for k in range(max_days):
                    r = check(w, scenario, day(k))
                    flagged = {f.column for f in r.features if f.drifted}
                    wrong |= flagged - {feat}
                    if r.verdict is Verdict.DRIFT and feat in flagged:
                        first = k + 1
                        break
                trials.append(
                    {"seed": w.seed, "feature": feat, "day": first, "others": sorted(wrong)}
                )
                w.forget(scenario)
        n = len(trials)
        out[str(size)] = {
            "trials": n,
            "by_day": {
                str(k): sum(t["day"] is not None and t["day"] <= k for t in trials) / n
                for k in range(1, max_days + 1)
            },
            "missed": [t for t in trials if t["day"] is None],
            "other_features_flagged": sum(bool(t["others"]) for t in trials),
        }
    return out


def broken_feeds(worlds: list[World], kinds, features, days: int) -> dict[str, Any]:
    from bantay.monitoring.guards import DayRecord, decide_retrain

    rows = []
    for w in worlds:
        for kind in kinds:
            for feat in features:
                scenario = sim.Scenario(
                    learners=w.learners, seed=w.seed, broken=(sim.BrokenFeed(feat, E, kind),)
                )
                history = [DayRecord(day(-i), "DRIFT", "guard_held:persistence") for i in (1, 2)]
                verdicts, retrains = [], 0
                for k in range(days):
                    r = check(w, scenario, day(k))
                    dec = decide_retrain(
                        r.verdict, day(k), history, GUARDS, data_quality_days=r.data_quality_days
                    )
                    history.append(DayRecord(day(k), str(r.verdict), str(dec.action)))
                    retrains += dec.triggers_retrain
                    named = feat in r.broken_columns
                    verdicts.append((str(r.verdict), named))
                rows.append(
                    {
                        "seed": w.seed,
                        "kind": kind,
                        "feature": feat,
                        "verdicts": verdicts,
                        "retrains": retrains,
                    }
                )
                w.forget(scenario)
    n = len(rows)
    dq = lambda v: v[0] == "DATA QUALITY" and v[1]  # noqa: E731
    return {
        "trials": n,
        "first_day_dq": sum(dq(r["verdicts"][0]) for r in rows) / n,
        "by_day_dq": [sum(dq(r["verdicts"][k]) for r in rows) / n for k in range(days)],
        "by_kind_first_day": {
            kind: sum(dq(r["verdicts"][0]) for r in rows if r["kind"] == kind)
            / max(1, sum(r["kind"] == kind for r in rows))
            for kind in kinds
        },
        "retrains": sum(r["retrains"] for r in rows),
        "misses": [r for r in rows if not all(dq(v) for v in r["verdicts"])],
    }


def _labelled(world: World, scenario: sim.Scenario, d: dt.date):
    import pandas as pd

    labels = world.labels(scenario, d, d - dt.timedelta(days=CFG.label_lookback_days))
    if labels.empty:
        return None
    logs = []
    for ts in sorted(labels[TIMESTAMP].unique()):
        obs = pd.Timestamp(ts).date()
        if obs >= world.as_of:  # the production model's own prediction log
            logs.append(world.prediction_log(world.clean, obs))
    if not logs:
        return None
    return pd.concat(logs, ignore_index=True).merge(labels, on=["learner_id", TIMESTAMP])


def concept(worlds: list[World], size: float, days_after: int) -> dict[str, Any]:
    trials = []
    for w in worlds:
        scenario = sim.Scenario(learners=w.learners, seed=w.seed, concept=sim.ConceptShift(E, size))
        first_obs = next(d for d in (day(i) for i in range(7)) if is_observation_day(d, scenario))
        matures = first_obs + dt.timedelta(days=scenario.label_delay_days)
        flagged, before, aucs = None, 0, []
        for k in range(-2, days_after + 1):
            d = matures + dt.timedelta(days=k)
            r = check(w, w.clean, d, labelled=_labelled(w, scenario, d))
            if r.performance:
                aucs.append(
                    (str(d), round(r.performance.current, 3), round(r.performance.reference, 3))
                )
            if r.verdict is Verdict.PERFORMANCE:
                if d < matures:
                    before += 1
                elif flagged is None:
                    flagged = k
        trials.append(
            {
                "seed": w.seed,
                "matures": str(matures),
                "delay": flagged,
                "early": before,
                "auc": aucs,
            }
        )
    return {
        "trials": trials,
        "max_delay": max((t["delay"] if t["delay"] is not None else 99) for t in trials),
    }


def cost(learners: int, seed: int) -> dict[str, float]:
    from bantay.monitoring.drift import run_drift

    w = World(learners=learners, seed=seed, as_of=AS_OF)
    t0 = time.perf_counter()
    ref, window = w.reference, w.window(w.clean, day(0), CFG.window_days)
    build = time.perf_counter() - t0
    check(w, w.clean, day(0))  # warm imports
    t0, c0 = time.perf_counter(), time.process_time()
    r = run_drift(ref, window, CFG, day=day(0))
    decide, decide_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    r.html("<div>banner</div>")
    r.json()
    report, report_cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "learners": learners,
        "window_rows": len(window),
        "decision_s": round(decide, 2),
        "report_s": round(report, 2),
        "check_s": round(decide + report, 2),
        "check_cpu_s": round(decide_cpu + report_cpu, 2),
        "world_build_s": round(build, 1),
        "load_average": round(__import__("os").getloadavg()[0], 1),
    }


def cost_only(seed: int, out: str) -> int:
    """Each size three times after the warm-up; the median run by wall time is reported."""
    res = {}
    for learners in (5000, 50000):
        runs = sorted((cost(learners, seed) for _ in range(3)), key=lambda r: r["check_s"])
        res[str(learners)] = {"median": runs[1], "runs": runs}
        m = runs[1]
        print(
            f"{learners:>6} learners ({m['window_rows']:,} window rows): check {m['check_s']} s "
            f"wall, {m['check_cpu_s']} s CPU (decision {m['decision_s']} s, report "
            f"{m['report_s']} s), load average {m['load_average']}"
        )
    path = Path(__file__).resolve().parent / "results" / out
    path.write_text(json.dumps({"seed": seed, "cost": res}, indent=2))
    print(f"results: {path}")
    return 0


def evaluate(args, seeds: list[int], worlds: list[World]) -> dict[str, Any]:
    """The fixed-model rows: false alarms, detection, broken feeds, concept shift, cost."""
    quick = args.quick
    res: dict[str, Any] = {}
    res["false_alarms"] = false_alarms(worlds, 10 if quick else 30)
    feats = args.features or (SHIFT_FEATURES[:3] if quick else SHIFT_FEATURES)
    breaks = args.break_features or (BREAK_FEATURES[:2] if quick else BREAK_FEATURES)
    res["detection"] = detection(worlds, feats, SIZES, 7)
    res["broken"] = broken_feeds(
        worlds[:1] if quick else worlds[:3],
        BREAK_KINDS,
        breaks,
        3 if quick else 7,
    )
    res["concept"] = concept(worlds[:1] if quick else worlds[:3], 0.8, 7)
    res["cost"] = [cost(5000, seeds[0]), cost(50000, seeds[0])]
    res["features"], res["break_features"] = list(feats), list(breaks)
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds, features and days")
    parser.add_argument("--seeds", type=int, nargs="*", help="override the seeds")
    parser.add_argument("--features", nargs="*", help="override the shifted features")
    parser.add_argument("--break-features", nargs="*", help="override the broken features")
    parser.add_argument("--out", help="results file name under benchmarks/results/")
    parser.add_argument(
        "--cost-only",
        action="store_true",
        help="only the cost of one check at 5k and 50k learners (median of 3 each)",
    )
    parser.add_argument("--loop-only", action="store_true", help="only the closed-loop episodes")
    parser.add_argument("--loop-days", type=int, help="days followed after a drift starts")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    quick = args.quick
    seeds = args.seeds or ([101, 102] if quick else [101, 102, 103, 104, 105])
    if args.cost_only:
        return cost_only(seeds[0], args.out or "eval_drift_cost.json")
    started = time.perf_counter()
    worlds = [World(learners=5000, seed=s, as_of=AS_OF) for s in seeds]
    res: dict[str, Any] = {"seeds": seeds, "quick": quick, "learners": 5000}
    if not args.loop_only:
        res |= evaluate(args, seeds, worlds)
    days = args.loop_days or (28 if quick else 35)
    res["loop"] = run_loop(worlds, E, args.features or SHIFT_FEATURES, days)
    res["seconds"] = round(time.perf_counter() - started)
    print(table(res))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    name = "eval_drift_loop" if args.loop_only else "eval_drift"
    path = out / (args.out or f"{name}{'_quick' if quick else ''}.json")
    path.write_text(json.dumps(res, indent=2, default=str))
    print(f"\nresults: {path}")
    return 0


def table(res: dict[str, Any]) -> str:
    lines = ["| goal | measured |", "| --- | --- |"]
    if "false_alarms" in res:
        lines += fixed_rows(res)
    lines += table_rows(res["loop"])
    if "detection" in res:
        lines += detection_lines(res)
    lines.append(f"run time {res['seconds']} s, seeds {res['seeds']}")
    return "\n".join(lines)


def fixed_rows(res: dict[str, Any]) -> list[str]:
    fa, det, br, co = res["false_alarms"], res["detection"], res["broken"], res["cost"]
    d03 = det["0.3"]["by_day"]
    delay = res["concept"]["max_delay"]
    return [
        f"| false alarms <= 1 % of feature-days | {fa['rate']:.2%} ({fa['flagged']} of "
        f"{fa['feature_days']}); DRIFT days {fa['drift_days']} of {fa['checks']}, "
        f"WATCH {fa['watch_days']}, retrains {fa['retrains']} |",
        f"| 0.3 SD one feature: DRIFT within 2 days in >= 95 % | {d03['2']:.0%} "
        f"(day 1 {d03['1']:.0%}; {det['0.3']['trials']} trials) |",
        f"| broken feed DATA QUALITY on its first day, 100 % | {br['first_day_dq']:.0%} of "
        f"{br['trials']} ({', '.join(f'{k} {v:.0%}' for k, v in br['by_kind_first_day'].items())}) |",
        f"| zero retrains on broken feeds | {br['retrains']} |",
        f"| concept shift flagged within 7 days of matured labels | worst delay {delay} days "
        f"({len(res['concept']['trials'])} seeds) |",
        f"| a check <= 5 s at 50k learners | {co[1]['check_s']} s wall, {co[1]['check_cpu_s']} s "
        f"CPU (decision {co[1]['decision_s']} s + report {co[1]['report_s']} s; load average "
        f"{co[1]['load_average']}); 5k: {co[0]['check_s']} s wall, {co[0]['check_cpu_s']} s CPU |",
    ]


def detection_lines(res: dict[str, Any]) -> list[str]:
    det, br = res["detection"], res["broken"]
    lines = [
        "",
        "detection by day (share of trials with DRIFT on the shifted feature by day k):",
        "| SD | " + " | ".join(f"day {k}" for k in range(1, 8)) + " | other features flagged |",
        "| --- |" + " --- |" * 8,
    ]
    for size, v in det.items():
        cells = " | ".join(f"{v['by_day'][str(k)]:.0%}" for k in range(1, 8))
        lines.append(f"| {size} | {cells} | {v['other_features_flagged']} of {v['trials']} |")
    lines.append("")
    lines.append(
        "broken feeds, DATA QUALITY by day: "
        + ", ".join(f"day {k + 1} {x:.0%}" for k, x in enumerate(br["by_day_dq"]))
    )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
