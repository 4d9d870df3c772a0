"""Human approval of a model version in the Airflow UI (Required Actions), recorded in the registry.

``GateApprovalOperator`` is Airflow's ``ApprovalOperator`` with the validation gate's report as its
body and two more steps. When the request is written and the wait starts, a run started by a drift
event tells on-call that the candidate waits for them (:class:`WaitingForApprovalNotifier`). When
the person answers, the decision, who made it and their note are written to the registry, so a
rejection is kept with its reason even though the operator then skips publishing.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import BaseNotifier, Param
from airflow.sdk.definitions.param import ParamsDict


class WaitingForApprovalNotifier(BaseNotifier):
    """The "candidate waits for your approval" e-mail of a drift-triggered run.

    Airflow calls a HITL operator's notifiers once the request exists, just before the task
    waits; the e-mail goes out then, not when the answer comes. Other runs send nothing, and a
    failed send is only a warning: the request is in the UI either way.
    """

    def __init__(self, *, plan_task_id: str, evaluate_task_id: str) -> None:
        super().__init__()
        self.plan_task_id = plan_task_id
        self.evaluate_task_id = evaluate_task_id

    def notify(self, context: Any) -> None:
        from bantay.airflow.edge import for_model
        from bantay.notify.mailer import airflow_run_url
        from bantay.notify.outcome import retrain_outcome, send_retrain_outcome

        ti = context["ti"]
        ctx = ti.xcom_pull(task_ids=self.plan_task_id)
        evaluation = ti.xcom_pull(task_ids=self.evaluate_task_id)
        outcome = retrain_outcome(ctx.get("trigger"), passed=evaluation["passed"], waiting=True)
        if outcome is None:
            return
        res = for_model(ctx["model"])
        dag_run = context["dag_run"]
        url = airflow_run_url(res.settings.notify.airflow_base_url, dag_run.dag_id, dag_run.run_id)
        sent = send_retrain_outcome(
            ctx,
            evaluation,
            outcome,
            url,
            notify=res.settings.notify,
            model=res.model,
            layout=res.layout,
        )
        self.log.info("told on-call: %s (sent: %s)", sent["subject"], sent["sent"])


NOTE = "note"
AUTO_APPROVER = "bantay (approval: auto)"


def responder(answer: dict[str, Any]) -> str:
    """The name of the person who answered a request, from its trigger event or the operator's
    XCom (both carry ``responded_by_user``)."""
    user = answer.get("responded_by_user") or {}
    if isinstance(user, dict):
        return str(user.get("name") or user.get("id") or "unknown")
    return str(user)


def approver(manual: dict[str, Any] | None) -> str:
    """Who approved a run's candidate: the person who answered ``manual_approval`` (its XCom),
    else the auto mode. The promotion is recorded under this name, not the run's."""
    return responder(manual) if manual else AUTO_APPROVER


def note_param() -> Param:
    """The form field of the request: why the person decided, kept with their name."""
    return Param(
        "", type="string", title="Why (kept in the registry and the audit log)", source="task"
    )


class GateApprovalOperator(ApprovalOperator):
    def __init__(self, *, evaluate_task_id: str, plan_task_id: str, **kwargs: Any) -> None:
        # By the time this runs, Airflow has already filled ``params`` with the DAG's params, so a
        # default would never apply; and the Required Actions form shows only the task's own
        # params (those whose source is "task"). The note is therefore added to what is there.
        params = ParamsDict(kwargs.pop("params", None) or {})
        if NOTE not in ParamsDict.filter_params_by_source(params, source="task"):
            params[NOTE] = note_param()
        kwargs["params"] = params
        kwargs.setdefault(
            "notifiers",
            [
                WaitingForApprovalNotifier(
                    plan_task_id=plan_task_id, evaluate_task_id=evaluate_task_id
                )
            ],
        )
        super().__init__(**kwargs)
        self.evaluate_task_id = evaluate_task_id
        self.plan_task_id = plan_task_id

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from bantay.airflow.edge import for_model
        from bantay.training.approval import record_approval
        from bantay.training.run import RunContext

        if "error" not in event:
            ti = context["ti"]
            ctx = RunContext(**ti.xcom_pull(task_ids=self.plan_task_id))
            version = ti.xcom_pull(task_ids=self.evaluate_task_id)["version"]
            # The answer is checked before anything is recorded: the audit trail must never hold
            # a decision that the operator goes on to refuse.
            chosen = list(event.get("chosen_options") or [])
            if len(chosen) != 1 or chosen[0] not in self.options:
                raise ValueError(
                    f"the answer {chosen!r} to the approval of {ctx.model} {version} is not "
                    f"exactly one of {list(self.options)}; nothing was recorded: answer the "
                    "request again with one option"
                )
            self.validate_params_input(event.get("params_input") or {})
            approved = chosen[0] == self.APPROVE
            by = responder(event)
            note = (event.get("params_input") or {}).get(NOTE) or "no note"
            res = for_model(ctx.model)
            record_approval(
                ctx, version, approved, by, note, registry=res.registry, layout=res.layout
            )
        return super().execute_complete(context=context, event=event)
