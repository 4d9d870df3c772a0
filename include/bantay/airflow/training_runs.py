"""What the training DAG needs beyond its wiring: its DAG id, its schedule, how long a run waits
for its window, and which ``bantay_features`` runs are still loading days.

Imported by DAG files at parse time, so it stays light: the features-run lookup imports what it
needs when a task calls it.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

from bantay.airflow.assets import drift_asset
from bantay.settings import ModelSettings, Settings

# How often wait_for_window looks at the lake again; it holds no worker slot in between.
WINDOW_POKE = dt.timedelta(minutes=1)
# The execution_timeout bantay_features gives its validate and materialize tasks.
FEATURES_TASK_TIMEOUT = dt.timedelta(hours=2)
# Task states after which a features run no longer writes the days it planned.
FINISHED_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


def training_dag_id(model: str) -> str:
    return f"bantay_training_{model}"


def training_schedule(model: ModelSettings):
    """The model's drift Asset, or its cron schedule (``training_schedule``) or that Asset."""
    drift = drift_asset(model.name)
    if not model.training_schedule:
        return [drift]
    return AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(model.training_schedule, timezone="UTC"), assets=[drift]
    )


def window_timeout(settings: Settings) -> dt.timedelta:
    """How long a training run waits for its window before failing with the missing days.

    As long as a features run may legitimately still be loading it: the features sensor's own
    wait for late partitions (``features.sensor_timeout_hours``, the setting that moves both)
    plus the time its tasks may take to validate and materialize them. Waiting longer would
    only hide a problem that a person has to fix.
    """
    return dt.timedelta(hours=settings.features.sensor_timeout_hours) + FEATURES_TASK_TIMEOUT


def state_value(value) -> str:
    """A state as its plain value: the Task SDK hands back enums whose str() is their name."""
    return str(getattr(value, "value", value))


def features_runs_in_progress(ti) -> list:
    """The ``bantay_features`` runs queued or running now, with the days each planned.

    Asked through the Task SDK's execution API (counts, task states, the other run's XCom),
    which is what a running task may ask of Airflow's metadata; never at parse time.
    """
    from bantay.features.readiness import FEATURES_DAG_ID, FeaturesRun, plan_days

    active = ("queued", "running")
    if not ti.get_dr_count(dag_id=FEATURES_DAG_ID, states=list(active)):
        return []
    # One row per run: a run whose materialize task has finished writes nothing any more.
    states = ti.get_task_states(dag_id=FEATURES_DAG_ID, task_ids=["materialize"])
    runs = []
    for run_id, tasks in sorted(states.items()):
        if state_value(tasks.get("materialize")) in FINISHED_STATES:
            continue
        state = state_value(ti.get_dagrun_state(dag_id=FEATURES_DAG_ID, run_id=run_id))
        if state not in active:
            continue
        planned = ti.xcom_pull(task_ids="plan", dag_id=FEATURES_DAG_ID, run_id=run_id)
        runs.append(FeaturesRun(run_id, state, plan_days(planned)))
    return runs
