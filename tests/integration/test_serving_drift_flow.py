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

from airflow_support import run_dag, task_states
from bantay import simulate as sim
from fixtures_services import moto_s3  # noqa: F401
from fixtures_smtp import running_smtp_server, smtp_conn_json
from lifecycle_env import lifecycle_env  # noqa: F401

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
    from bantay.features import materialize

    env = lifecycle_env
    settings = env.settings()
    # Trained well before the checks, so its 7-day cooldown is over when the drift starts.
    as_of = _midnight(CHECK_DAYS[0] - dt.timedelta(days=8)).isoformat()
    run = run_dag(
        "bantay_training", _midnight(DRIFT_START), {"reason": "first model", "as_of": as_of}
    )
    assert str(run.state) == "success", task_states(run)
    from bantay.scoring import score_day

    for warm_up in range(7, 0, -1):  # a week of predictions before the first check (7-day window)
        day = CHECK_DAYS[0] - dt.timedelta(days=warm_up)
        materialize(settings, [day])
        score_day(settings, MODEL, day)
    summaries = {}
    for day in CHECK_DAYS:
        materialize(settings, [day])
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
    from bantay.lifecycle import registry

    return {r.report_date: r for r in registry(env.settings()).drift_reports(MODEL)}


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
        else:
            assert set(drifted) <= set(SHIFTED), seen  # never a feature that did not move
    # Once the shifted days are a third of the 7-day window, both features are flagged.
    for day in CHECK_DAYS:
        if day >= DRIFT_START + dt.timedelta(days=2):
            assert seen[day] == ("DRIFT", sorted(SHIFTED)), seen


def test_five_drifted_days_trigger_exactly_one_retrain(daily):
    env, summaries = daily
    reports = _reports(env)
    drifted = [d for d in CHECK_DAYS if reports[d].verdict == "DRIFT"]
    decisions = [reports[d].decision for d in drifted]
    assert len(drifted) >= 4, decisions
    assert decisions.count("retrain_triggered") == 1, decisions
    assert decisions[0] == "guard_held:persistence"  # one drifted day is not yet "real"
    assert decisions[1] == "retrain_triggered"
    assert all(d.startswith("guard_held:") for d in decisions[2:]), decisions
    retrain_states = [summaries[d][1][f"{MODEL}.retrain"] for d in CHECK_DAYS]
    assert (
        retrain_states.count("success") == 1
        and retrain_states.count("skipped") == len(CHECK_DAYS) - 1
    )


def test_rerunning_the_triggering_date_does_not_trigger_again(daily):
    env, _ = daily
    reports = _reports(env)
    day = next(d for d in CHECK_DAYS if reports[d].decision == "retrain_triggered")
    again = run_dag(
        "bantay_drift", _midnight(day + dt.timedelta(days=2)), {"date": day.isoformat()}
    )
    states = task_states(again)
    assert states[f"{MODEL}.retrain"] == "skipped", states
    assert reports[day].decision == "retrain_triggered"  # the record keeps the first decision
    assert sum(r.decision == "retrain_triggered" for r in reports.values()) == 1


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


def test_on_call_emails_arrive_with_verdict_first(daily, smtp):
    env, _ = daily
    messages = [
        email.message_from_bytes(m.content, policy=email.policy.default)
        for m in smtp.handler.messages
    ]
    subjects = [m["Subject"] for m in messages]
    assert len(messages) >= len(CHECK_DAYS)
    triggered = [s for s in subjects if "retraining started" in s]
    assert len(triggered) >= 1 and triggered[0].startswith(f"[bantay] DRIFT {MODEL} ")
    assert any(s.startswith(f"[bantay] OK {MODEL} ") for s in subjects)
    for m in messages:
        assert m.get_body(("plain",)) is not None and m.get_body(("html",)) is not None
        assert len(m.as_bytes()) < 300_000


def test_retrain_shadow_and_rollback(daily):
    """A new version after the drift, shadow-scored, promoted; then rolled back by the DAG."""
    from bantay.lifecycle import registry, serving_store

    env, _ = daily
    settings = env.settings()
    last = CHECK_DAYS[-1]
    store = serving_store(settings, registry(settings))
    first = store.pointer(MODEL)["version"]
    run = run_dag(
        "bantay_training",
        _midnight(last + dt.timedelta(days=1)),
        {
            "reason": "retrain after drift",
            "as_of": _midnight(last + dt.timedelta(days=1)).isoformat(),
            "force": True,
            "force_reason": "drift: the old model is judged on shifted data",
        },
    )
    assert str(run.state) == "success", task_states(run)
    second = store.pointer(MODEL)["version"]
    assert second != first

    store.stage_shadow(MODEL, first, actor="test", reason="compare old with new")
    scoring = run_dag(
        "bantay_scoring", _midnight(last + dt.timedelta(days=2)), {"date": last.isoformat()}
    )
    assert str(scoring.state) == "success"
    import pandas as pd

    from bantay.scoring import prediction_path

    log = pd.read_parquet(prediction_path(settings, MODEL, last))
    assert set(log["model_version"]) == {second} and set(log["shadow_version"]) == {first}
    assert log["score"].between(0, 1).all() and log["shadow_score"].between(0, 1).all()
    store.clear_shadow(MODEL)

    back = run_dag(
        "bantay_rollback",
        _midnight(last + dt.timedelta(days=3)),
        {"model": MODEL, "reason": "test rollback"},
    )
    assert str(back.state) == "success", task_states(back)
    assert store.pointer(MODEL)["version"] == first
    audit = registry(settings).promotions(MODEL)
    assert [(p.kind, p.to_version) for p in audit][-1] == ("rollback", first)
    assert "test rollback" in audit[-1].reason
