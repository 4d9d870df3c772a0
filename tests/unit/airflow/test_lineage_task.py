"""``@lineage_task``: what a task body reports is what the OpenLineage provider gets on
completion, for that task instance only, once."""

from __future__ import annotations

from types import SimpleNamespace

import airflow.sdk
from airflow.sdk import DAG

from bantay.airflow import lineage
from bantay.airflow.lineage_task import MAX_KEPT, LineageOperator, lineage_task, report, reported


def _ti(task_id: str, run_id: str = "r1"):
    return SimpleNamespace(dag_id="d", task_id=task_id, run_id=run_id, map_index=-1)


def _as(monkeypatch, ti) -> None:
    """Stands in for Airflow's running-task context: report() reads only its ``ti``."""
    monkeypatch.setattr(airflow.sdk, "get_current_context", lambda: {"ti": ti})


def test_the_decorator_builds_a_lineage_operator():
    with DAG("d", schedule=None):

        @lineage_task(task_id="t")
        def body():
            return 1

        op = body().operator
    assert isinstance(op, LineageOperator)
    assert callable(op.get_openlineage_facets_on_complete)


def test_reported_datasets_reach_the_provider_once_and_only_for_their_task(monkeypatch):
    with DAG("d", schedule=None):
        op = lineage_task(task_id="t")(lambda: None)().operator
    inputs, outputs = lineage.scoring_lineage("p", "m", ["v"], None, ("b", "x"))
    _as(monkeypatch, _ti("t"))
    report(inputs, outputs)
    _as(monkeypatch, _ti("other"))
    report([lineage.input_dataset("p", "raw/elsewhere")], [])

    got = op.get_openlineage_facets_on_complete(_ti("t"))
    assert [d.name for d in got.inputs] == ["feast/feature_view/v"]
    assert [d.name for d in got.outputs] == ["predictions/m"]
    again = op.get_openlineage_facets_on_complete(_ti("t"))
    assert again.inputs == [] and again.outputs == []


def test_reports_nobody_collects_do_not_pile_up(monkeypatch):
    """Without the provider no one reads the reports: only the newest MAX_KEPT stay."""
    for i in range(MAX_KEPT + 10):
        _as(monkeypatch, _ti("t", run_id=f"run-{i}"))
        report([lineage.input_dataset("p", "raw/x")], [])
    assert reported(_ti("t", run_id="run-0")) == ([], [])  # the oldest was let go
    newest, _ = reported(_ti("t", run_id=f"run-{MAX_KEPT + 9}"))
    assert [d.name for d in newest] == ["raw/x"]
