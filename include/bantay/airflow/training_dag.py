"""The training DAG of one model, built by a factory: ``bantay_training_<model>``.

One DAG per model gives each model its own schedule, its own drift Asset, its own
``max_active_runs=1`` and its own history in the UI; a second model is configuration
(``models:`` in bantay.yaml), never a copied DAG file. Tasks are thin wrappers over
``bantay.training.tasks``; the rules for why and as of when a run happens are in
``bantay.airflow.planning``.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Metadata, Param, dag, task

from bantay.airflow.approval import GateApprovalOperator
from bantay.airflow.assets import drift_asset, production_asset
from bantay.airflow.defaults import START_DATE, default_args
from bantay.settings import ModelSettings, Settings


def training_dag_id(model: str) -> str:
    return f"bantay_training_{model}"


def _schedule(model: ModelSettings):
    drift = drift_asset(model.name)
    if not model.training_schedule:
        return [drift]
    return AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(model.training_schedule, timezone="UTC"), assets=[drift]
    )


def training_dag(settings: Settings, model: ModelSettings, doc_md: str | None = None):
    """Build (and register) the training DAG of ``model``."""
    production = production_asset(model.name)
    name = model.name

    @dag(
        dag_id=training_dag_id(name),
        doc_md=doc_md,
        schedule=_schedule(model),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["bantay", "training", "model", name],
        default_args=default_args(settings, execution_timeout=dt.timedelta(hours=2)),
        params={
            "reason": Param(
                None,
                type=["null", "string"],
                title="Why retrain now (kept with the version)",
                description="Required for a manual run; scheduled and drift runs fill it in.",
            ),
            "force": Param(False, type="boolean", title="Skip the no-regression check"),
            "force_reason": Param(
                None,
                type=["null", "string"],
                title="Why skipping is right",
                description="Required only with force; audited with the version.",
            ),
            "as_of": Param(
                None,
                type=["null", "string"],
                title="As of (ISO time)",
                description="Default: the run's time.",
            ),
        },
    )
    def training():
        @task
        def plan(params: dict, dag_run=None, triggering_asset_events=None) -> dict:
            from airflow.sdk.exceptions import AirflowFailException

            from bantay.airflow.planning import PlanError, events_from_context, plan_training
            from bantay.training.tasks import RunContext

            try:
                p = plan_training(
                    name,
                    params,
                    getattr(dag_run, "run_type", "manual"),
                    events_from_context(triggering_asset_events),
                    dag_run.run_after,
                )
            except PlanError as exc:
                # Bad input does not improve with retries: fail at once, saying what to fill in.
                raise AirflowFailException(str(exc)) from exc
            ctx = RunContext(
                model=name,
                run_id=dag_run.run_id,
                as_of=p.as_of,
                reason=p.reason,
                force_reason=p.force_reason,
            )
            print(f"training {name} ({p.trigger}): {p.reason} (as of {p.as_of})")
            return ctx.to_dict()

        @task
        def training_set(ctx: dict) -> dict:
            from bantay.settings import get_settings
            from bantay.training.tasks import RunContext, build_training_set

            return build_training_set(get_settings(), RunContext(**ctx))

        @task
        def search_space(ctx: dict) -> list[dict]:
            from bantay.settings import get_settings
            from bantay.training.tasks import trials

            return trials(get_settings(), ctx["model"])

        @task(map_index_template="{{ trial['trial_id'] }}")
        def tune(trial: dict, ctx: dict, training: dict) -> dict:
            from bantay.settings import get_settings
            from bantay.training.tasks import RunContext, tune_one

            return tune_one(get_settings(), RunContext(**ctx), training, trial)

        @task
        def evaluate(ctx: dict, training: dict, results: list[dict]) -> dict:
            from bantay.settings import get_settings
            from bantay.training.tasks import RunContext, evaluate_candidate

            return evaluate_candidate(get_settings(), RunContext(**ctx), training, list(results))

        @task.short_circuit
        def gate_passed(evaluation: dict) -> bool:
            if not evaluation["passed"]:
                print("candidate rejected by the gate:\n- " + "\n- ".join(evaluation["reasons"]))
            return evaluation["passed"]

        @task.branch
        def approval_mode() -> str:
            from bantay.settings import get_settings

            mode = get_settings().model(name).approval
            return "manual_approval" if mode == "manual" else "auto_approve"

        @task
        def auto_approve(ctx: dict, evaluation: dict) -> None:
            from bantay.settings import get_settings
            from bantay.training.tasks import RunContext, record_approval

            record_approval(
                get_settings(),
                RunContext(**ctx),
                evaluation["version"],
                True,
                "bantay (approval: auto)",
                "gate passed",
            )

        manual_approval = GateApprovalOperator(
            task_id="manual_approval",
            plan_task_id="plan",
            evaluate_task_id="evaluate",
            subject=f"Approve {name} "
            "{{ ti.xcom_pull(task_ids='evaluate')['version'] }} for production?",
            body="{{ ti.xcom_pull(task_ids='evaluate')['gate_table'] }}",
            response_timeout=dt.timedelta(days=3),
            # A person's answer is not retried: a timed-out request would only ask again.
            retries=0,
        )

        @task(outlets=[production], trigger_rule="none_failed_min_one_success")
        def publish_and_promote(ctx: dict, evaluation: dict):
            from bantay.settings import get_settings
            from bantay.training.tasks import RunContext
            from bantay.training.tasks import publish_and_promote as publish

            result = publish(get_settings(), RunContext(**ctx), evaluation["version"])
            print(f"promoted {name} {result['version']}: {result['pointer']}")
            yield Metadata(
                production, extra={"version": result["version"], "reason": ctx["reason"]}
            )

        ctx = plan()
        training = training_set(ctx)
        results = tune.partial(ctx=ctx, training=training).expand(trial=search_space(ctx))
        evaluation = evaluate(ctx, training, results)
        mode = approval_mode()
        gate_passed(evaluation) >> mode
        (
            mode
            >> [auto_approve(ctx, evaluation), manual_approval]
            >> publish_and_promote(ctx, evaluation)
        )

    return training()
