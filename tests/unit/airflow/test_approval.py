"""The approval operator's answer handling: nothing is recorded for an answer it then refuses."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from bantay.airflow.approval import GateApprovalOperator

PLAN = {
    "model": "learner_risk",
    "run_id": "manual__1",
    "as_of": "2026-11-22T00:00:00+00:00",
    "reason": "weekly",
}


class _Ti:
    def xcom_pull(self, task_ids: str) -> Any:
        return PLAN if task_ids == "plan" else {"version": "v20261122T000000-abc"}


@pytest.fixture
def recorded(monkeypatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    # The operator resolves the model's registry and layout at the edge and hands them in.
    monkeypatch.setattr(
        "bantay.airflow.edge.for_model",
        lambda name: SimpleNamespace(registry=f"registry of {name}", layout="layout"),
    )
    monkeypatch.setattr(
        "bantay.training.approval.record_approval",
        lambda ctx, version, approved, by, note, *, registry, layout: calls.append(
            (version, approved, by, registry)
        ),
    )
    return calls


def _operator() -> GateApprovalOperator:
    return GateApprovalOperator(
        task_id="manual_approval", plan_task_id="plan", evaluate_task_id="evaluate", subject="?"
    )


def _event(options: list[str]) -> dict[str, Any]:
    return {
        "chosen_options": options,
        "params_input": {"note": "looks right"},
        "responded_at": dt.datetime(2026, 11, 22, tzinfo=dt.UTC),
        "responded_by_user": {"id": "1", "name": "ana"},
    }


@pytest.mark.parametrize(
    "options", [["Approve", "bogus"], ["bogus"], ["Approve", "Reject"], []], ids=str
)
def test_an_invalid_answer_is_refused_before_anything_is_recorded(recorded, options):
    with pytest.raises(ValueError, match="nothing was recorded"):
        _operator().execute_complete({"ti": _Ti()}, _event(options))
    assert recorded == []


def test_a_valid_approval_is_recorded_with_who_answered(recorded):
    result = _operator().execute_complete({"ti": _Ti(), "task": None}, _event(["Approve"]))
    assert result["chosen_options"] == ["Approve"]
    assert recorded == [("v20261122T000000-abc", True, "ana", "registry of learner_risk")]
