"""bantay_training end to end: real Feast (point-in-time join), the simulator, a real PostgreSQL
registry, a real S3 endpoint, and Airflow's dag.test()."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from support.airflow_runs import run_dag, task_states
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import moto_s3  # noqa: F401

pytestmark = pytest.mark.integration


def _as_of(env) -> str:
    return dt.datetime.combine(env.last_day + dt.timedelta(days=1), dt.time(), dt.UTC).isoformat()


@pytest.fixture(scope="module")
def first_run(lifecycle_env):  # noqa: F811
    env = lifecycle_env
    run = run_dag(
        "bantay_training_learner_risk",
        dt.datetime.fromisoformat(_as_of(env)),
        {"reason": "first model for the test school", "as_of": _as_of(env)},
    )
    return env, run


def test_first_run_trains_validates_and_promotes(first_run):
    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for

    env, run = first_run
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["manual_approval"] == "skipped" and states["auto_approve"] == "success"
    settings = env.settings()
    reg = registry_for(settings)
    versions = reg.versions.of("learner_risk")
    assert [v.status for v in versions] == ["production"]
    version = versions[0]
    assert version.reason == "first model for the test school"
    assert version.lineage["feature_service"] == "learner_risk_v1"
    assert version.lineage["airflow_run_id"] == run.run_id
    assert version.metrics["test"]["roc_auc"] > 0.75
    assert {c["name"] for c in version.gate} >= {
        "quality.roc_auc",
        "regression.pr_auc",
        "fairness.recall_gap",
    }
    store = model_store_for(settings)
    assert store.pointers.current("learner_risk")["version"] == version.version
    model, manifest = store.load_production("learner_risk")
    assert manifest["lineage"]["training_rows"] > 1000
    assert [p.to_version for p in reg.promotions.of("learner_risk")] == [version.version]


def test_the_run_started_fitting_on_a_decided_window(first_run):
    """wait_for_window ran for real (Task SDK calls included) and says what it saw."""
    import json

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    env, run = first_run
    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=run.dag_id, run_id=run.run_id, task_id="wait_for_window")
            .filter_by(key="return_value")
            .one()
        )
        value = row.value if isinstance(row.value, dict) else json.loads(row.value)
    last = env.last_day.isoformat()
    first = (env.last_day - dt.timedelta(days=55)).isoformat()
    assert value["window"] == [first, last]
    assert value["ready"] is True and value["waiting"] == {}
    assert value["quarantined"] == {} and value["holding_runs"] == []


def test_point_in_time_features_never_come_from_after_the_label(first_run):
    """Compare Feast's join with an as-of join done by hand, and make sure a later value existed
    that a leaky join would have picked."""
    env, run = first_run
    settings = env.settings()
    from bantay.training.run import RunContext, run_dir

    ctx = RunContext("learner_risk", run.run_id, _as_of(env), "")
    training = pd.read_parquet(run_dir(settings.layout, ctx) / "training.parquet")
    raw = pd.concat(
        pd.read_parquet(p)
        for p in sorted((settings.raw_dir / "learning_activity").glob("date=*/*.parquet"))
    )
    sample = training.sample(200, random_state=0)
    leaks_possible = 0
    for row in sample.itertuples():
        history = raw[raw.learner_id == row.learner_id].sort_values("event_timestamp")
        before = history[history.event_timestamp <= row.event_timestamp]
        after = history[history.event_timestamp > row.event_timestamp]
        if before.empty or (row.event_timestamp - before.event_timestamp.iloc[-1]) > pd.Timedelta(
            days=14
        ):
            assert np.isnan(row.quiz_score_avg)
            continue
        assert row.quiz_score_avg == pytest.approx(before.quiz_score_avg.iloc[-1])
        if not after.empty and after.quiz_score_avg.iloc[0] != before.quiz_score_avg.iloc[-1]:
            leaks_possible += 1
    assert leaks_possible > 50  # later values existed, and none of them leaked into the row


def test_rerunning_a_run_updates_its_own_record(first_run):
    from bantay.stores.registry import registry_for
    from bantay.training.run import RunContext
    from support.training_steps import TrainingSteps

    env, run = first_run
    settings = env.settings()
    ctx = RunContext("learner_risk", "manual__rerun-check", _as_of(env), "re-run check")
    steps = TrainingSteps(settings, ctx)
    training = steps.training_set()
    results = steps.tune(training, limit=1)
    first = steps.evaluate(training, results)
    second = steps.evaluate(training, results)
    reg = registry_for(settings)
    mine = [v for v in reg.versions.of("learner_risk") if v.airflow_run_id == ctx.run_id]
    assert len(mine) == 1
    assert mine[0].version == second["version"] == first["version"]


def test_shuffled_labels_are_rejected_and_never_promoted(first_run):
    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for
    from bantay.training.run import RunContext
    from support.training_steps import TrainingSteps

    env, _ = first_run
    settings = env.settings()
    ctx = RunContext("learner_risk", "manual__shuffled", _as_of(env), "shuffled labels")
    steps = TrainingSteps(settings, ctx)
    training = steps.training_set()
    # Shuffle the labels the candidate learns from (train + validation), not the test labels both
    # models are judged on: the candidate learns noise, production still scores well on test.
    frame = pd.read_parquet(training["path"])
    test_start = pd.Timestamp(steps.split(training).boundaries["test_start"])
    learn = frame["event_timestamp"] < test_start
    shuffled = np.random.default_rng(0).permutation(frame.loc[learn, "at_risk"].to_numpy())
    frame.loc[learn, "at_risk"] = shuffled
    frame.to_parquet(training["path"], index=False)
    evaluation = steps.evaluate(training, steps.tune(training))
    assert evaluation["passed"] is False
    reasons = " ".join(evaluation["reasons"])
    assert "quality.roc_auc" in reasons and "regression.pr_auc" in reasons
    reg = registry_for(settings)
    record = reg.versions.get("learner_risk", evaluation["version"])
    assert record.status == "rejected" and "quality.roc_auc" in record.rejection_reason
    before = model_store_for(settings).pointers.current("learner_risk")
    with pytest.raises(RuntimeError, match="only an approved version is published"):
        steps.publish(evaluation["version"])
    assert model_store_for(settings).pointers.current("learner_risk") == before


def test_force_without_reason_fails_clearly(first_run):
    env, _ = first_run
    run = run_dag(
        "bantay_training_learner_risk",
        dt.datetime.fromisoformat(_as_of(env)) + dt.timedelta(hours=1),
        {"reason": "try force", "force": True, "force_reason": "  ", "as_of": _as_of(env)},
    )
    assert task_states(run)["plan"] == "failed"


def test_a_features_run_in_progress_holds_the_run_until_it_ends(first_run):
    """A backfill of the window's last day is running: the sensor names it and waits; once the
    run has ended the next poke lets training go on. Tasks after the sensor are marked success
    (what they do is tested above)."""
    import json
    import threading
    import time

    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from support.airflow_runs import airflow, get_dag, reserialize

    env, _ = first_run
    last = env.last_day.isoformat()
    backfill = "manual__backfill_in_progress"
    reserialize()
    conf = json.dumps({"start_date": last})
    airflow("dags", "trigger", "bantay_features", "--run-id", backfill, "--conf", conf)
    with create_session() as session:
        session.query(DagRun).filter_by(dag_id="bantay_features", run_id=backfill).update(
            {"state": "running"}
        )
    # As the execution API stores what a task returns (already in the Task SDK's form).
    XComModel.set(
        "return_value",
        [last],
        dag_id="bantay_features",
        task_id="plan",
        run_id=backfill,
        serialize=False,
    )

    seen: dict = {}

    def end_the_backfill_once_seen() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not seen:
            with create_session() as session:
                row = (
                    session.query(XComModel)
                    .filter_by(task_id="wait_for_window", key="waiting")
                    .filter(XComModel.dag_id == "bantay_training_learner_risk")
                    .first()
                )
                if row is not None:
                    value = row.value
                    seen.update(value if isinstance(value, dict) else json.loads(value))
                    session.query(DagRun).filter_by(
                        dag_id="bantay_features", run_id=backfill
                    ).update({"state": "success"})
                    return
            time.sleep(2)

    helper = threading.Thread(target=end_the_backfill_once_seen, daemon=True)
    helper.start()
    started = time.monotonic()
    run = get_dag("bantay_training_learner_risk").test(
        logical_date=dt.datetime.fromisoformat(_as_of(env)) + dt.timedelta(hours=2),
        run_conf={"reason": "held by a backfill", "as_of": _as_of(env)},
        mark_success_pattern=r"(?!plan$|search_space$|training_window$|wait_for_window$).*",
    )
    helper.join(timeout=5)
    assert str(run.state) == "success", task_states(run)
    assert time.monotonic() - started >= 55  # held for one poke interval at least
    # The run's day, and the day before that its allowed lateness may rewrite.
    held = [(env.last_day - dt.timedelta(days=1)).isoformat(), last]
    assert seen["waiting"] == {s: held for s in seen["waiting"]}, seen
    assert set(seen["waiting"]) == {
        "learning_activity",
        "family_contact",
        "learner_profile",
        "term_outcomes",
    }
    assert seen["holding_runs"] == [backfill]
    assert f"(bantay_features run {backfill} running)" in seen["why"][0]
