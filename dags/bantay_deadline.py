"""
### bantay_deadline: one e-mail when the nightly cycle is late, saying which DAG

Runs at `nightly_deadline` (cron, UTC; default 08:00) and looks at the day before: are that
day's features accepted, each model's prediction log written and each model's drift check
recorded? It judges from what `bantay_features`, `bantay_scoring` and `bantay_drift` leave
behind, not from run states, so a green run that wrote nothing is late too.

When something is missing, the data engineers and the late models' on-call recipients get one
e-mail (`smtp_default`): the subject names the late DAGs, the body says per model what is
missing and links to the DAG's runs. When all is done the task logs "on time" and sends nothing.
A model that has never had a production version is not late: its people are told once that it
has no production version yet.

Why not Airflow's `DeadlineAlert`: it is attached to a single DAG run, while the night is three
DAGs chained by an Asset (scoring has no run at all when features never arrived); the check here
also survives a scheduler that was down at the deadline (the run starts when it is back).

Trigger form: `date` to check one day by hand.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, task

from bantay.airflow.defaults import bantay_dag, cron
from bantay.settings import get_settings

SETTINGS = get_settings()


@bantay_dag(
    "bantay_deadline",
    doc_md=__doc__,
    schedule=cron(SETTINGS.nightly_deadline, interval=False),
    tags=["monitoring", "deadline"],
    settings=SETTINGS,
    timeout=dt.timedelta(minutes=10),
    params={
        "date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Day to check",
            description="Default: the day before the run.",
        ),
    },
)
def bantay_deadline():
    @task(retries=5, retry_delay=dt.timedelta(minutes=2))
    def check(params: dict, dag_run=None) -> list[dict]:
        from bantay.notify.deadline import check_night
        from bantay.notify.mailer import send_email
        from bantay.settings import get_settings
        from bantay.stores.registry import registry_for

        # The night is every model's: one registry, one layout, one notify block.
        settings = get_settings()
        notify = settings.notify
        run_after = dag_run.run_after
        day = (
            dt.date.fromisoformat(params["date"])
            if params.get("date")
            else (run_after - dt.timedelta(days=1)).date()
        )
        found = check_night(
            day,
            f"{run_after:%Y-%m-%d %H:%M} UTC",
            models=settings.models,
            layout=settings.layout,
            notify=notify,
            registry=registry_for(settings),
            send=lambda msg: send_email(msg, notify.smtp_conn_id),
            sources=settings.features.sources,
        )
        if found["never_served"]:
            print(f"no production version yet (not judged): {', '.join(found['never_served'])}")
        for subject in found["sent"]:
            print(f"sent: {subject}")
        late = found["late"]
        if not late:
            print(f"on time: the cycle for {day} is done for every model that serves")
        for item in late:
            print(f"- {item['dag_id']} ({item['model']}): {item['missing']}")
        return late

    check()


bantay_deadline()
