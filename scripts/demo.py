"""``make demo``: the whole bantay lifecycle on embedded defaults, through Airflow's real scheduler.

Local stand-ins on loopback (an S3 endpoint, an SMTP sink keeping .eml files), Airflow's
scheduler, dag-processor, triggerer and API server (LocalExecutor; metadata on PostgreSQL when
one answers on 127.0.0.1:5432, else an embedded PostgreSQL, else SQLite: see airflow_local.py),
the feature repo applied, 80 simulated days of 2,000 learners with a covariate drift near the end, then:

  feature backfill -> first training and promotion -> features and scoring of the days up to
  the drifted outcomes' maturing (one catch-up run) -> each day's drift report + e-mail in turn
  -> drift confirmed -> (Asset) retraining -> new version promoted -> the days after it: features
  -> (Asset) scoring -> drift, so each is scored by the model that serves then

While it runs it prints the phase, the day, the elapsed time and what the scheduler is doing.
It ends with a summary and leaves Airflow running so you can look around; ``make stop`` (or the
next ``make demo``) stops it. Everything lives under ``.demo/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from airflow_api import Api, ApiError, ApiGaveUp
from airflow_local import BIN, LocalAirflow

ROOT = Path(__file__).resolve().parents[1]
DEMO = Path(os.environ.get("BANTAY_DEMO_DIR", ROOT / ".demo")).resolve()
MODEL = "learner_risk"
TRAINING = f"bantay_training_{MODEL}"
# The second model shows that models are configuration: its own label, feature service and DAG.
# It is trained, scored and watched like the first; its drift retrains are held (a weekly limit
# of 0) so the demo's one retraining story stays the first model's.
SECOND = "learner_engagement"
SECOND_TRAINING = f"bantay_training_{SECOND}"
SHIFTED = "study_minutes,quiz_score_avg"
# From the drift's first day the inputs move (SHIFTED by 2 standard deviations) and the outcome
# depends less on them (a concept shift of CONCEPT). Inputs that move alone leave this model's
# quality intact (ROC AUC 0.84 either way), and then bantay offers a re-baseline instead of a
# retrain; the retraining story needs the quality drop that the matured labels show (0.84 to
# 0.72 at this size).
CONCEPT = 0.5
# Days between a term outcome's observation and its maturing (the simulator's default is 14):
# the drift retrain waits for the drifted day's outcomes, a week, so by then the new regime spans
# every weekday and the retrained model's reference can be compared day by day.
LABEL_DELAY = 7
# Drifted days in the demo: the drift's first LABEL_DELAY days, the day its outcomes mature (the
# retrain), and two days after the retrain, when the alarm clears.
DRIFTED_DAYS = LABEL_DELAY + 3
TI_KEYS = ("dag_id", "dag_run_id", "task_id", "map_index", "state", "hostname", "pid")
# The demo answers a request no sooner than a person would. Answered within a second or two,
# the resumed task can meet the executor's late "success" event of its deferring attempt, which
# the scheduler then takes for a lost task and fails; that event comes at most a second or so
# after the deferral now that a supervisor waits at most 1 s for its task's exit.
APPROVAL_AFTER = dt.timedelta(seconds=8)
APPROVAL_NOTE = "gate table read: metrics above the floors, no regression (make demo)"
# The demo shows the lifecycle, not a model search: two settings (one per estimator, tuned side
# by side on the 2 executor slots) instead of bantay.yaml's four keep each training run short.
DEMO_MODELS = [
    {
        "name": MODEL,
        "training_schedule": "manual",
        # A person approves each version that passed the gate (Required Actions in the UI); the
        # demo answers through the same REST API, with a note, so the approval is in history.
        "approval": "manual",
        "search_space": [
            {"name": "logreg", "estimator": "logistic_regression", "params": {"C": [1.0]}},
            {
                "name": "hgb",
                "estimator": "hist_gradient_boosting",
                "params": {"max_depth": [3], "learning_rate": [0.1]},
            },
        ],
    },
    {
        "name": SECOND,
        "feature_service": "learner_engagement_v1",
        "label": "disengaged",
        "training_schedule": "manual",
        "gate": {"min_roc_auc": 0.65, "min_pr_auc": 0.3, "max_regression": 0.03},
        "slices": ["region", "grade_band"],
        "search_space": [
            {"name": "logreg", "estimator": "logistic_regression", "params": {"C": [1.0]}}
        ],
        "drift": {"guards": {"max_retrains_per_7d": 0}},
    },
]


def say(msg: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Progress:
    """Phase, day n of N, elapsed time and the scheduler's activity, at most every ``every`` s."""

    def __init__(self, every: float = 10.0) -> None:
        self.t0 = time.monotonic()
        self.every = every
        self.timings: list[tuple[str, float]] = []
        self.name = ""
        self.day = ""
        self.api: Api | None = None
        self.stack: LocalAirflow | None = None
        self._last = 0.0

    def elapsed(self) -> str:
        s = int(time.monotonic() - self.t0)
        return f"{s // 60}m{s % 60:02d}s"

    def phase(self, name: str) -> Progress:
        self.name, self.day = name, ""
        return self

    def __enter__(self) -> None:
        self._start = time.monotonic()
        say(f"== {self.name}  [{self.elapsed()} elapsed]")

    def __exit__(self, *exc) -> None:
        self.timings.append((self.name, time.monotonic() - self._start))
        self.day = ""

    def tick(self) -> None:
        """Called while waiting: one status line every ``every`` seconds."""
        if self.stack is not None:
            self.stack.check_alive()
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        doing = "starting"
        if self.api is not None:
            try:
                doing = self.api.activity()
            except (ApiGaveUp, ApiError) as exc:
                doing = f"scheduler state unavailable ({str(exc)[:80]})"
        where = f"{self.name}" + (f" | {self.day}" if self.day else "")
        say(f"   {self.elapsed()} | {where} | {doing}")


def _registry(stack: LocalAirflow):
    """bantay's registry as the demo's Airflow sees it (the stack's environment)."""
    os.environ.update({k: v for k, v in stack.env.items() if k.startswith(("BANTAY_", "AIRFLOW"))})
    from bantay.settings import get_settings
    from bantay.stores.registry import registry_for

    return registry_for(get_settings())


def decided(stack: LocalAirflow, day: dt.date) -> tuple[str, str]:
    """The verdict and decision the drift check recorded for ``day``."""
    rows = [r for r in _registry(stack).drift.reports(MODEL, since=day) if r.report_date == day]
    return (rows[0].verdict, rows[0].decision) if rows else ("(no record)", "(no record)")


def midnight(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(), dt.UTC).isoformat()


def write_summary(api: Api, stack: LocalAirflow, progress: Progress, error: str | None) -> dict:
    """Everything a person (or the end-to-end test) wants to check, as ``summary.json``."""
    reg = _registry(stack)
    keys = ("dag_id", "dag_run_id", "run_type", "state", "start_date", "end_date", "conf")
    runs = [
        {k: r.get(k) for k in keys}
        for dag_id in (
            "bantay_features",
            "bantay_scoring",
            TRAINING,
            SECOND_TRAINING,
            "bantay_drift",
        )
        for r in api.runs(dag_id)
    ]
    runs.sort(key=lambda r: r["start_date"] or "")
    data = {
        "complete": error is None,
        "error": error,
        "ui": f"http://127.0.0.1:{stack.api_port}",
        "metadata_database": stack.metadata.describe() if stack.metadata else None,
        "api_retries": api.retries,
        "runs": runs,
        "versions": [
            {
                "version": v.version,
                "status": v.status,
                "reason": v.reason,
                "run_id": v.airflow_run_id,
                "fitted": (v.lineage or {}).get("fitted"),
                "reference": (v.lineage or {}).get("reference"),
            }
            for v in reg.versions.of(MODEL)
        ],
        "approvals": [
            {
                "run_id": d["task_instance"]["dag_run_id"],
                "subject": d["subject"],
                "chosen": d.get("chosen_options"),
                "note": (d.get("params_input") or {}).get("note"),
                "by": (d.get("responded_by_user") or {}).get("name"),
            }
            for r in api.runs(TRAINING)
            for d in api.approvals(TRAINING, r["dag_run_id"], answered=True)
        ],
        "promotions": [
            {"kind": p.kind, "from": p.from_version, "to": p.to_version, "actor": p.actor}
            for p in reg.promotions.of(MODEL)
        ],
        "drift": [
            {
                "date": r.report_date.isoformat(),
                "verdict": r.verdict,
                "decision": r.decision,
                "n_drifted": r.n_drifted,
                "report": r.report_html_uri,
            }
            for r in reg.drift.reports(MODEL)
        ],
        "models": {
            m: (reg.versions.production(m).version if reg.versions.production(m) else None)
            for m in (MODEL, SECOND)
        },
        "emails": [p.name for p in sorted((DEMO / "mail").glob("*.eml"))],
        "executor": stack.env.get("AIRFLOW__CORE__EXECUTOR", "LocalExecutor"),
        "celery_workers": stack.celery_workers(),
        "task_instances": [
            {k: ti.get(k) for k in TI_KEYS}
            for r in runs
            for ti in api.task_instances(r["dag_id"], r["dag_run_id"])
        ],
        "timings": progress.timings,
        "wall_seconds": time.monotonic() - progress.t0,
    }
    (DEMO / "summary.json").write_text(json.dumps(data, indent=2, default=str))
    return data


def print_summary(data: dict, stack: LocalAirflow) -> None:
    from bantay.settings import get_settings
    from bantay.stores.registry import registry_for

    reg = registry_for(get_settings())
    print("\n================ bantay demo summary ================")
    print("\nModels in production:")
    for name, version in data["models"].items():
        print(f"  {name:<20} {version}")
    print(f"\nModel versions of {MODEL}:")
    for v in reg.versions.of(MODEL):
        roc = (v.metrics.get("test") or {}).get("roc_auc")
        print(
            f"  {v.version}  {v.status:<10} roc_auc={roc:.3f}  why: {v.reason}"
            if roc
            else f"  {v.version} {v.status}"
        )
    print("\nPromotions (audit log):")
    for p in reg.promotions.of(MODEL):
        print(
            f"  {p.at:%Y-%m-%d %H:%M} {p.kind:<8} {p.from_version} -> {p.to_version}  by {p.actor}"
        )
    print("\nDrift, day by day:")
    for r in reg.drift.reports(MODEL):
        print(
            f"  {r.report_date}  {r.verdict:<12} {r.n_drifted}/{r.n_features} drifted  "
            f"decision: {r.decision}"
        )
    failed = [(r["dag_id"], r["dag_run_id"]) for r in data["runs"] if r["state"] == "failed"]
    print(f"\nDAG runs: {len(data['runs'])}, failed: {failed or 'none'}")
    print(
        f"Airflow metadata: {data['metadata_database']}; API calls retried: {data['api_retries']}"
    )
    print(f"E-mails kept by the SMTP sink: {len(data['emails'])} in {DEMO / 'mail'}")
    print(f"Reports: s3://bantay/bantay/reports/drift/{MODEL}/<date>/report.html (local S3)")
    print(f"Airflow UI: {data['ui']}  (demo mode: no login; every user is admin)")
    print("Stop everything with: make stop")
    print("\nWall time by phase:")
    for name, seconds in data["timings"]:
        print(f"  {seconds:7.1f} s  {name}")
    print(f"  {data['wall_seconds']:7.1f} s  total")


@dataclasses.dataclass(frozen=True)
class Calendar:
    """The demo's days, all relative to its last day, so the story is the same on any weekday.

    The drift starts ``DRIFTED_DAYS - 1`` days before the last; term outcomes are observed on a
    weekly grid anchored on the drift's first day and mature ``LABEL_DELAY`` days later, inside
    the checked days: the drift retrain learns the drifted rows whatever the day of the week,
    and the days after it are scored by the retrained model and checked against what it learned.
    """

    first: dt.date
    last: dt.date

    @classmethod
    def ending(cls, last: dt.date, days: int) -> Calendar:
        return cls(first=last - dt.timedelta(days=days - 1), last=last)

    @property
    def drift_start(self) -> dt.date:
        return self.last - dt.timedelta(days=DRIFTED_DAYS - 1)

    @property
    def label_anchor(self) -> dt.date:
        return self.drift_start

    @property
    def check_days(self) -> list[dt.date]:
        """The drift-checked days: the day before the drift, then every drifted day."""
        return [self.drift_start + dt.timedelta(days=i) for i in range(-1, DRIFTED_DAYS)]

    @property
    def outcomes_mature(self) -> dt.date:
        """The day the drift's first outcomes mature: its check can start the retrain."""
        return self.label_anchor + dt.timedelta(days=LABEL_DELAY)

    @property
    def warm_days(self) -> list[dt.date]:
        """Daily features and scoring before the checks, so the first check has a full window."""
        return [self.check_days[0] - dt.timedelta(days=i) for i in range(6, 0, -1)]

    @property
    def backfill_end(self) -> dt.date:
        return self.warm_days[0] - dt.timedelta(days=1)

    @property
    def first_training_as_of(self) -> dt.date:
        """A little before the daily loop, so its cooldown is over when the drift starts."""
        return self.warm_days[0] - dt.timedelta(days=2)


def story_gaps(data: dict) -> list[str]:
    """The steps of the demo's story (drift confirmed -> retrain -> gate -> approval ->
    promotion) that did not happen, each said so that a reader knows where to look."""
    gaps = []
    drift = data["drift"]
    if not any(d["verdict"] == "DRIFT" for d in drift):
        gaps.append("no drift check found DRIFT (the simulated shift was not detected)")
    triggered = [d for d in drift if d["decision"] == "retrain_triggered"]
    if not triggered:
        held = sorted({d["decision"] for d in drift if d["verdict"] == "DRIFT"})
        gaps.append(f"no drift check triggered a retrain (DRIFT days decided: {held or 'none'})")
    retrains = [
        r for r in data["runs"] if r["dag_id"] == TRAINING and r["run_type"] == "asset_triggered"
    ]
    if triggered and not retrains:
        gaps.append(f"no {TRAINING} run was started by the drift Asset event")
    for run in retrains:
        if run["state"] != "success":
            gaps.append(f"the drift retrain {run['dag_run_id']} ended {run['state']}")
    ids = {r["dag_run_id"] for r in retrains}
    if retrains and not any(a["run_id"] in ids and a["chosen"] for a in data["approvals"]):
        gaps.append("nobody answered the drift retrain's approval")
    serving = [v for v in data["versions"] if v["status"] == "production"]
    answer = [v for v in serving if v["run_id"] in ids]
    if retrains and not answer:
        gaps.append(f"the drift retrain's version is not in production (serving: {serving})")
    if answer and not (answer[0].get("fitted") or {}).get("rows_after_drift"):
        gaps.append(f"the drift retrain {answer[0]['version']} was fitted on no drifted rows")
    if triggered:
        after = [d for d in drift if d["date"] > triggered[-1]["date"]]
        if not after:
            gaps.append("no drift check ran after the retrain, so the alarm was never re-checked")
        elif after[-1]["verdict"] in ("DRIFT", "PERFORMANCE"):
            gaps.append(
                f"the alarm did not clear after the retrain: {after[-1]['date']} is "
                f"{after[-1]['verdict']} ({after[-1]['decision']})"
            )
    return gaps


def lifecycle(
    api: Api, progress: Progress, cal: Calendar, decided: Callable[[dt.date], tuple[str, str]]
) -> None:
    """Backfill, first training, the daily loop with its drift checks, the drift-triggered
    retraining, and the days after it. ``decided(day)``: the drift check's verdict and
    decision for ``day`` (from bantay's registry)."""
    first, last = cal.first, cal.last
    check_days, warm_days, backfill_end = cal.check_days, cal.warm_days, cal.backfill_end
    tick = progress.tick

    def finish(dag_id: str, run_id: str) -> str:
        asked = [0.0]

        def answer_approvals() -> None:
            tick()
            if dag_id != TRAINING or time.monotonic() - asked[0] < 3:
                return
            asked[0] = time.monotonic()
            for detail in api.approvals(dag_id, run_id, answered=False):
                asked_at = dt.datetime.fromisoformat(detail["created_at"])
                if dt.datetime.now(dt.UTC) - asked_at < APPROVAL_AFTER:
                    continue  # at a person's pace: see APPROVAL_AFTER
                say(
                    f"{dag_id} waits for a person: {detail['subject']} (Required Actions in the "
                    "UI); the demo approves it through the REST API, as a reviewer would"
                )
                api.answer(detail, "Approve", APPROVAL_NOTE)

        state = api.wait(dag_id, run_id, on_wait=answer_approvals)
        if state != "success":
            say(f"!! {dag_id} {run_id} {state}; see the UI or {DEMO / 'airflow' / 'logs'}")
        return state

    def asset_run(dag_id: str, known: set[str]) -> str:
        return finish(dag_id, api.wait_new_run(dag_id, known, on_wait=tick))

    with progress.phase(f"feature backfill {first} .. {backfill_end} (one run, Params range)"):
        known = {r["dag_run_id"] for r in api.runs("bantay_scoring")}
        conf = {"start_date": first.isoformat(), "end_date": backfill_end.isoformat()}
        finish("bantay_features", api.trigger("bantay_features", "demo__backfill", conf))
        asset_run("bantay_scoring", known)  # started by the features Asset event
    with progress.phase("first training, validation gate, promotion"):
        conf = {"reason": "first model (make demo)", "as_of": midnight(cal.first_training_as_of)}
        first_runs = {
            dag_id: api.trigger(dag_id, "demo__first_training", conf)
            for dag_id in (TRAINING, SECOND_TRAINING)
        }
        for dag_id, run_id in first_runs.items():
            finish(dag_id, run_id)
    # Every day up to the one the drifted outcomes mature is served by the first model whatever
    # the checks decide (a retrain waits for those outcomes), so their features and scoring run
    # as one catch-up and the checks then follow day by day; from that day on each day's check
    # runs before the next day is scored, so the day after a retrain is scored by the new model.
    ahead = [d for d in warm_days + check_days if d <= cal.outcomes_mature]
    with progress.phase(
        f"features and scoring of {ahead[0]} .. {ahead[-1]} (one catch-up run: scoring scores "
        "each day it accepted)"
    ):
        known = {r["dag_run_id"] for r in api.runs("bantay_scoring")}
        conf = {"start_date": ahead[0].isoformat(), "end_date": ahead[-1].isoformat()}
        finish("bantay_features", api.trigger("bantay_features", "demo__features__catchup", conf))
        asset_run("bantay_scoring", known)
    with progress.phase(f"daily drift checks, then features -> scoring -> drift, to {last}"):
        for n, day in enumerate(check_days, 1):
            progress.day = f"day {n} of {len(check_days)} ({day})"
            if day not in ahead:
                known = {r["dag_run_id"] for r in api.runs("bantay_scoring")}
                conf = {"start_date": day.isoformat()}
                run = api.trigger("bantay_features", f"demo__features__{day}", conf)
                finish("bantay_features", run)
                asset_run("bantay_scoring", known)
                say(f"{progress.day}: features and scoring done [{progress.elapsed()}]")
            training_known = {r["dag_run_id"] for r in api.runs(TRAINING)}
            run_id = api.trigger("bantay_drift", f"demo__drift__{day}", {"date": day.isoformat()})
            finish("bantay_drift", run_id)
            verdict, decision = decided(day)
            say(f"drift check of {day}: {verdict}, {decision} [{progress.elapsed()}]")
            if decision == "retrain_triggered":
                # The next day is scored by whatever serves after this retrain, as at night when
                # a retrain finishes before the next day's scoring: then the alarm can clear.
                progress.day += ": retraining started by the drift Asset event"
                run = api.wait_new_run(TRAINING, training_known, on_wait=tick)
                say(f"{TRAINING} {run}: {finish(TRAINING, run)} [{progress.elapsed()}]")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    # 2,000 learners x 80 days shows the whole lifecycle (drift confirmed, retrained, promoted)
    # and keeps a run within minutes on a busy 2-core machine.
    parser.add_argument("--days", type=int, default=80)
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument(
        "--metadata",
        choices=("auto", "postgres", "embedded", "sqlite"),
        default="auto",
        help="Airflow's metadata database (auto: PostgreSQL on loopback, else embedded, else SQLite)",
    )
    parser.add_argument(
        "--api-port",
        type=int,
        default=8080,
        help="the Airflow UI/API port (0: any free port; a busy port falls back to a free one)",
    )
    parser.add_argument(
        "--executor",
        choices=("local", "celery"),
        default="local",
        help="LocalExecutor, or the compose stack's CeleryExecutor with one worker process",
    )
    parser.add_argument(
        "--celery-broker",
        default="redis://127.0.0.1:6379/0",
        help="the Celery broker URL with --executor celery (Redis or RabbitMQ on loopback)",
    )
    parser.add_argument(
        "--airflow-only", action="store_true", help="start services and Airflow, nothing else"
    )
    parser.add_argument("--stop", action="store_true", help="stop a running demo and exit")
    args = parser.parse_args()

    stack = LocalAirflow(DEMO, purpose="demo", log=say)
    stack.stop(drop_database=args.stop)
    if args.stop:
        return 0
    progress = Progress()
    api: Api | None = None
    cal = Calendar.ending(dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1), args.days)
    bantay = str(BIN / "bantay")
    try:
        with progress.phase("reset .demo, local S3 + SMTP sink, Airflow metadata database"):
            stack.prepare(args.metadata, ports=(args.api_port, 9010, 1025))
            if args.airflow_only:
                # Airflow alone runs the project's own models (bantay.yaml, or BANTAY_CONFIG).
                stack.env.pop("BANTAY_MODELS", None)
                say(f"models of {stack.env['BANTAY_CONFIG']}: {stack.configured_models()}")
            else:
                stack.env["BANTAY_MODELS"] = json.dumps(DEMO_MODELS)
            if args.executor == "celery":
                stack.use_celery(args.celery_broker)
            say(f"Airflow metadata: {stack.metadata.describe()}")
        with progress.phase("airflow db migrate"):
            stack.migrate()
        with progress.phase(
            f"start Airflow; meanwhile simulate {args.days} days x {args.learners} learners "
            f"(drift from {cal.drift_start}) and feast apply"
        ):
            api = stack.api()
            progress.api, progress.stack = api, stack
            stack.start_components()
            shift = f"{SHIFTED}@{cal.drift_start}:2.0"
            simulate = ["simulate", "--start", cal.first.isoformat(), "--days", str(args.days)]
            # Outcomes are observed on the drift's first day (a weekly grid through it) and
            # mature LABEL_DELAY days later (14 in the simulator's default), so the labels of the
            # drifted days exist within the demo's days and the retrain can learn from them:
            # bantay holds a drift retrain until they do.
            scale = ["--learners", str(args.learners), "--label-delay", str(LABEL_DELAY)]
            scale += ["--label-anchor", cal.label_anchor.isoformat()]
            concept = f"{cal.drift_start}:{CONCEPT}"
            stack.run([bantay, *simulate, *scale, "--shift", shift, "--concept", concept])
            stack.run([bantay, "registry", "upgrade"])
            stack.run([bantay, "features", "apply"])
            stack.wait_ready(api, on_wait=progress.tick)
        if args.airflow_only:
            say(f"Airflow is up at http://127.0.0.1:{stack.api_port}; make stop to stop it")
            return 0
        lifecycle(api, progress, cal, lambda day: decided(stack, day))
    except (ApiGaveUp, ApiError, TimeoutError, RuntimeError) as exc:
        where = progress.name + (f", {progress.day}" if progress.day else "")
        print(
            f"\n!! The demo stopped after {progress.elapsed()} during: {where}\n!! {exc}\n"
            f"!! Airflow is left running for a look (http://127.0.0.1:{stack.api_port}); "
            f"logs: {stack.logs}, task logs: {DEMO / 'airflow' / 'logs'}. `make stop` stops it.",
            file=sys.stderr,
        )
        if api is not None:
            try:
                write_summary(api, stack, progress, error=f"{where}: {exc}")
                print(f"!! What was done so far: {DEMO / 'summary.json'}", file=sys.stderr)
            except Exception as summary_exc:  # noqa: BLE001 (the first error is the one to show)
                print(f"!! (no summary either: {summary_exc})", file=sys.stderr)
        return 1
    data = write_summary(api, stack, progress, error=None)
    print_summary(data, stack)
    gaps = story_gaps(data)
    if gaps:
        print("\n!! The demo ran but its story is incomplete:", file=sys.stderr)
        for gap in gaps:
            print(f"!!  - {gap}", file=sys.stderr)
        print(f"!! Details: {DEMO / 'summary.json'}, the UI at {data['ui']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
