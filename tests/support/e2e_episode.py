"""The end-to-end episode (scripts/demo.py at a smaller scale through Airflow's real scheduler,
PostgreSQL as metadata database) and the checks every executor must pass on it.

Used by tests/integration/test_e2e_scheduler.py (LocalExecutor) and tests/celery/ (the
CeleryExecutor with the compose stack's settings): each defines a module fixture ``lifecycle``
(``(summary, home)`` from ``episode``) and imports ``EPISODE_TESTS``. The checks are asserted from
Airflow's REST API records and bantay's registry (summary.json) and the SMTP sink's files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from support.services import pg_database

ROOT = Path(__file__).resolve().parents[2]
DEMO = [sys.executable, str(ROOT / "scripts" / "demo.py")]
# A free port of its own: on a shared machine 8080 is often another Airflow's.
SCALE = ["--learners", "2000", "--days", "80", "--api-port", "0"]


@contextlib.contextmanager
def episode(home: Path, *demo_args: str, timeout: float = 2400) -> Iterator[tuple[dict, Path]]:
    """Run the episode in a fresh PostgreSQL metadata database; yield ``(summary, home)`` while
    Airflow is still up, stop it afterwards."""
    with pg_database() as metadata_url:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "BANTAY_"))  # the demo builds its own environment
        }
        env["BANTAY_DEMO_DIR"] = str(home)
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = metadata_url
        try:
            done = subprocess.run(
                [*DEMO, *SCALE, *demo_args],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
            yield json.loads((home / "summary.json").read_text()), home
        finally:
            subprocess.run([*DEMO, "--stop"], env=env, cwd=ROOT, capture_output=True, timeout=120)


def test_runs_happen_in_lifecycle_order(lifecycle) -> None:
    summary, _ = lifecycle
    runs = summary["runs"]
    failed = [(r["dag_id"], r["dag_run_id"], r["state"]) for r in runs if r["state"] != "success"]
    assert not failed
    order = [r["dag_id"] for r in runs]
    first_training = order.index("bantay_training_learner_risk")
    assert order[0] == "bantay_features"
    assert "bantay_scoring" in order[:first_training]  # the backfill's Asset event started scoring
    scoring = [r for r in runs if r["dag_id"] == "bantay_scoring"]
    assert scoring and all(r["run_type"] == "asset_triggered" for r in scoring)
    drift_runs = [i for i, r in enumerate(runs) if r["dag_id"] == "bantay_drift"]
    assert drift_runs and min(drift_runs) > first_training


def test_one_retrain_for_the_drift_episode_and_it_is_in_production(lifecycle) -> None:
    summary, _ = lifecycle
    training = [r for r in summary["runs"] if r["dag_id"] == "bantay_training_learner_risk"]
    asset_runs = [r for r in training if r["run_type"] == "asset_triggered"]
    assert len(asset_runs) == 1, training
    decisions = [d["decision"] for d in summary["drift"]]
    assert decisions.count("retrain_triggered") == 1, summary["drift"]
    assert any(d["verdict"] == "DRIFT" for d in summary["drift"])
    production = [v for v in summary["versions"] if v["status"] == "production"]
    assert len(production) == 1 and production[0]["run_id"] == asset_runs[0]["dag_run_id"]
    assert production[0]["reason"].startswith("drift event on ")
    assert [p["to"] for p in summary["promotions"]][-1] == production[0]["version"]
    assert len(summary["promotions"]) == 2


def test_emails_were_received(lifecycle) -> None:
    summary, home = lifecycle
    assert len(summary["emails"]) >= len(summary["drift"])
    subjects = [
        email.message_from_bytes((home / "mail" / name).read_bytes(), policy=email.policy.default)[
            "Subject"
        ]
        for name in summary["emails"]
    ]
    assert any(s.startswith("[bantay] DRIFT learner_risk") for s in subjects), subjects
    # The retrain starts on the day the drifted labels show the quality drop.
    assert any(
        s.startswith(("[bantay] DRIFT learner_risk", "[bantay] PERFORMANCE learner_risk"))
        and "retraining started" in s
        for s in subjects
    ), subjects
    assert any("drift answered by the new model" in s for s in subjects), subjects
    # The drift-triggered retrain was promoted (see above): its run told on-call so, once.
    promoted = [s for s in subjects if s.startswith("[bantay] RETRAIN learner_risk: new model")]
    assert len(promoted) == 1, subjects


def test_the_retrain_learned_the_drift_and_the_alarm_cleared_because_of_it(lifecycle) -> None:
    summary, _ = lifecycle
    (serving,) = [v for v in summary["versions"] if v["status"] == "production"]
    assert serving["fitted"]["rows_after_drift"] > 0, serving
    assert serving["reference"]["basis"] == "post_drift", serving
    drift = summary["drift"]
    triggered = max(d["date"] for d in drift if d["decision"] == "retrain_triggered")
    after = [d for d in drift if d["date"] > triggered]
    assert after and after[0]["decision"] == "drift_answered", drift
    assert all(d["verdict"] not in ("DRIFT", "PERFORMANCE") for d in after), drift


def test_the_catch_up_run_scored_every_day_before_the_first_check(lifecycle) -> None:
    """The days up to the drifted outcomes' maturing are accepted by one features run; the
    scoring run its Asset event started scores each of them, so the first check reads a full
    week and every check before the retrain finds its day scored."""
    summary, home = lifecycle
    (run,) = [r for r in summary["runs"] if r["dag_run_id"] == "demo__features__catchup"]
    first, last = (dt.date.fromisoformat(run["conf"][k]) for k in ("start_date", "end_date"))
    first_check = dt.date.fromisoformat(min(d["date"] for d in summary["drift"]))
    assert first <= first_check - dt.timedelta(days=6) and last > first_check, run["conf"]
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    for model in ("learner_risk", "learner_engagement"):
        logs = home / "bantay" / "data" / "predictions" / model
        missing = [d for d in days if not (logs / f"date={d}").is_dir()]
        assert not missing, f"{model}: no prediction log for {missing}"


def _task_log(home: Path, dag_id: str, run_id: str, task_id: str) -> str:
    """Every attempt's log of one task of one run, as Airflow wrote it (JSON lines)."""
    folder = home / "airflow" / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    logs = sorted(folder.glob(f"task_id={task_id}/**/attempt=*.log"))
    assert logs, f"no log of {dag_id}.{task_id} under {folder}"
    return "\n".join(p.read_text() for p in logs)


def test_the_drift_retrain_waited_for_a_person_who_approved_it(lifecycle) -> None:
    summary, _ = lifecycle
    (retrain,) = [
        r
        for r in summary["runs"]
        if r["dag_id"] == "bantay_training_learner_risk" and r["run_type"] == "asset_triggered"
    ]
    answered = [a for a in summary["approvals"] if a["run_id"] == retrain["dag_run_id"]]
    assert len(answered) == 1, summary["approvals"]
    assert answered[0]["chosen"] == ["Approve"] and "make demo" in answered[0]["note"]
    assert answered[0]["subject"].startswith("Approve learner_risk ")


def test_the_gate_and_the_verdict_are_in_the_task_logs(lifecycle) -> None:
    """Logs at INFO: the gate table in ``evaluate``, the verdict in each drift ``check``."""
    summary, home = lifecycle
    training = [r for r in summary["runs"] if r["dag_id"] == "bantay_training_learner_risk"]
    for run in training:
        log = _task_log(home, run["dag_id"], run["dag_run_id"], "evaluate")
        assert "validation gate for learner_risk" in log and "roc_auc" in log, log[-2000:]
    drift_runs = [r for r in summary["runs"] if r["dag_id"] == "bantay_drift"]
    verdicts = {d["date"]: d["verdict"] for d in summary["drift"]}
    assert len(drift_runs) == len(verdicts)
    for run in drift_runs:
        day = run["conf"]["date"]
        log = _task_log(home, "bantay_drift", run["dag_run_id"], "learner_risk.check")
        assert f"[bantay] {verdicts[day]} learner_risk {day}" in log, log[-2000:]
