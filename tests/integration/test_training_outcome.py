"""bantay_training tells on-call what a drift-triggered retrain led to, and says nothing otherwise.

Real Airflow (``dag.test()``), Feast, the simulator, a PostgreSQL registry, an S3 endpoint and an
SMTP server on loopback. A manual run trains the first production model and sends nothing; then a
run started by a ``drift/<model>`` event, under a gate no candidate can pass, is rejected: the
e-mail says so first, with the candidate against production on the same test rows, and
production stays where it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import json
from collections.abc import Iterator
from unittest import mock

import pytest

from support.airflow_runs import run_dag, task_states
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import moto_s3  # noqa: F401
from support.smtp import running_smtp_server, smtp_conn_json, table_rows

pytestmark = pytest.mark.integration

MODEL = "learner_risk"
DAG_ID = f"bantay_training_{MODEL}"
TO = ["oncall@example.org", "ml-team@example.org"]
LIFECYCLE = {"env": {"BANTAY_MODELS": json.dumps([{"name": MODEL, "recipients": TO}])}}
DRIFT_DAY = "2026-10-31"


def _as_of(env) -> dt.datetime:
    return dt.datetime.combine(env.last_day + dt.timedelta(days=1), dt.time(), dt.UTC)


@contextlib.contextmanager
def _started_by_drift() -> Iterator[None]:
    """The run ``dag.test()`` creates, made the one the scheduler would create for a drift event.

    ``dag.test()`` always creates a manual run without asset events; the scheduler would create
    an asset-triggered run that consumed ``drift/<model>``. This stands in for that one step (the
    run gets the event bantay_drift would have emitted); every task then runs for real and reads
    the event through Airflow's own context.
    """
    from airflow.models import dagrun as dagrun_module
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.types import DagRunType
    from sqlalchemy import select

    create_run = dagrun_module.get_or_create_dagrun

    def asset_triggered(*, session, **kwargs):
        run = create_run(session=session, **kwargs)
        asset = session.scalar(select(AssetModel).where(AssetModel.name == f"drift/{MODEL}"))
        event = AssetEvent(
            asset_id=asset.id,
            extra={
                "summary": f"[bantay] DRIFT {MODEL} {DRIFT_DAY}: retraining started",
                "report_json": f"s3://bantay/reports/drift/{MODEL}/{DRIFT_DAY}/report.json",
                "date": DRIFT_DAY,
            },
            source_dag_id="bantay_drift",
            source_task_id=f"{MODEL}.retrain",
            source_run_id=f"scheduled__{DRIFT_DAY}T06:00:00+00:00",
        )
        session.add(event)
        run.run_type = DagRunType.ASSET_TRIGGERED
        run.consumed_asset_events.append(event)
        session.commit()
        return run

    with mock.patch.object(dagrun_module, "get_or_create_dagrun", asset_triggered):
        yield


@pytest.fixture(scope="module")
def smtp(lifecycle_env):  # noqa: F811
    with running_smtp_server() as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_json(server.host, server.port))
        yield server


@pytest.fixture(scope="module")
def first_run(lifecycle_env, smtp):  # noqa: F811
    as_of = _as_of(lifecycle_env)
    run = run_dag(DAG_ID, as_of, {"reason": "first model", "as_of": as_of.isoformat()})
    return lifecycle_env, run, len(smtp.messages)


@pytest.fixture(scope="module")
def rejected_by_drift(first_run, smtp):
    from bantay.settings import get_settings

    env, _, _ = first_run
    as_of = _as_of(env)
    strict = [{"name": MODEL, "recipients": TO, "gate": {"min_roc_auc": 0.99}}]
    with pytest.MonkeyPatch.context() as mp, _started_by_drift():
        mp.setenv("BANTAY_MODELS", json.dumps(strict))  # a gate no candidate passes
        get_settings.cache_clear()
        try:
            run = run_dag(DAG_ID, as_of + dt.timedelta(hours=1), {"as_of": as_of.isoformat()})
        finally:
            get_settings.cache_clear()
    return env, run


def test_a_manual_run_promotes_and_tells_nobody(first_run):
    _, run, sent = first_run
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["publish_and_promote"] == "success", states
    assert states["tell_on_call"] == "skipped", states
    assert sent == 0


def test_a_drift_run_the_gate_rejects_tells_on_call_and_keeps_production(
    first_run, rejected_by_drift, smtp
):
    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for

    _, first, _ = first_run
    env, run = rejected_by_drift
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["gate_passed"] == "success", states
    for skipped in ("approval_mode", "auto_approve", "manual_approval", "publish_and_promote"):
        assert states[skipped] == "skipped", (skipped, states)
    assert states["tell_on_call"] == "success", states

    reg = registry_for(env.settings())
    by_run = {v.airflow_run_id: v for v in reg.versions.of(MODEL)}
    candidate, production = by_run[run.run_id], by_run[first.run_id]
    assert candidate.status == "rejected" and production.status == "production"
    assert candidate.reason.startswith(f"drift event on {DRIFT_DAY}: ")
    assert model_store_for(env.settings()).pointers.current(MODEL)["version"] == production.version

    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert sorted(received.rcpt_tos) == sorted(TO)
    got = email.message_from_bytes(received.content, policy=email.policy.default)
    assert got["Subject"].startswith(
        f"[bantay] RETRAIN {MODEL}: candidate rejected, production unchanged; {candidate.version}"
    )
    assert "quality.roc_auc" in got["Subject"]
    html = got.get_body(("html",)).get_content()
    # Both columns are the numbers evaluate recorded: candidate and production, same test rows.
    test, prod = candidate.metrics["test"], candidate.metrics["production_on_same_test"]
    rows = {row[0]: row[1:] for row in table_rows(html, "metrics")}
    assert rows["roc_auc"] == [f"{test['roc_auc']:.3f}", f"{prod['roc_auc']:.3f}"]
    assert rows["pr_auc"] == [f"{test['pr_auc']:.3f}", f"{prod['pr_auc']:.3f}"]
    assert f"/dags/{DAG_ID}/runs/{run.run_id}" in html
