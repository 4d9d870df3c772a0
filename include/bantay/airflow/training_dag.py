"""The training DAG of one model, built by a factory: ``bantay_training_<model>``.

One DAG per model gives each model its own schedule, its own drift Asset, its own
``max_active_runs=1`` and its own history in the UI; a second model is configuration
(``models:`` in bantay.yaml), never a copied DAG file. Tasks are thin wrappers over
``bantay.training.tasks``; the rules for why and as of when a run happens are in
``bantay.airflow.planning``, the rule for when its window is complete enough to fit on in
``bantay.features.readiness``.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import (
    AssetOrTimeSchedule,
    CronTriggerTimetable,
    Metadata,
    Param,
    PokeReturnValue,
    task,
)

from bantay.airflow.approval import GateApprovalOperator
from bantay.airflow.assets import drift_asset, production_asset
from bantay.airflow.defaults import bantay_dag
from bantay.settings import ModelSettings, Settings

# How often wait_for_window looks at the lake again; it holds no worker slot in between.
WINDOW_POKE = dt.timedelta(minutes=1)
# The execution_timeout bantay_features gives its validate and materialize tasks.
FEATURES_TASK_TIMEOUT = dt.timedelta(hours=2)
# Task states after which a features run no longer writes the days it planned.
_FINISHED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


def training_dag_id(model: str) -> str:
    return f"bantay_training_{model}"


def window_timeout(settings: Settings) -> dt.timedelta:
    """How long a training run waits for its window before failing with the missing days.

    As long as a features run may legitimately still be loading it: the features sensor's own
    wait for late partitions (``features.sensor_timeout_hours``, the setting that moves both)
    plus the time its tasks may take to validate and materialize them. Waiting longer would
    only hide a problem that a person has to fix.
    """
    return dt.timedelta(hours=settings.features.sensor_timeout_hours) + FEATURES_TASK_TIMEOUT


def _state(value) -> str:
    """A state as its plain value: the Task SDK hands back enums whose str() is their name."""
    return str(getattr(value, "value", value))


def features_runs_in_progress(ti) -> list:
    """The ``bantay_features`` runs queued or running now, with the days each planned.

    Asked through the Task SDK's execution API (counts, task states, the other run's XCom),
    which is what a running task may ask of Airflow's metadata; never at parse time.
    """
    from bantay.features.readiness import FEATURES_DAG_ID, FeaturesRun, plan_days

    active = ("queued", "running")
    if not ti.get_dr_count(dag_id=FEATURES_DAG_ID, states=list(active)):
        return []
    # One row per run: a run whose materialize task has finished writes nothing any more.
    states = ti.get_task_states(dag_id=FEATURES_DAG_ID, task_ids=["materialize"])
    runs = []
    for run_id, tasks in sorted(states.items()):
        if _state(tasks.get("materialize")) in _FINISHED:
            continue
        state = _state(ti.get_dagrun_state(dag_id=FEATURES_DAG_ID, run_id=run_id))
        if state not in active:
            continue
        planned = ti.xcom_pull(task_ids="plan", dag_id=FEATURES_DAG_ID, run_id=run_id)
        runs.append(FeaturesRun(run_id, state, plan_days(planned)))
    return runs


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
    wait = window_timeout(settings)

    @bantay_dag(
        training_dag_id(name),
        doc_md=doc_md,
        schedule=_schedule(model),
        tags=["training", "model", name],
        settings=settings,
        timeout=dt.timedelta(hours=2),
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
                trigger=p.trigger,
            )
            print(f"training {name} ({p.trigger}): {p.reason} (as of {p.as_of})")
            return ctx.to_dict()

        @task
        def training_window(ctx: dict) -> dict:
            """The days and sources this run reads, resolved once (Feast's registry is a few
            seconds to load; the sensor below looks again every minute)."""
            from airflow.sdk.exceptions import AirflowFailException

            from bantay.airflow.planning import training_window as window_days
            from bantay.features.readiness import model_sources
            from bantay.settings import get_settings

            settings = get_settings()
            model = settings.model(name)
            days = window_days(ctx["as_of"], model.training_window_days)
            try:
                sources = model_sources(settings, model)
            except ValueError as exc:
                # A configuration mistake: retrying reads the same configuration.
                raise AirflowFailException(str(exc)) from exc
            window = {
                "as_of": ctx["as_of"],
                "first": days[0].isoformat(),
                "last": days[-1].isoformat(),
                "sources": sources,
                "labels": [model.label_source],
            }
            print(f"training window of {name}: {window}")
            return window

        @task.sensor(
            mode="reschedule",
            poke_interval=WINDOW_POKE.total_seconds(),
            # The check below fails the run naming the missing days once `wait` is up; this
            # backstop only ends a sensor whose own check never got that far.
            timeout=(wait + 2 * WINDOW_POKE).total_seconds(),
        )
        def wait_for_window(window: dict, ti=None) -> PokeReturnValue:
            """Hold the run until every day of its window is decided by the data contract."""
            from airflow.sdk import get_current_context
            from airflow.sdk.exceptions import AirflowSensorTimeout

            from bantay.features.readiness import check_training_window
            from bantay.settings import get_settings

            first = dt.date.fromisoformat(window["first"])
            last = dt.date.fromisoformat(window["last"])
            days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
            check = check_training_window(
                get_settings(),
                days,
                window["sources"],
                window["labels"],
                features_runs_in_progress(ti),
            )
            print(check.summary())
            if check.ready:
                return PokeReturnValue(is_done=True, xcom_value=check.to_dict())
            # Between pokes the UI's XCom tab shows what the run is waiting for.
            ti.xcom_push(key="waiting", value=check.to_dict())
            started = ti.get_first_reschedule_date(get_current_context()) or check.checked_at
            waited = check.checked_at - started
            if waited >= wait:
                raise AirflowSensorTimeout(check.timeout_message(name, window["as_of"], waited))
            return PokeReturnValue(is_done=False)

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
            from bantay.monitoring.episodes import regime_since
            from bantay.settings import get_settings
            from bantay.stores.registry import registry_for
            from bantay.training.tasks import RunContext, evaluate_candidate

            settings, run = get_settings(), RunContext(**ctx)
            regime = regime_since(
                registry_for(settings), run.model, dt.datetime.fromisoformat(run.as_of)
            )
            return evaluate_candidate(settings, run, training, list(results), regime)

        # Only the approval branch is skipped on a rejection; publish_and_promote follows from
        # the approvals' trigger rules and tell_on_call still runs to report the rejection.
        @task.short_circuit(ignore_downstream_trigger_rules=False)
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
        def publish_and_promote(ti=None):
            from airflow.sdk.exceptions import AirflowFailException

            from bantay.settings import get_settings
            from bantay.training.tasks import RunContext, StagedArtifactChanged
            from bantay.training.tasks import publish_and_promote as publish

            # Pulled, not passed as arguments: arguments would make plan and evaluate upstream,
            # and their success would meet this trigger rule after the gate said no.
            ctx = ti.xcom_pull(task_ids="plan")
            evaluation = ti.xcom_pull(task_ids="evaluate")
            try:
                result = publish(get_settings(), RunContext(**ctx), evaluation["version"])
            except StagedArtifactChanged as exc:
                # A file changed after the gate judged it: a retry would only refuse it again.
                raise AirflowFailException(str(exc)) from exc
            print(f"promoted {name} {result['version']}: {result['pointer']}")
            yield Metadata(
                production, extra={"version": result["version"], "reason": ctx["reason"]}
            )
            return result

        @task(trigger_rule="none_failed")
        def tell_on_call(ctx: dict, evaluation: dict, promoted: dict | None, dag_run=None):
            """E-mail on-call what a drift-triggered retrain led to (promoted or rejected)."""
            from airflow.sdk.exceptions import AirflowSkipException

            from bantay.notify.mailer import airflow_run_url
            from bantay.notify.outcome import retrain_outcome, send_retrain_outcome
            from bantay.settings import get_settings

            # promoted is None when publish_and_promote was skipped (gate or a person said no).
            outcome = retrain_outcome(
                ctx.get("trigger"), passed=evaluation["passed"], promoted=promoted is not None
            )
            if outcome is None:
                raise AirflowSkipException(
                    f"nothing to tell: a {ctx.get('trigger')} run, gate passed "
                    f"{evaluation['passed']}, promoted {promoted is not None}"
                )
            settings = get_settings()
            url = airflow_run_url(settings.notify.airflow_base_url, dag_run.dag_id, dag_run.run_id)
            sent = send_retrain_outcome(settings, ctx, evaluation, outcome, url)
            print(f"{sent['subject']} (sent: {sent['sent']}, kept at {sent['email']})")
            return sent

        ctx = plan()
        training = training_set(ctx)
        wait_for_window(training_window(ctx)) >> training
        results = tune.partial(ctx=ctx, training=training).expand(trial=search_space(ctx))
        evaluation = evaluate(ctx, training, results)
        mode = approval_mode()
        gate_passed(evaluation) >> mode
        promoted = publish_and_promote()
        mode >> [auto_approve(ctx, evaluation), manual_approval] >> promoted
        tell_on_call(ctx, evaluation, promoted)

    return training()
