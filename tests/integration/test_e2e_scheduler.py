"""The whole lifecycle through Airflow's real scheduler (not dag.test) with the LocalExecutor and
PostgreSQL as the Airflow metadata database: scripts/demo.py at a smaller scale, then the chain is
asserted from Airflow's REST API records and bantay's registry (summary.json) and the SMTP sink's
files. tests/celery/ runs the same episode and checks on the CeleryExecutor."""

from __future__ import annotations

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

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    with e2e.episode(tmp_path_factory.mktemp("e2e")) as result:
        yield result
