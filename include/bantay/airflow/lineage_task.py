"""``@lineage_task``: a TaskFlow task whose body reports the datasets it read and wrote.

Airflow's OpenLineage provider asks an operator for its lineage through
``get_openlineage_facets_on_complete`` (the provider's ``DefaultExtractor``); a plain ``@task``
has none, and lineage reported through hooks arrives without facets. So a bantay task body calls
:func:`report` with the datasets built by :mod:`bantay.airflow.lineage`, and this operator hands
them to the provider when the task completes. Without the provider, or without a transport
configured, nothing is emitted and :func:`report` only keeps a small list until the task ends.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.decorators.python import _PythonDecoratedOperator
from airflow.sdk.bases.decorator import task_decorator_factory

_REPORTED: dict[tuple, dict[str, list]] = {}
# Without the provider nobody collects what tasks report: a long-lived worker keeps only the
# newest reports (a few small objects each), never a growing list.
MAX_KEPT = 64


def _key(ti: Any) -> tuple:
    return (ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1))


def report(inputs: list, outputs: list) -> None:
    """Record datasets read (``inputs``) and written (``outputs``) by the running task."""
    from airflow.sdk import get_current_context

    entry = _REPORTED.setdefault(_key(get_current_context()["ti"]), {"in": [], "out": []})
    entry["in"].extend(inputs)
    entry["out"].extend(outputs)
    while len(_REPORTED) > MAX_KEPT:
        _REPORTED.pop(next(iter(_REPORTED)))  # the oldest report nobody collected


def reported(ti: Any) -> tuple[list, list]:
    """What the task instance ``ti`` reported, forgotten once read."""
    entry = _REPORTED.pop(_key(ti), {"in": [], "out": []})
    return entry["in"], entry["out"]


class LineageOperator(_PythonDecoratedOperator):
    """A decorated Python task that gives the OpenLineage provider what its body reported."""

    custom_operator_name = "@lineage_task"

    def execute(self, context):
        _REPORTED.pop(_key(context["ti"]), None)  # a retry starts clean
        return super().execute(context)

    def get_openlineage_facets_on_complete(self, task_instance):
        from airflow.providers.openlineage.extractors import OperatorLineage

        inputs, outputs = reported(task_instance)
        return OperatorLineage(inputs=inputs, outputs=outputs)


def lineage_task(python_callable=None, **kwargs):
    """``@task`` for a task that reports lineage with :func:`report`; same arguments."""
    return task_decorator_factory(
        python_callable=python_callable, decorated_operator_class=LineageOperator, **kwargs
    )
