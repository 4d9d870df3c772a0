"""The end-to-end episode on Airflow's CeleryExecutor, configured from docker/airflow.env (the
compose stack's executor settings): a Celery worker process, Redis on loopback as broker (its own
database, flushed before and after), a fresh PostgreSQL database as metadata database and result
backend. Same episode and checks as the LocalExecutor run (tests/integration/test_e2e_scheduler.py),
plus who ran what: every task instance's hostname (Airflow's REST API) is the Celery worker's node
name, and that worker answered on the broker. ``make test-celery``.
"""

from __future__ import annotations

import collections

import pytest

from support import e2e_episode as e2e
from support.e2e_episode import (  # noqa: F401  (collected here: the episode's checks)
    test_emails_were_received,
    test_one_retrain_for_the_drift_episode_and_it_is_in_production,
    test_runs_happen_in_lifecycle_order,
    test_the_catch_up_run_scored_every_day_before_the_first_check,
    test_the_drift_retrain_waited_for_a_person_who_approved_it,
    test_the_gate_and_the_verdict_are_in_the_task_logs,
    test_the_retrain_learned_the_drift_and_the_alarm_cleared_because_of_it,
)
from support.services import redis_address, redis_database

pytest.importorskip("airflow.providers.celery", reason="the celery extra: run make test-celery")

pytestmark = pytest.mark.celery

BROKER_DB = 11  # dedicated to this tier
# The episode takes minutes on a quiet machine; on a shared one at load 15 it took over 25.
EPISODE_TIMEOUT = 2700


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    broker = f"redis://{redis_address()}/{BROKER_DB}"
    with (
        redis_database(BROKER_DB),
        e2e.episode(
            tmp_path_factory.mktemp("e2e-celery"),
            "--executor",
            "celery",
            "--celery-broker",
            broker,
            timeout=EPISODE_TIMEOUT,
        ) as result,
    ):
        yield result


def test_every_task_ran_on_the_celery_worker(lifecycle):
    import celery_stack

    summary, home = lifecycle
    assert summary["executor"] == "CeleryExecutor"
    workers = summary["celery_workers"]
    assert len(workers) == 1 and workers[0].startswith("bantay-worker-"), workers
    ran = [ti for ti in summary["task_instances"] if ti["state"] in ("success", "failed")]
    assert len(ran) > 50
    lines = [
        f"{ti['hostname']}  pid {ti['pid']}  {ti['dag_id']}.{ti['task_id']}"
        + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
        + f"  {ti['dag_run_id']}  {ti['state']}"
        for ti in ran
    ]
    log = home / "celery_tasks.log"
    log.write_text("\n".join(lines) + "\n")
    by_worker = collections.Counter(ti["hostname"] for ti in ran)
    print(f"task instances by Celery worker: {dict(by_worker)} (full list: {log})")
    print("\n".join(lines[:12] + ["..."] + lines[-8:]))
    assert set(by_worker) == set(workers), by_worker
    # The executor settings came from the file the compose stack uses.
    shared = celery_stack.read_env_file()
    assert shared["AIRFLOW__CORE__EXECUTOR"] == summary["executor"]
