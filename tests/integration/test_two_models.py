"""Two models in one episode, through the real DAGs (dag.test) against real Feast, S3 (moto over
HTTP), PostgreSQL and SMTP, configured by the shipped bantay.yaml: each model trains on its own
label and feature service, is scored and watched on its own features, and keeps its own history.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bantay import simulate as sim
from support.airflow_runs import ROOT, run_dag, task_states
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import moto_s3  # noqa: F401
from support.smtp import running_smtp_server, smtp_conn_json

pytestmark = pytest.mark.integration

LAST = dt.date(2026, 11, 1)
LIFECYCLE = {
    "days": 66,
    "last_day": LAST,
    "scenario": sim.Scenario(learners=2500, seed=31),
    "env": {"BANTAY_CONFIG": str(ROOT / "bantay.yaml")},
}
MODELS = {"learner_risk": "at_risk", "learner_engagement": "disengaged"}
CHECK_DAY = LAST - dt.timedelta(days=1)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


@pytest.fixture(scope="module")
def episode(lifecycle_env):  # noqa: F811
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import store as feature_store
    from support.serving_steps import score

    env = lifecycle_env
    settings = env.settings()
    assert [m.name for m in settings.models] == list(MODELS)
    as_of = _midnight(CHECK_DAY - dt.timedelta(days=8))
    training = {
        model: run_dag(
            f"bantay_training_{model}",
            as_of,
            {"reason": "two-model episode", "as_of": as_of.isoformat()},
        )
        for model in MODELS
    }
    for day in (CHECK_DAY - dt.timedelta(days=i) for i in range(7, 0, -1)):
        materialize(
            [day],
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        for model in MODELS:
            score(settings, model, day)
    materialize(
        [CHECK_DAY],
        feast=feature_store(settings),
        lateness_days=settings.features.contract.max_lateness_days,
    )
    scoring = run_dag("bantay_scoring", _midnight(LAST), {"date": CHECK_DAY.isoformat()})
    with running_smtp_server() as smtp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_json(smtp.host, smtp.port))
        drift = run_dag("bantay_drift", _midnight(LAST), {"date": CHECK_DAY.isoformat()})
        subjects = [m.content for m in smtp.handler.messages]
    return env, training, scoring, drift, subjects


def test_each_model_trains_on_its_own_label_and_feature_service(episode):
    from bantay.stores.model_store import model_store_for

    env, training, *_ = episode
    store = model_store_for(env.settings())
    manifests = {}
    for model, label in MODELS.items():
        assert str(training[model].state) == "success", task_states(training[model])
        pointer = store.pointers.current(model)
        manifests[model] = store.versions.manifest(model, pointer["version"])
        assert manifests[model]["label"] == label
        assert (
            manifests[model]["lineage"]["feature_service"]
            == env.settings().model(model).feature_service
        )
    risk = set(manifests["learner_risk"]["features"]["numerical"])
    engagement = set(manifests["learner_engagement"]["features"]["numerical"])
    assert "calls_with_parent" in risk and "calls_with_parent" not in engagement
    assert engagement < risk


def test_scoring_runs_every_model_on_its_own_features(episode):
    env, _, scoring, *_ = episode
    assert str(scoring.state) == "success", task_states(scoring)
    logs = {m: pd.read_parquet(env.settings().layout.prediction_path(m, CHECK_DAY)) for m in MODELS}
    for log in logs.values():
        assert len(log) > 2000 and log["score"].between(0, 1).all()
    assert (
        "calls_with_parent" in logs["learner_risk"]
        and "calls_with_parent" not in logs["learner_engagement"]
    )
    assert not logs["learner_risk"]["score"].equals(logs["learner_engagement"]["score"])


def test_drift_checks_each_model_and_keeps_its_own_history(episode):
    from bantay.stores.registry import registry_for

    env, *_, drift, messages = episode
    states = task_states(drift)
    for model in MODELS:
        assert states[f"{model}.check"] == "success" and states[f"{model}.email"] == "success", (
            states
        )
    reg = registry_for(env.settings())
    for model in MODELS:
        (report,) = reg.drift.reports(model, since=CHECK_DAY)
        # Watched on its own features only: no family-contact column for the engagement model.
        watched = set(report.feature_scores)
        assert ("calls_with_parent" in watched) == (model == "learner_risk"), watched
        assert report.verdict != "DATA QUALITY", report.feature_scores
    assert len(messages) == len(MODELS)
