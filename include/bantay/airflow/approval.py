"""Human approval of a model version in the Airflow UI (Required Actions), recorded in the registry.

``GateApprovalOperator`` is Airflow's ``ApprovalOperator`` with the validation gate's report as its
body and one more step when the person answers: the decision, who made it and their note are
written to the registry, so a rejection is kept with its reason even though the operator then
skips everything downstream.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import Param


class GateApprovalOperator(ApprovalOperator):
    def __init__(self, *, evaluate_task_id: str, plan_task_id: str, **kwargs: Any) -> None:
        kwargs.setdefault(
            "params",
            {
                "note": Param(
                    "", type="string", title="Why (kept in the registry and the audit log)"
                )
            },
        )
        super().__init__(**kwargs)
        self.evaluate_task_id = evaluate_task_id
        self.plan_task_id = plan_task_id

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from bantay.settings import get_settings
        from bantay.training.tasks import RunContext, record_approval

        approved = (
            event.get("chosen_options", [None])[0] == self.APPROVE
            if "error" not in event
            else False
        )
        if "error" not in event:
            ti = context["ti"]
            ctx = RunContext(**ti.xcom_pull(task_ids=self.plan_task_id))
            version = ti.xcom_pull(task_ids=self.evaluate_task_id)["version"]
            user = event.get("responded_by_user") or {}
            by = (
                user.get("name") or user.get("id") or "unknown"
                if isinstance(user, dict)
                else str(user)
            )
            note = (event.get("params_input") or {}).get("note") or "no note"
            record_approval(get_settings(), ctx, version, approved, by, note)
        return super().execute_complete(context=context, event=event)
