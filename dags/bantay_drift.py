"""
### bantay_drift: the daily drift report, the on-call e-mail, and loop-protected retraining

Daily, for the day that just ended (data interval `[D, D+1)` UTC), for each model:

1. **check**: reference = the production version's `reference.parquet` (its training data's
   last days, with labels); the newest day of the prediction log is judged per feature against
   the reference rows of the same weekday with Evidently's tests (score and drifted flag), the
   last `window_days` days give context, every day is checked for data quality, and matured
   labels joined to the log give quality with an interval. The HTML (opened by bantay's verdict
   and decision) and JSON go to `reports/drift/<model>/<date>/` in S3 and a summary row to the
   registry. The **verdict**:
   * `OK`: nothing moved; `WATCH`: a feature moved over the window only;
   * `DRIFT`: a monitored feature or the score moved on the newest day;
   * `PERFORMANCE`: quality on matured labels dropped beyond the gate's tolerance;
   * `DATA QUALITY`: a broken feed (nulls, frozen or stuck values, a unit change): data
     engineers fix the feed; **never** retrain on bad data.
   The retrain **decision** passes the guards: no data-quality day in the window, drift for
   `persistence_days` days in a row, no run of this model's training DAG running or queued, the
   labels of the drifted period matured (else it waits for them and says when), a cooldown
   after the last drift-triggered or promoted retrain (or the sooner scheduled run), at most
   `max_retrains_per_7d`. Every decision, including "guard held", is recorded and e-mailed.
2. **email**: composes the on-call e-mail from what the check handed on (subject starts with the
   verdict; what to do; the feature table; inline charts; links to the report and this run),
   keeps its copy in the outbox and sends it via `smtp_default`. Retried on its own: if SMTP is
   down the report is already stored and the day recorded.
3. **retrain**: emits the `drift/<model>` Asset event (report location and drifted features in
   its extra) that starts `bantay_training`, only when the decision says so; otherwise skipped.
   Re-running a date never triggers twice.

Trigger form: `date` to check one day by hand; `model` to check that model alone (empty: every
model, as the scheduled runs do; the other models' tasks are skipped); `reason` says why the run
was started by hand (the bantay pages' "Re-check this day" names the person).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Metadata, Param, TaskGroup, task

from bantay.airflow.assets import drift_asset, predictions_asset
from bantay.airflow.defaults import bantay_dag, cron
from bantay.airflow.lineage_task import lineage_task
from bantay.airflow.training_runs import training_dag_id
from bantay.settings import get_settings

SETTINGS = get_settings()
# One training DAG per model: only that model's runs hold its drift retrain.


@bantay_dag(
    "bantay_drift",
    doc_md=__doc__,
    schedule=cron(SETTINGS.drift_schedule),
    tags=["monitoring", "drift"],
    settings=SETTINGS,
    timeout=dt.timedelta(hours=1),
    params={
        "date": Param(None, type=["null", "string"], format="date", title="Day to check"),
        "model": Param(
            "",
            type=["null", "string"],
            title="Model to check",
            description="Empty: every configured model.",
        ),
        "reason": Param(None, type=["null", "string"], title="Why this run was started"),
    },
)
def bantay_drift():
    @task
    def plan(params: dict, data_interval_start=None) -> dict:
        """The day to check and the models to check it for.

        Cron run at 06:00 on D+1 checks D for every model; a manual run checks the Param date,
        for the Param model alone when one is named."""
        from airflow.sdk.exceptions import AirflowFailException

        names = [m.name for m in SETTINGS.models]
        chosen = (params.get("model") or "").strip()
        if chosen and chosen not in names:
            raise AirflowFailException(
                f"model {chosen!r} is not configured; leave it empty or name one of {names}"
            )
        day = params.get("date") or data_interval_start.date().isoformat()
        if params.get("reason"):
            print(f"why: {params['reason']}")
        return {"day": day, "models": [chosen] if chosen else names}

    planned = plan()

    for model in SETTINGS.models:
        asset = drift_asset(model.name)
        with TaskGroup(group_id=model.name):

            @lineage_task(task_id="check", inlets=[predictions_asset(model.name)])
            def check(planned: dict, model_name: str, ti=None, dag_run=None) -> dict:
                from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

                from bantay.airflow.edge import for_model
                from bantay.airflow.lineage import drift_lineage
                from bantay.airflow.lineage_task import report
                from bantay.monitoring.check import check_day
                from bantay.notify.drift_day import day_subject
                from bantay.notify.email import report_banner

                if model_name not in planned["models"]:
                    raise AirflowSkipException(f"this run checks {planned['models']} only")
                day = planned["day"]
                res = for_model(model_name)
                running = ti.get_dr_count(
                    dag_id=training_dag_id(model_name), states=["running", "queued"]
                )
                try:
                    checked = check_day(
                        res.model,
                        res.layout,
                        res.registry,
                        res.store,
                        dt.date.fromisoformat(day),
                        banner=lambda result, decision: report_banner(
                            result, model=model_name, decision=decision, approval=res.model.approval
                        ),
                        run_id=dag_run.run_id,
                        retrain_running=running > 0,
                        link_expiry_seconds=res.settings.storage.presign_expiry_hours * 3600,
                    )
                except FileNotFoundError as exc:
                    raise AirflowFailException(str(exc)) from exc
                where = (res.settings.storage.bucket, res.settings.storage.prefix)
                version = getattr(checked.result, "version", None)
                report(*drift_lineage(res.settings.project, model_name, version, where))
                subject = day_subject(checked, res.model)
                print(f"{subject}\ndecision: {checked.decision.reason}")
                return {**checked.as_data(), "subject": subject}

            @task(task_id="email", retries=5, retry_delay=dt.timedelta(minutes=5))
            def email(summary: dict, dag_run=None) -> str:
                from bantay.airflow.edge import for_model
                from bantay.monitoring.day_check import DayCheck
                from bantay.notify.drift_day import send_day_email
                from bantay.notify.mailer import airflow_run_url

                res = for_model(summary["model"])
                notify = res.settings.notify
                return send_day_email(
                    DayCheck.from_data(summary),
                    res.model,
                    res.layout,
                    notify,
                    run_url=airflow_run_url(
                        notify.airflow_base_url, dag_run.dag_id, dag_run.run_id
                    ),
                )

            @task(task_id="retrain", outlets=[asset])
            def retrain(summary: dict):
                from airflow.sdk.exceptions import AirflowSkipException

                if not summary["triggers_retrain"]:
                    raise AirflowSkipException(f"no retrain: {summary['decision_reason']}")
                yield Metadata(
                    drift_asset(summary["model"]),  # the outlet: Assets match by name and URI
                    extra={
                        "summary": summary["subject"],
                        "report_json": summary["report_json"],
                        "report_html": summary["report_html"],
                        "drifted_features": summary["drifted_features"],
                        "date": summary["date"],
                    },
                )

            summary = check(planned, model.name)
            email(summary)
            retrain(summary)


bantay_drift()
