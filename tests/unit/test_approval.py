"""The approval operator's answer handling: nothing is recorded for an answer it then refuses."""

from __future__ import annotations

import datetime as dt
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
    monkeypatch.setattr(
        "bantay.training.tasks.record_approval",
        lambda settings, ctx, version, approved, by, note: calls.append((version, approved, by)),
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
    assert recorded == [("v20261122T000000-abc", True, "ana")]
