"""
### bantay_drift: the daily drift report, the on-call e-mail, and loop-protected retraining

Daily, for the day that just ended (data interval `[D, D+1)` UTC), for each model:

1. **check**: reference = the production version's `reference.parquet` (stored with the
   version); current = the day's prediction log (features and scores). Both sampled to
   `drift.sample_size` with a fixed seed. Evidently 0.7 computes per-feature drift, prediction
   drift and data quality; the HTML and JSON go to `reports/drift/<model>/<date>/` in S3 and a
   summary row (verdict, drifted share, per-feature scores, report location, decision) to the
   registry. The **verdict**:
   * `OK`: nothing to do;
   * `DRIFT`: the inputs or the scores moved; retraining is asked for;
   * `DATA QUALITY`: a broken feed (nulls, frozen values, a unit change): data engineers fix the
     feed; **never** retrain on bad data.
   The retrain **decision** passes the guards: drift for `persistence_days` days in a row, a
   `cooldown_days` since the last retrain, no training run already running or queued, at most
   `max_retrains_per_7d`. Every decision, including "guard held", is recorded and e-mailed.
2. **email**: the on-call e-mail via `smtp_default` (subject starts with the verdict; what to do;
   the feature table; inline charts; links to the report and this run). Retried on its own:
   if SMTP is down the report is already stored.
3. **retrain**: emits the `drift/<model>` Asset event (report location and drifted features in
   its extra) that starts `bantay_training`, only when the decision says so; otherwise skipped.
   Re-running a date never triggers twice.

Trigger form: `date` to check one day by hand.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronDataIntervalTimetable, Metadata, Param, TaskGroup, dag, task

from bantay.assets import drift_asset
from bantay.config import get_settings
from bantay.dag_defaults import START_DATE, default_args

SETTINGS = get_settings()


@dag(
    dag_id="bantay_drift",
    doc_md=__doc__,
    schedule=(
        CronDataIntervalTimetable(SETTINGS.drift_schedule, timezone="UTC")
        if SETTINGS.drift_schedule
        else None
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["bantay", "monitoring", "drift"],
    default_args=default_args(SETTINGS, execution_timeout=dt.timedelta(hours=1)),
    params={
        "date": Param(None, type=["null", "string"], format="date", title="Day to check"),
    },
)
def bantay_drift():
    @task
    def plan(params: dict, data_interval_start=None) -> str:
        # Cron run at 06:00 on D+1 checks D; a manual run checks the Param date.
        return params.get("date") or data_interval_start.date().isoformat()

    day = plan()

    for model in SETTINGS.models:
        asset = drift_asset(model.name)
        with TaskGroup(group_id=model.name):

            @task(task_id="check")
            def check(day: str, model_name: str = model.name, ti=None, dag_run=None) -> dict:
                from airflow.sdk.exceptions import AirflowFailException

                from bantay.config import get_settings
                from bantay.drift import check_day

                settings = get_settings()
                running = ti.get_dr_count(dag_id="bantay_training", states=["running", "queued"])
                run_url = f"{settings.notify.airflow_base_url}/dags/{dag_run.dag_id}/runs/{dag_run.run_id}"
                try:
                    summary = check_day(
                        settings,
                        model_name,
                        dt.date.fromisoformat(day),
                        run_id=dag_run.run_id,
                        run_url=run_url,
                        retrain_running=running > 0,
                    )
                except FileNotFoundError as exc:
                    raise AirflowFailException(str(exc)) from exc
                print(f"{summary['subject']}\ndecision: {summary['decision_reason']}")
                return summary

            @task(task_id="email", retries=5, retry_delay=dt.timedelta(minutes=5))
            def email(summary: dict) -> str:
                from bantay.config import get_settings
                from bantay.drift import send_day_email

                return send_day_email(
                    get_settings(), summary["model"], dt.date.fromisoformat(summary["date"])
                )

            @task(task_id="retrain", outlets=[asset])
            def retrain(summary: dict, drift=asset):
                from airflow.sdk.exceptions import AirflowSkipException

                if not summary["triggers_retrain"]:
                    raise AirflowSkipException(f"no retrain: {summary['decision_reason']}")
                yield Metadata(
                    drift,
                    extra={
                        "summary": summary["subject"],
                        "report_json": summary["report_json"],
                        "report_html": summary["report_html"],
                        "drifted_features": summary["drifted_features"],
                        "date": summary["date"],
                    },
                )

            summary = check(day)
            email(summary)
            retrain(summary)


bantay_drift()
