"""bantay_training with ``approval: manual``: a person approves, then rejects, through Airflow's API.

Everything is real: the DAG runs with ``dag.test()`` (Feast, the simulator, a PostgreSQL registry,
an S3 endpoint); while ``manual_approval`` waits in ``awaiting_input``, a reviewer logged in to
Airflow's core REST API (in-process, see ``tests/hitl_support.py``) finds the request among the
pending ones and answers it with ``PATCH .../hitlDetails``, as the Required Actions page does.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from support.airflow_runs import run_dag, task_states
from support.hitl import REVIEWER, airflow_api, answer_when_asked  # noqa: F401
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import moto_s3  # noqa: F401

pytestmark = pytest.mark.integration

MODEL = "learner_risk"
DAG_ID = "bantay_training_learner_risk"
LIFECYCLE = {"env": {"BANTAY_MODELS": json.dumps([{"name": MODEL, "approval": "manual"}])}}
APPROVE_NOTE = "looks good"
REJECT_NOTE = "recall gap on region=north too wide; wait for the attendance feed fix"


def _as_of(env) -> dt.datetime:
    return dt.datetime.combine(env.last_day + dt.timedelta(days=1), dt.time(), dt.UTC)


def _run_and_answer(env, api, logical_date: dt.datetime, choice: str, note: str, reason: str):
    with answer_when_asked(
        api, dag_id=DAG_ID, task_id="manual_approval", choice=choice, note=note
    ) as answer:
        run = run_dag(DAG_ID, logical_date, {"reason": reason, "as_of": _as_of(env).isoformat()})
    return run, answer


def _version_of(reg, run):
    mine = [v for v in reg.versions.of(MODEL) if v.airflow_run_id == run.run_id]
    assert len(mine) == 1, f"expected one version registered by {run.run_id}, got {mine}"
    return mine[0]


@pytest.fixture(scope="module")
def approved(lifecycle_env, airflow_api):  # noqa: F811
    run, answer = _run_and_answer(
        lifecycle_env, airflow_api, _as_of(lifecycle_env), "Approve", APPROVE_NOTE, "first model"
    )
    return lifecycle_env, run, answer


@pytest.fixture(scope="module")
def rejected(approved, airflow_api):  # noqa: F811
    env, first_run, _ = approved
    run, answer = _run_and_answer(
        env,
        airflow_api,
        _as_of(env) + dt.timedelta(hours=1),  # a new logical date: a new run, a new version
        "Reject",
        REJECT_NOTE,
        "second opinion",
    )
    return env, first_run, run, answer


def test_config_asks_for_manual_approval(lifecycle_env):  # noqa: F811
    """Guard for everything below: BANTAY_MODELS (JSON) reached the settings."""
    assert lifecycle_env.settings().model(MODEL).approval == "manual"


def test_approve_via_rest_api_promotes_the_version(approved):
    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for

    env, run, answer = approved
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["auto_approve"] == "skipped", states
    assert states["manual_approval"] == "success", states
    assert states["publish_and_promote"] == "success", states

    settings = env.settings()
    reg = registry_for(settings)
    version = _version_of(reg, run)
    # The reviewer saw this run's request, rendered: the version in the subject, the gate below.
    assert answer.run_id == run.run_id
    assert answer.request["subject"] == f"Approve {MODEL} {version.version} for production?"
    assert "quality.roc_auc" in answer.request["body"]
    assert (
        f"model.joblib sha256 {version.lineage['artifacts']['model.joblib']}"
        in (answer.request["body"])
    )
    assert answer.request["options"] == ["Approve", "Reject"]
    assert answer.response["responded_by"]["name"] == REVIEWER
    assert answer.response["chosen_options"] == ["Approve"]

    assert version.status == "production"
    assert [v.status for v in reg.versions.of(MODEL)] == ["production"]
    assert model_store_for(settings).pointers.current(MODEL)["version"] == version.version
    assert [p.to_version for p in reg.promotions.of(MODEL)] == [version.version]
    # Promoted under the name of the person who approved it, not the run's.
    assert [p.actor for p in reg.promotions.of(MODEL)] == [REVIEWER]


def test_approval_keeps_who_approved_and_their_note(approved):
    from bantay.stores.registry import registry_for

    env, run, _ = approved
    reg = registry_for(env.settings())
    version = _version_of(reg, run)
    # The approval names the artifact the gate evaluated, by digest.
    sha = version.lineage["artifacts"]["model.joblib"]
    assert version.status_reason == (
        f"approved by {REVIEWER}: {APPROVE_NOTE} (model.joblib sha256 {sha[:12]})"
    )


def test_reject_via_rest_api_skips_publish_and_keeps_production(rejected):
    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for

    env, first_run, run, answer = rejected
    states = task_states(run)
    assert str(run.state) == "success", states  # a rejection is an answer, not a failure
    assert states["manual_approval"] == "success", states
    assert states["publish_and_promote"] == "skipped", states

    settings = env.settings()
    reg = registry_for(settings)
    first = _version_of(reg, first_run)
    second = _version_of(reg, run)
    assert second.version != first.version
    assert answer.run_id == run.run_id
    assert answer.request["subject"] == f"Approve {MODEL} {second.version} for production?"
    assert answer.response["chosen_options"] == ["Reject"]

    assert second.status == "rejected"
    assert second.rejection_reason == f"rejected by {REVIEWER}: {REJECT_NOTE}"
    assert reg.versions.get(MODEL, first.version).status == "production"
    store = model_store_for(settings)
    assert store.pointers.current(MODEL)["version"] == first.version
    assert [p.to_version for p in reg.promotions.of(MODEL)] == [first.version]
    # Never published: nothing of the rejected version reached the bucket.
    prefix = store.objects.version_key(MODEL, second.version, "")
    listed = env.s3.list_objects_v2(Bucket=env.bucket, Prefix=prefix)
    assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
