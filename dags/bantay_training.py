"""
### `bantay_training_<model>`: point-in-time training set, tuning, validation gate, approval, promotion

One DAG per model in `bantay.yaml` (`bantay_training_<model>`). Runs on the model's
`training_schedule` **or** when `bantay_drift` emits its `drift/<model>` Asset event, whichever
comes first; one run at a time. Every queued drift event of the run is honoured (deduplicated by
day); an event created by hand must carry a `reason` in its extra.

1. **plan**: which model, why (schedule, the drift event with its report, or a person's reason
   from the trigger form), and the as-of time (labels that had matured by then).
2. **training_window**, **wait_for_window**: the window is the `training_window_days` days that
   end the day before as-of, for the feature sources of the model's feature service and its
   label source. A sensor in *reschedule* mode (no worker slot between pokes, one poke a minute)
   holds the run until every day of it is **decided** by the data contract, so that nothing is
   ever fitted on a window a `bantay_features` run is still loading:
   - *accepted*, or *quarantined* with its `reason.json`: the contract has ruled. A quarantined
     day is not read and not waited for (its rows are untrustworthy; a re-delivery may never
     come); the sensor's result lists it.
   - *absent*: nothing was delivered and the day is **closed**: a later day of the source has
     been decided, at least `features.contract.max_lateness_days` (and one) days later, whose run
     was the last to pick up a late delivery (the label feed delivers only when outcomes mature:
     its days close on days when every feature source was decided), **and**
     `features.sensor_timeout_hours` have passed since the day ended (its own features run has
     stopped waiting). Listed like a quarantined day.

   It waits while a day is *in a run* (a queued or running `bantay_features` run covers it,
   including the earlier days its allowed lateness reaches back into; a run that has not planned
   yet holds the whole window), *being written* (the contract's staging file in `accepted/`),
   *delivered* (raw rows with no verdict yet: a backfill not run yet or a re-delivery, never
   closed on its own) or *missing* (not closed yet). Each poke logs, and pushes as the XCom
   `waiting`, lines like `waiting for 3 days of learning_activity: 2026-11-02, 2026-11-03,
   2026-11-04 (bantay_features run manual__... running)`; its return value says what the run
   goes on without. After `features.sensor_timeout_hours` + 2 h (a features run's own wait plus
   its tasks' timeout) it fails, naming every missing day and what to do; clear it to look again.
   The online store is not waited for: training reads the offline store (the accepted tree).
3. **training_set**: term outcomes as the entity frame; features from Feast's
   `get_historical_features` with the model's feature service, point-in-time correct.
4. **tune**: one mapped task per setting of the search space; each fits on train and scores on
   validation (temporal split: no learner's future in its past).
5. **evaluate**: the best setting fitted on train+validation is judged on the held-out test rows
   (ROC AUC, PR AUC, recall at the configured precision, Brier score, per slice) and against the
   production model on the test rows *neither* was fitted on (production was refit on everything
   up to its own as-of time; when it has seen every test row, on the whole test set, which only
   makes the bar stricter); then the **validation gate** (quality, no regression, fairness, data
   and model sanity). Every check is in the task log and in the version's manifest. A failing
   candidate is recorded as *rejected* with its reasons and goes no further.
   **The model that goes on is the same setting refit on every row** (train, validation and
   test): the gate judged the procedure on rows it had not seen, and the published model learns
   the newest rows too, which after a drift are the drifted ones (a split that kept drifted rows
   on both sides would leave some of them out of the final fit). The version records
   what it was fitted on (rows, span, the open drift's first day and the rows after it), and its
   **drift reference** is its own training distribution: the last `reference_days` fitted days,
   or, for a version fitted in a new regime (after a drift began, or after the version it
   replaces answered one), the days of that regime. The staged model, reference and evaluation
   record are hashed here; approval and publish check those digests.
6. **approval**: `auto`, or `manual` (a person approves or rejects under *Required Actions* in the
   UI with the gate report and the evaluated digests in front of them; the answer, the person
   and their note are recorded).
7. **publish_and_promote**: the approved version is uploaded to S3 (immutable), from the staged
   bytes whose digests the gate recorded (any other file is refused), and the production pointer
   is swapped atomically; the promotion is in the audit log. Emits `models/<model>/production`.
8. **tell_on_call** (runs started by a drift event only; skipped otherwise): e-mails the model's
   drift recipients what the retrain led to, `promoted` or `rejected` by the gate (with its
   reasons), with the candidate against production on the same test rows and a link to the run.
   With manual approval, `manual_approval` sends `waiting for your approval` when it starts
   waiting. A failed send is a warning in the log, never a failed promotion.

Trigger form: `reason` (required for a manual run), `force` with `force_reason` (skips only the
no-regression check; the reason is audited), `as_of` (optional).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Metadata, Param, PokeReturnValue, task

from bantay.airflow.approval import GateApprovalOperator
from bantay.airflow.assets import production_asset
from bantay.airflow.defaults import bantay_dag
from bantay.airflow.lineage_task import lineage_task
from bantay.airflow.training_runs import (
    WINDOW_POKE,
    features_runs_in_progress,
    training_dag_id,
    training_schedule,
    window_timeout,
)
from bantay.settings import ModelSettings, Settings, get_settings

SETTINGS = get_settings()

PARAMS = {
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
}


def training_dag(settings: Settings, model: ModelSettings):
    """Declare (and register) the training DAG of ``model``: ``bantay_training_<model>``."""
    name = model.name
    production = production_asset(name)
    wait = window_timeout(settings)

    @bantay_dag(
        training_dag_id(name),
        doc_md=__doc__,
        schedule=training_schedule(model),
        tags=["training", "model", name],
        settings=settings,
        timeout=dt.timedelta(hours=2),
        params=PARAMS,
    )
    def training():
        @task
        def plan(params: dict, dag_run=None, triggering_asset_events=None) -> dict:
            from airflow.sdk.exceptions import AirflowFailException

            from bantay.airflow.planning import PlanError, events_from_context, plan_training
            from bantay.training.run import RunContext

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

            from bantay.airflow.edge import for_model
            from bantay.airflow.planning import training_window as window_days
            from bantay.features.readiness import model_sources
            from bantay.stores.feast_store import store as feature_store

            res = for_model(name)
            days = window_days(ctx["as_of"], res.model.training_window_days)
            try:
                sources = model_sources(
                    res.model,
                    feast=feature_store(res.settings),
                    validated=res.settings.features.sources,
                )
            except ValueError as exc:
                # A configuration mistake: retrying reads the same configuration.
                raise AirflowFailException(str(exc)) from exc
            window = {
                "as_of": ctx["as_of"],
                "first": days[0].isoformat(),
                "last": days[-1].isoformat(),
                "sources": sources,
                "labels": [res.model.label_source],
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

            from bantay.airflow.edge import for_model
            from bantay.features.readiness import check_training_window

            res = for_model(name)
            first = dt.date.fromisoformat(window["first"])
            last = dt.date.fromisoformat(window["last"])
            days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
            check = check_training_window(
                days,
                window["sources"],
                window["labels"],
                features_runs_in_progress(ti),
                layout=res.layout,
                features=res.settings.features,
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

        @lineage_task
        def training_set(ctx: dict) -> dict:
            from bantay.airflow.edge import for_model
            from bantay.airflow.lineage import service_views, training_set_lineage
            from bantay.airflow.lineage_task import report
            from bantay.stores.feast_store import store as feature_store
            from bantay.training.dataset import build_training_set
            from bantay.training.run import RunContext

            res = for_model(name)
            feast = feature_store(res.settings)
            built = build_training_set(
                RunContext(**ctx), model=res.model, layout=res.layout, feast=feast
            )
            views = service_views(feast, res.model.feature_service)
            label = res.model.label_source
            report(*training_set_lineage(res.settings.project, name, views, label))
            return built

        @task
        def search_space(ctx: dict) -> list[dict]:
            from bantay.airflow.edge import for_model
            from bantay.training.tuning import trials

            return trials(for_model(ctx["model"]).model)

        @task(map_index_template="{{ trial['trial_id'] }}")
        def tune(trial: dict, ctx: dict, training: dict) -> dict:
            from bantay.airflow.edge import for_model
            from bantay.training.tuning import tune_one

            return tune_one(training, trial, model=for_model(ctx["model"]).model)

        @lineage_task
        def evaluate(ctx: dict, training: dict, results: list[dict]) -> dict:
            from bantay.airflow.edge import for_model
            from bantay.airflow.lineage import evaluation_lineage, gate_of
            from bantay.airflow.lineage_task import report
            from bantay.monitoring.episodes import regime_since
            from bantay.stores.feast_store import store as feature_store
            from bantay.training.candidate import evaluate_candidate
            from bantay.training.run import RunContext

            res, run = for_model(name), RunContext(**ctx)
            regime = regime_since(res.registry, name, dt.datetime.fromisoformat(run.as_of))
            evaluation = evaluate_candidate(
                run,
                training,
                list(results),
                regime,
                model=res.model,
                layout=res.layout,
                registry=res.registry,
                store=res.store,
                feast=feature_store(res.settings),
            )
            version, gate = evaluation["version"], gate_of(evaluation)
            report(*evaluation_lineage(res.settings.project, name, version, gate))
            return evaluation

        # Only the approval branch is skipped on a rejection; publish_and_promote follows from
        # the approvals' trigger rules and tell_on_call still runs to report the rejection.
        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def gate_passed(evaluation: dict) -> bool:
            if not evaluation["passed"]:
                print("candidate rejected by the gate:\n- " + "\n- ".join(evaluation["reasons"]))
            return evaluation["passed"]

        @task.branch
        def approval_mode() -> str:
            from bantay.airflow.edge import for_model

            manual = for_model(name).model.approval == "manual"
            return "manual_approval" if manual else "auto_approve"

        @task
        def auto_approve(ctx: dict, evaluation: dict) -> None:
            from bantay.airflow.approval import AUTO_APPROVER
            from bantay.airflow.edge import for_model
            from bantay.training.approval import record_approval
            from bantay.training.run import RunContext

            res = for_model(name)
            record_approval(
                RunContext(**ctx),
                evaluation["version"],
                True,
                AUTO_APPROVER,
                "gate passed",
                registry=res.registry,
                layout=res.layout,
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

        @lineage_task(outlets=[production], trigger_rule="none_failed_min_one_success")
        def publish_and_promote(ti=None):
            from airflow.sdk.exceptions import AirflowFailException

            from bantay.airflow.approval import approver
            from bantay.airflow.edge import for_model
            from bantay.airflow.lineage import gate_of, version_lineage
            from bantay.airflow.lineage_task import report
            from bantay.serving.publish import publish_and_promote as publish
            from bantay.training.run import RunContext
            from bantay.training.staging import StagedArtifactChanged

            # Pulled, not passed as arguments: arguments would make plan and evaluate upstream,
            # and their success would meet this trigger rule after the gate said no.
            ctx = ti.xcom_pull(task_ids="plan")
            evaluation = ti.xcom_pull(task_ids="evaluate")
            res = for_model(name)
            try:
                result = publish(
                    RunContext(**ctx),
                    evaluation["version"],
                    model=res.model,
                    layout=res.layout,
                    store=res.store,
                    registry=res.registry,
                    actor=approver(ti.xcom_pull(task_ids="manual_approval")),
                )
            except StagedArtifactChanged as exc:
                # A file changed after the gate judged it: a retry would only refuse it again.
                raise AirflowFailException(str(exc)) from exc
            print(f"promoted {name} {result['version']}: {result['pointer']}")
            where = (res.settings.storage.bucket, res.settings.storage.prefix)
            lineage = version_lineage(
                res.settings.project, name, result["version"], where, gate_of(evaluation)
            )
            report(*lineage)
            yield Metadata(
                production, extra={"version": result["version"], "reason": ctx["reason"]}
            )
            return result

        @task(trigger_rule="none_failed")
        def tell_on_call(ctx: dict, evaluation: dict, promoted: dict | None, dag_run=None):
            """E-mail on-call what a drift-triggered retrain led to (promoted or rejected)."""
            from airflow.sdk.exceptions import AirflowSkipException

            from bantay.airflow.edge import for_model
            from bantay.notify.mailer import airflow_run_url
            from bantay.notify.outcome import retrain_outcome, send_retrain_outcome

            # promoted is None when publish_and_promote was skipped (gate or a person said no).
            outcome = retrain_outcome(
                ctx.get("trigger"), passed=evaluation["passed"], promoted=promoted is not None
            )
            if outcome is None:
                raise AirflowSkipException(
                    f"nothing to tell: a {ctx.get('trigger')} run, gate passed "
                    f"{evaluation['passed']}, promoted {promoted is not None}"
                )
            res = for_model(name)
            notify = res.settings.notify
            url = airflow_run_url(notify.airflow_base_url, dag_run.dag_id, dag_run.run_id)
            sent = send_retrain_outcome(
                ctx, evaluation, outcome, url, notify=notify, model=res.model, layout=res.layout
            )
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


for _model in SETTINGS.models:
    training_dag(SETTINGS, _model)
