"""
### bantay_training: point-in-time training set, tuning, validation gate, approval, promotion

Runs weekly (`training_schedule` in `bantay.yaml`) **or** when `bantay_drift` emits a
`drift/<model>` Asset event, whichever comes first; one run at a time.

1. **plan**: which model, why (schedule, the drift event with its report, or a person's reason
   from the trigger form), and the as-of time (labels that had matured by then).
2. **training_set**: term outcomes as the entity frame; features from Feast's
   `get_historical_features` with the model's feature service, point-in-time correct.
3. **tune**: one mapped task per setting of the search space; each fits on train and scores on
   validation (temporal split: no learner's future in its past).
4. **evaluate**: the best setting refit on train+validation; ROC AUC, PR AUC, recall at the
   configured precision, Brier score, per slice; the production model scored on the same test
   set; the **validation gate** (quality, no regression, fairness, data and model sanity). Every
   check is in the task log and in the version's manifest. A failing candidate is recorded as
   *rejected* with its reasons and goes no further.
5. **approval**: `auto`, or `manual` (a person approves or rejects under *Required Actions* in the
   UI with the gate report in front of them; the answer and note are recorded).
6. **publish_and_promote**: the approved version is uploaded to S3 (immutable) and the production
   pointer is swapped atomically; the promotion is in the audit log. Emits
   `models/<model>/production`.

Trigger form: `model`, `reason` (required for a manual run), `force` with `force_reason`
(skips only the no-regression check; the reason is audited), `as_of` (optional).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import (
    AssetAny,
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    Metadata,
    Param,
    dag,
    task,
)

from bantay.approval import GateApprovalOperator
from bantay.assets import drift_asset, production_asset
from bantay.config import get_settings
from bantay.dag_defaults import START_DATE, default_args

SETTINGS = get_settings()
MODELS = [m.name for m in SETTINGS.models]
DRIFT = [drift_asset(m) for m in MODELS]
PRODUCTION = [production_asset(m) for m in MODELS]


@dag(
    dag_id="bantay_training",
    doc_md=__doc__,
    schedule=(
        AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(SETTINGS.models[0].training_schedule, timezone="UTC"),
            assets=AssetAny(*DRIFT),
        )
        if SETTINGS.models[0].training_schedule
        else AssetAny(*DRIFT)
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["bantay", "training", "model"],
    default_args=default_args(SETTINGS, execution_timeout=dt.timedelta(hours=2)),
    params={
        "model": Param(MODELS[0], enum=MODELS, title="Model"),
        "reason": Param("", type="string", title="Why retrain now (kept with the version)"),
        "force": Param(False, type="boolean", title="Skip the no-regression check"),
        "force_reason": Param(
            "", type="string", title="Why skipping is right (required with force)"
        ),
        "as_of": Param(
            None,
            type=["null", "string"],
            title="As of (ISO time)",
            description="Default: the run's time.",
        ),
    },
)
def bantay_training():
    @task
    def plan(params: dict, dag_run=None, triggering_asset_events=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from bantay.lifecycle import RunContext

        model = params["model"]
        run_type = str(getattr(dag_run, "run_type", "manual")).lower()
        reason = (params.get("reason") or "").strip()
        events = []
        for asset, asset_events in (triggering_asset_events or {}).items():
            for event in asset_events:
                events.append((getattr(asset, "name", str(asset)), event.extra or {}))
        if events:
            name, extra = events[-1]
            model = name.split("/", 1)[1]
            reason = (
                f"drift event {name}: {extra.get('summary', 'drift confirmed')} "
                f"(report {extra.get('report_json', 'n/a')})"
            )
        elif "scheduled" in run_type:
            reason = reason or "weekly schedule"
        elif not reason:
            # Bad input does not improve with retries: fail at once, saying what to fill in.
            raise AirflowFailException("a manual training run needs a 'reason' in the trigger form")
        force_reason = None
        if params.get("force"):
            force_reason = (params.get("force_reason") or "").strip()
            if not force_reason:
                raise AirflowFailException(
                    "'force' needs a written 'force_reason'; it is audited with the version"
                )
        as_of = params.get("as_of") or dag_run.run_after.isoformat()
        ctx = RunContext(
            model=model,
            run_id=dag_run.run_id,
            as_of=as_of,
            reason=reason,
            force_reason=force_reason,
        )
        print(f"training {model}: {reason} (as of {as_of})")
        return ctx.to_dict()

    @task
    def training_set(ctx: dict) -> dict:
        from bantay.config import get_settings
        from bantay.lifecycle import RunContext, build_training_set

        return build_training_set(get_settings(), RunContext(**ctx))

    @task
    def search_space(ctx: dict) -> list[dict]:
        from bantay.config import get_settings
        from bantay.lifecycle import trials

        return trials(get_settings(), ctx["model"])

    @task(map_index_template="{{ trial['trial_id'] }}")
    def tune(trial: dict, ctx: dict, training: dict) -> dict:
        from bantay.config import get_settings
        from bantay.lifecycle import RunContext, tune_one

        return tune_one(get_settings(), RunContext(**ctx), training["path"], trial)

    @task
    def evaluate(ctx: dict, training: dict, results: list[dict]) -> dict:
        from bantay.config import get_settings
        from bantay.lifecycle import RunContext, evaluate_candidate

        return evaluate_candidate(get_settings(), RunContext(**ctx), training, list(results))

    @task.short_circuit
    def gate_passed(evaluation: dict) -> bool:
        if not evaluation["passed"]:
            print("candidate rejected by the gate:\n- " + "\n- ".join(evaluation["reasons"]))
        return evaluation["passed"]

    @task.branch
    def approval_mode(ctx: dict) -> str:
        from bantay.config import get_settings

        mode = get_settings().model(ctx["model"]).approval
        return "manual_approval" if mode == "manual" else "auto_approve"

    @task
    def auto_approve(ctx: dict, evaluation: dict) -> None:
        from bantay.config import get_settings
        from bantay.lifecycle import RunContext, record_approval

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
        subject="Approve {{ ti.xcom_pull(task_ids='plan')['model'] }} "
        "{{ ti.xcom_pull(task_ids='evaluate')['version'] }} for production?",
        body="{{ ti.xcom_pull(task_ids='evaluate')['gate_table'] }}",
        response_timeout=dt.timedelta(days=3),
        # A person's answer is not retried: a timed-out request would only ask again and again.
        retries=0,
    )

    @task(outlets=PRODUCTION, trigger_rule="none_failed_min_one_success")
    def publish_and_promote(ctx: dict, evaluation: dict):
        from bantay.config import get_settings
        from bantay.lifecycle import RunContext
        from bantay.lifecycle import publish_and_promote as publish

        result = publish(get_settings(), RunContext(**ctx), evaluation["version"])
        print(f"promoted {ctx['model']} {result['version']}: {result['pointer']}")
        for asset in PRODUCTION:
            if asset.name == f"models/{ctx['model']}/production":
                yield Metadata(asset, extra={"version": result["version"], "reason": ctx["reason"]})

    ctx = plan()
    training = training_set(ctx)
    results = tune.partial(ctx=ctx, training=training).expand(trial=search_space(ctx))
    evaluation = evaluate(ctx, training, results)
    mode = approval_mode(ctx)
    gate_passed(evaluation) >> mode
    mode >> [auto_approve(ctx, evaluation), manual_approval] >> publish_and_promote(ctx, evaluation)


bantay_training()
