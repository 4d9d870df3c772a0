"""Helpers to run real Airflow in tests: migrate the metadata DB once, serialize DAGs, dag.test()."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def airflow(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("airflow")
    return subprocess.run(
        [str(exe), *args],
        env=os.environ.copy(),
        check=check,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


@lru_cache(maxsize=1)
def migrated() -> bool:
    """``airflow db migrate`` once per session (the metadata DB lives in the session dir)."""
    airflow("db", "migrate")
    return True


def reserialize() -> None:
    """``dag.test()`` needs the DAG serialized in the metadata DB first."""
    migrated()
    airflow("dags", "reserialize")


def get_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def run_dag(dag_id: str, logical_date: dt.datetime, conf: dict | None = None):
    """Run one DAG for real with ``dag.test()`` and return the finished DagRun."""
    reserialize()
    dag = get_dag(dag_id)
    return dag.test(logical_date=logical_date, run_conf=conf or {})


def task_states(dag_run) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter(
            TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id
        )
        return {ti.task_id: str(ti.state) for ti in tis}
