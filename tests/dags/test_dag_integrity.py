"""Integrity and policy over every DAG file: imports cleanly, no Connection/Variable lookups at
parse time, owner, tags, retries, static start_date, explicit catchup, docs."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))


class _Forbidden(AssertionError):
    pass


@pytest.fixture(scope="module")
def dagbag():
    """Parse dags/ with Connection and Variable lookups made to fail loudly."""
    from unittest import mock

    from airflow.dag_processing.dagbag import DagBag

    def forbid(*args, **kwargs):
        raise _Forbidden(f"Connection/Variable lookup at parse time: {args} {kwargs}")

    # Fakes at the boundary: any lookup during parsing is a policy failure.
    with (
        mock.patch("airflow.sdk.BaseHook.get_connection", side_effect=forbid),
        mock.patch("airflow.sdk.Variable.get", side_effect=forbid),
        mock.patch(
            "airflow.models.connection.Connection.get_connection_from_secrets", side_effect=forbid
        ),
        mock.patch("airflow.models.variable.Variable.get", side_effect=forbid),
    ):
        bag = DagBag(str(ROOT / "dags"))
    return bag


def test_dag_files_exist():
    assert DAG_FILES, "no DAG files found under dags/"


def test_every_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}, dagbag.import_errors


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_one_dag_per_file_named_like_the_file(dagbag, path):
    """One DAG named like the file, or one per configured model named ``<file>_<model>``."""
    from bantay.settings import get_settings

    dags = sorted(d.dag_id for d in dagbag.dags.values() if Path(d.fileloc).name == path.name)
    per_model = sorted(f"{path.stem}_{m.name}" for m in get_settings().models)
    assert dags in ([path.stem], per_model), dags


def test_policies(dagbag):
    assert dagbag.dags
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags and "bantay" in dag.tags, f"{dag_id}: tag it 'bantay'"
        assert dag.doc_md and len(dag.doc_md) > 200, (
            f"{dag_id}: doc_md=__doc__ with a real description"
        )
        assert dag.max_active_runs is not None and dag.max_active_runs <= 3, dag_id
        assert dag.start_date is not None and dag.start_date < dt.datetime(
            2026, 6, 1, tzinfo=dt.UTC
        ), f"{dag_id}: static start_date"
        for task in dag.tasks:
            assert task.owner == "bantay", f"{dag_id}.{task.task_id}: owner"
            is_human = getattr(task, "response_timeout", None) is not None
            assert is_human or task.retries >= 2, f"{dag_id}.{task.task_id}: retries >= 2"
            # A human-in-the-loop task is bounded by its response timeout instead.
            timeout = task.execution_timeout or getattr(task, "response_timeout", None)
            assert timeout is not None, f"{dag_id}.{task.task_id}: execution_timeout"
            assert task.on_failure_callback, f"{dag_id}.{task.task_id}: failure notifier"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_every_dag_uses_the_shared_header_and_no_clock(path):
    """Every DAG is declared with ``bantay_dag`` (one header: no catch-up, one active run, a
    static start date); a bare ``@dag`` would bypass it. No now() in a DAG file: runs key on the
    logical date."""
    source = path.read_text()
    calls = {
        getattr(node.func, "id", "")
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
    }
    assert "dag" not in calls and "DAG" not in calls, f"{path.name}: declare it with bantay_dag"
    assert "bantay_dag" in calls, path.name
    assert "now(" not in source, (
        f"{path.name}: no now() in a DAG file; key runs on the logical date"
    )


def test_no_catch_up_and_one_active_run(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.catchup is False and dag.max_active_runs == 1, dag_id


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_no_heavy_module_level_imports(path):
    heavy = {
        "pandas",
        "numpy",
        "sklearn",
        "feast",
        "evidently",
        "boto3",
        "sqlalchemy",
        "pyarrow",
        "matplotlib",
    }
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.module or "").split(".")[0]]
        else:
            continue
        assert not heavy.intersection(names), f"{path.name}: heavy import at module level: {names}"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_loads_no_provider_asset_handlers(path):
    """An Asset URI scheme a provider could claim makes Airflow load every provider's URI
    normalizers (boto3 among them) on each parse; the project's scheme must not."""
    import subprocess
    import sys

    code = (
        "import runpy, sys, airflow.sdk\n"
        f"runpy.run_path({str(path)!r}, run_name='parsed')\n"
        "loaded = [m for m in ('boto3', 'airflow.providers.amazon.aws.hooks.s3') if m in sys.modules]\n"
        "print('LOADED=' + ','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = [ln for ln in done.stdout.splitlines() if ln.startswith("LOADED=")]
    assert loaded == ["LOADED="], f"parsing {path.name} imported {loaded}"


def test_training_wiring_reports_a_rejection_without_publishing_it(dagbag):
    """What the outcome e-mail relies on: the gate skips only the approval branch, so
    tell_on_call still runs after a rejection, while publish_and_promote hangs on the approvals
    alone (nothing that succeeded before the gate can meet its trigger rule)."""
    from bantay.settings import get_settings

    for model in get_settings().models:
        dag = dagbag.dags[f"bantay_training_{model.name}"]
        assert dag.get_task("gate_passed").ignore_downstream_trigger_rules is False
        assert dag.get_task("gate_passed").downstream_task_ids == {"approval_mode"}
        publish = dag.get_task("publish_and_promote")
        assert publish.upstream_task_ids == {"auto_approve", "manual_approval"}
        assert publish.trigger_rule == "none_failed_min_one_success"
        tell = dag.get_task("tell_on_call")
        assert tell.upstream_task_ids == {"plan", "evaluate", "publish_and_promote"}
        assert tell.trigger_rule == "none_failed"
        assert not tell.downstream_task_ids
        assert dag.get_task("manual_approval").notifiers, "the waiting e-mail"
