"""
### bantay_retention: nothing kept longer than it serves

Runs nightly at `retention.schedule` (cron, UTC) and deletes what is older than its kind's
retention period in `bantay.yaml` (`retention:` raw, accepted, quarantine, predictions,
drift_samples, reports, outbox; in days, null keeps a kind until erased, the default). Ages
count back from the day of the run. Accepted day partitions that a production, approved or
rollback-target version still needs (its training window with `lookback_days` before it, its
labels, its drift reference) are kept whatever their age: the registry says which.

The task log lists every deletion (kind, path, age) and every expired day kept for a version,
the same lines `bantay retention` prints. With no period set it deletes nothing.

Trigger form: `dry_run` lists what would be deleted and deletes nothing; `today` counts ages
from another day.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, task

from bantay.airflow.defaults import bantay_dag, cron
from bantay.settings import get_settings

SETTINGS = get_settings()


@bantay_dag(
    "bantay_retention",
    doc_md=__doc__,
    schedule=cron(SETTINGS.retention.schedule, interval=False),
    tags=["retention", "privacy"],
    settings=SETTINGS,
    timeout=dt.timedelta(hours=1),
    params={
        "dry_run": Param(False, type="boolean", title="Dry run", description="Delete nothing."),
        "today": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Count ages from",
            description="Default: the day of the run (UTC).",
        ),
    },
)
def bantay_retention():
    @task(retries=2, retry_delay=dt.timedelta(minutes=5))
    def enforce(params: dict, dag_run=None) -> dict:
        from bantay.features.retention import enforce, report_lines
        from bantay.settings import get_settings

        today = (
            dt.date.fromisoformat(params["today"])
            if params.get("today")
            else dag_run.run_after.date()
        )
        summary = enforce(get_settings(), today, dry_run=bool(params.get("dry_run")))
        for line in report_lines(summary):
            print(line)
        return {"deleted": len(summary["deleted"]), "kept": len(summary["kept"])}

    enforce()


bantay_retention()
