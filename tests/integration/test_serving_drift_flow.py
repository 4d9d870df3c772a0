"""Scoring, drift, the on-call e-mail, loop-protected retraining, shadow scoring and rollback,
through real DAG runs (dag.test) against real Feast, S3 (moto over HTTP), PostgreSQL and SMTP.

The simulator shifts two features by two standard deviations from DRIFT_START: ground truth.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json

import pytest

from bantay import simulate as sim
from support.airflow_runs import run_dag, task_states
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import moto_s3  # noqa: F401
from support.smtp import running_smtp_server, smtp_conn_json

pytestmark = pytest.mark.integration

DRIFT_START = dt.date(2026, 10, 26)
SHIFTED = ("study_minutes", "quiz_score_avg")
LIFECYCLE = {
    "days": 66,
    "last_day": dt.date(2026, 11, 1),
    "scenario": sim.Scenario(
        learners=3000, seed=23, covariate=(sim.CovariateShift(SHIFTED, DRIFT_START, 2.0),)
    ),
}
MODEL = "learner_risk"
CHECK_DAYS = [DRIFT_START + dt.timedelta(days=i) for i in range(-2, 6)]  # 2 clean, 6 drifted


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


@pytest.fixture(scope="module")
def smtp():
    with running_smtp_server() as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_json(server.host, server.port))
        yield server


@pytest.fixture(scope="module")
def daily(lifecycle_env, smtp):  # noqa: F811
    """First model trained before the drift, then features -> scoring -> drift for each day."""
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import store as feature_store

    env = lifecycle_env
    settings = env.settings()
    # Trained well before the checks, so its 7-day cooldown is over when the drift starts.
    as_of = _midnight(CHECK_DAYS[0] - dt.timedelta(days=8)).isoformat()
    run = run_dag(
        "bantay_training_learner_risk",
        _midnight(DRIFT_START),
        {"reason": "first model", "as_of": as_of},
    )
    assert str(run.state) == "success", task_states(run)
    from support.serving_steps import score

    for warm_up in range(7, 0, -1):  # a week of predictions before the first check (7-day window)
        day = CHECK_DAYS[0] - dt.timedelta(days=warm_up)
        materialize(
            [day],
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        score(settings, MODEL, day)
    summaries = {}
    for day in CHECK_DAYS:
        materialize(
            [day],
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        scoring = run_dag(
            "bantay_scoring", _midnight(day + dt.timedelta(days=1)), {"date": day.isoformat()}
        )
        assert str(scoring.state) == "success", task_states(scoring)
        drift = run_dag(
            "bantay_drift", _midnight(day + dt.timedelta(days=1)), {"date": day.isoformat()}
        )
        states = task_states(drift)
        assert states[f"{MODEL}.check"] == "success" and states[f"{MODEL}.email"] == "success", (
            states
        )
        summaries[day] = (drift, states)
    return env, summaries


def _reports(env):
    from bantay.stores.registry import registry_for

    return {r.report_date: r for r in registry_for(env.settings()).drift.reports(MODEL)}


def test_clean_days_are_ok_and_shift_is_found_on_the_right_features(daily):
    env, _ = daily
    reports = _reports(env)
    seen = {
        d: (
            reports[d].verdict,
            sorted(c for c, f in reports[d].feature_scores.items() if f["drifted"]),
        )
        for d in CHECK_DAYS
    }
    print(seen)
    for day, (verdict, drifted) in seen.items():
        if day < DRIFT_START:
            assert (verdict, drifted) == ("OK", []), seen
        else:  # judged per feature on the newest day: the shift shows on its first day
            assert (verdict, drifted) == ("DRIFT", sorted(SHIFTED)), seen


def test_drift_before_its_labels_mature_waits_for_them_and_says_when(daily):
    """Labels mature 14 days late: a retrain now would learn pre-drift data only."""
    env, summaries = daily
    reports = _reports(env)
    drifted = [d for d in CHECK_DAYS if reports[d].verdict == "DRIFT"]
    decisions = [reports[d].decision for d in drifted]
    assert decisions[0] == "guard_held:persistence"  # one drifted day is not yet "real"
    assert decisions[1:] == ["guard_held:labels"] * (len(drifted) - 1), decisions
    detail = reports[drifted[-1]].decision_detail
    ready = dt.date.fromisoformat(detail.split("mature on ", 1)[1][:10])
    assert DRIFT_START + dt.timedelta(days=14) <= ready <= DRIFT_START + dt.timedelta(days=21)
    retrain_states = [summaries[d][1][f"{MODEL}.retrain"] for d in CHECK_DAYS]
    assert retrain_states == ["skipped"] * len(CHECK_DAYS)


def test_rerunning_a_held_date_decides_the_same(daily):
    env, _ = daily
    day = CHECK_DAYS[-1]
    before = _reports(env)[day].decision
    again = run_dag(
        "bantay_drift", _midnight(day + dt.timedelta(days=2)), {"date": day.isoformat()}
    )
    states = task_states(again)
    assert states[f"{MODEL}.retrain"] == "skipped", states
    assert _reports(env)[day].decision == before


def test_reports_are_in_s3_and_the_registry_row_matches(daily):
    env, _ = daily
    for day, report in _reports(env).items():
        for uri in (report.report_html_uri, report.report_json_uri):
            key = uri.removeprefix(f"s3://{env.bucket}/")
            assert key == f"bantay/reports/drift/{MODEL}/{day.isoformat()}/{uri.rsplit('/', 1)[1]}"
            body = env.s3.get_object(Bucket=env.bucket, Key=key)["Body"].read()
            assert len(body) > 1000
        stored = json.loads(
            env.s3.get_object(
                Bucket=env.bucket, Key=report.report_json_uri.removeprefix(f"s3://{env.bucket}/")
            )["Body"].read()
        )
        assert stored  # Evidently's snapshot JSON
        html = (
            env.s3.get_object(
                Bucket=env.bucket, Key=report.report_html_uri.removeprefix(f"s3://{env.bucket}/")
            )["Body"]
            .read()
            .decode()
        )
        # The banner is the first thing in <body> (Evidently's scripts fill <head>).
        body = html.index("<body>") + len("<body>")
        banner = html.index('id="bantay-verdict"')
        assert html[body:banner].strip().startswith("<div") and banner - body < 200
        assert banner < html.index(report.verdict, banner) < banner + 1000


def test_on_call_emails_arrive_with_verdict_first(daily, smtp):
    env, _ = daily
    messages = [
        email.message_from_bytes(m.content, policy=email.policy.default)
        for m in smtp.handler.messages
    ]
    subjects = [m["Subject"] for m in messages]
    assert len(messages) >= len(CHECK_DAYS)
    waiting = [s for s in subjects if "retrain when labels mature" in s]
    assert len(waiting) >= 1 and waiting[0].startswith(f"[bantay] DRIFT {MODEL} ")
    assert any(s.startswith(f"[bantay] OK {MODEL} ") for s in subjects)
    for m in messages:
        assert m.get_body(("plain",)) is not None and m.get_body(("html",)) is not None
        assert len(m.as_bytes()) < 300_000


def test_the_nightly_deadline_names_the_late_dag_or_stays_quiet(daily, smtp):
    """bantay_deadline for a finished day sends nothing; for a day scored but never checked it
    names bantay_drift; for a day whose features never arrived it names bantay_features."""
    env, _ = daily
    on_time, unchecked = CHECK_DAYS[1], CHECK_DAYS[0] - dt.timedelta(days=3)
    never = env.first_day - dt.timedelta(days=5)
    late_subjects = {}
    for day in (on_time, unchecked, never):
        run = run_dag("bantay_deadline", _midnight(day + dt.timedelta(days=3)), {"date": str(day)})
        assert str(run.state) == "success", task_states(run)
        received = [
            email.message_from_bytes(m.content, policy=email.policy.default)
            for m in smtp.handler.messages
        ]
        late_subjects[day] = [
            m["Subject"] for m in received if m["X-Bantay-Deadline-Day"] == day.isoformat()
        ]
    assert late_subjects[on_time] == []
    ((drift,), (features,)) = late_subjects[unchecked], late_subjects[never]
    assert drift.startswith(f"[bantay] LATE {unchecked}: bantay_drift not done by "), drift
    assert features.startswith(f"[bantay] LATE {never}: bantay_features not done by "), features


def test_retrain_shadow_and_rollback(daily):
    """A new version after the drift, shadow-scored, promoted; then rolled back by the DAG."""
    from bantay.serving.promotion import Promotion
    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for

    env, _ = daily
    settings = env.settings()
    last = CHECK_DAYS[-1]
    promotion = Promotion(model_store_for(settings), registry_for(settings))
    store = promotion.store
    first = store.pointers.current(MODEL)["version"]
    run = run_dag(
        "bantay_training_learner_risk",
        _midnight(last + dt.timedelta(days=1)),
        {
            "reason": "retrain after drift",
            "as_of": _midnight(last + dt.timedelta(days=1)).isoformat(),
            "force": True,
            "force_reason": "drift: the old model is judged on shifted data",
        },
    )
    assert str(run.state) == "success", task_states(run)
    second = store.pointers.current(MODEL)["version"]
    assert second != first

    promotion.stage_shadow(MODEL, first, actor="test", reason="compare old with new")
    scoring = run_dag(
        "bantay_scoring", _midnight(last + dt.timedelta(days=2)), {"date": last.isoformat()}
    )
    assert str(scoring.state) == "success"
    import pandas as pd

    log = pd.read_parquet(settings.layout.prediction_path(MODEL, last))
    assert set(log["model_version"]) == {second} and set(log["shadow_version"]) == {first}
    assert log["score"].between(0, 1).all() and log["shadow_score"].between(0, 1).all()
    store.pointers.clear_shadow(MODEL)

    back = run_dag(
        "bantay_rollback",
        _midnight(last + dt.timedelta(days=3)),
        {"model": MODEL, "reason": "test rollback"},
    )
    assert str(back.state) == "success", task_states(back)
    assert store.pointers.current(MODEL)["version"] == first
    audit = registry_for(settings).promotions.of(MODEL)
    assert [(p.kind, p.to_version) for p in audit][-1] == ("rollback", first)
    assert "test rollback" in audit[-1].reason


def test_a_person_rebaselines_and_the_check_says_who_answered_the_drift(daily):
    """The CLI re-baselines the version that serves on the days since the drift began (the
    new inputs declared the norm, on the record); re-checking the last day judges it against
    them and says the drift is answered, by whom."""
    import subprocess
    import sys
    from pathlib import Path

    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for

    env, _ = daily
    settings = env.settings()
    day = CHECK_DAYS[-1]
    bantay = Path(sys.executable).parent / "bantay"
    done = subprocess.run(
        [str(bantay), "rebaseline", "--model", MODEL, "--date", day.isoformat()]
        + ["--actor", "ana", "--reason", "new term: study time moved for good"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # The AWS provider logs its credential lookup on stdout; the record is the JSON after it.
    record = json.loads(done.stdout[done.stdout.index("{\n") :])
    assert record["actor"] == "ana" and record["first_day"] == DRIFT_START.isoformat()
    reg = registry_for(settings)
    serving = model_store_for(settings).pointers.current(MODEL)["version"]
    assert reg.baselines.current(MODEL, serving).sha256 == record["sha256"]
    again = run_dag(
        "bantay_drift", _midnight(day + dt.timedelta(days=3)), {"date": day.isoformat()}
    )
    assert task_states(again)[f"{MODEL}.retrain"] == "skipped"
    report = _reports(env)[day]
    moved = {c: f["score"] for c, f in report.feature_scores.items() if f["drifted"]}
    assert report.verdict in ("OK", "WATCH"), (report.verdict, moved, report.decision_detail)
    assert report.decision == "drift_answered"
    assert "ana re-baselined" in report.decision_detail, report.decision_detail
    # The same from the UI's button: a bantay_rebaseline run, recorded under its run.
    run = run_dag(
        "bantay_rebaseline",
        _midnight(day + dt.timedelta(days=4)),
        {"model": MODEL, "date": day.isoformat(), "days": 5, "reason": "the same, from the UI"},
    )
    assert str(run.state) == "success", task_states(run)
    newest = reg.baselines.current(MODEL, serving)
    assert run.run_id in newest.actor and newest.reason == "the same, from the UI"
    assert (newest.last_day - newest.first_day).days == 4
