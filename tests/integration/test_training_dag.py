"""bantay_training end to end: real Feast (point-in-time join), the simulator, a real PostgreSQL
registry, a real S3 endpoint, and Airflow's dag.test()."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from airflow_support import run_dag, task_states
from fixtures_services import moto_s3  # noqa: F401
from lifecycle_env import lifecycle_env  # noqa: F401

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
    versions = reg.list_versions("learner_risk")
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
    assert store.pointer("learner_risk")["version"] == version.version
    model, manifest = store.load_production("learner_risk")
    assert manifest["lineage"]["training_rows"] > 1000
    assert [p.to_version for p in reg.promotions("learner_risk")] == [version.version]


def test_point_in_time_features_never_come_from_after_the_label(first_run):
    """Compare Feast's join with an as-of join done by hand, and make sure a later value existed
    that a leaky join would have picked."""
    env, run = first_run
    settings = env.settings()
    from bantay.training.tasks import RunContext, run_dir

    training = pd.read_parquet(
        run_dir(RunContext("learner_risk", run.run_id, _as_of(env), "")) / "training.parquet"
    )
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
    from bantay.training.tasks import RunContext, evaluate_candidate, trials, tune_one

    env, run = first_run
    settings = env.settings()
    ctx = RunContext("learner_risk", "manual__rerun-check", _as_of(env), "re-run check")
    from bantay.training.tasks import build_training_set

    training = build_training_set(settings, ctx)
    results = [tune_one(settings, ctx, training, t) for t in trials(settings, "learner_risk")[:1]]
    first = evaluate_candidate(settings, ctx, training, results)
    second = evaluate_candidate(settings, ctx, training, results)
    reg = registry_for(settings)
    mine = [v for v in reg.list_versions("learner_risk") if v.airflow_run_id == ctx.run_id]
    assert len(mine) == 1
    assert mine[0].version == second["version"] == first["version"]


def test_shuffled_labels_are_rejected_and_never_promoted(first_run):
    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for
    from bantay.training.tasks import (
        RunContext,
        _split,
        build_training_set,
        evaluate_candidate,
        publish_and_promote,
        trials,
        tune_one,
    )

    env, _ = first_run
    settings = env.settings()
    ctx = RunContext("learner_risk", "manual__shuffled", _as_of(env), "shuffled labels")
    training = build_training_set(settings, ctx)
    # Shuffle the labels the candidate learns from (train + validation), not the test labels both
    # models are judged on: the candidate learns noise, production still scores well on test.
    frame = pd.read_parquet(training["path"])
    test_start = pd.Timestamp(_split(settings, ctx, training["path"]).boundaries["test_start"])
    learn = frame["event_timestamp"] < test_start
    shuffled = np.random.default_rng(0).permutation(frame.loc[learn, "at_risk"].to_numpy())
    frame.loc[learn, "at_risk"] = shuffled
    frame.to_parquet(training["path"], index=False)
    results = [tune_one(settings, ctx, training, t) for t in trials(settings, "learner_risk")]
    evaluation = evaluate_candidate(settings, ctx, training, results)
    assert evaluation["passed"] is False
    reasons = " ".join(evaluation["reasons"])
    assert "quality.roc_auc" in reasons and "regression.pr_auc" in reasons
    reg = registry_for(settings)
    record = reg.get_version("learner_risk", evaluation["version"])
    assert record.status == "rejected" and "quality.roc_auc" in record.rejection_reason
    before = model_store_for(settings).pointer("learner_risk")
    with pytest.raises(RuntimeError, match="only an approved version is published"):
        publish_and_promote(settings, ctx, evaluation["version"])
    assert model_store_for(settings).pointer("learner_risk") == before


def test_force_without_reason_fails_clearly(first_run):
    env, _ = first_run
    run = run_dag(
        "bantay_training_learner_risk",
        dt.datetime.fromisoformat(_as_of(env)) + dt.timedelta(hours=1),
        {"reason": "try force", "force": True, "force_reason": "  ", "as_of": _as_of(env)},
    )
    assert task_states(run)["plan"] == "failed"
