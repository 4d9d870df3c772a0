"""
### bantay_rebaseline: the new inputs declared the norm, by a person, on the record

Triggered by hand (never scheduled), from the drift-day page's **Re-baseline** button or the
trigger form, when the drift e-mail says *inputs moved, quality holds*: the inputs moved (a new
term, a new intake) and the model that serves keeps its quality on the matured labels, so
retraining is not the answer and alarming every day is not either.

The form takes the **model**, the **date** of the new reference's last day (empty: the day before
the run), optionally the number of **days** (empty: the days since the open drift began, at most
the model's `reference_days`), and a **reason**, required. The version that serves gets a new drift
reference: those days of the prediction log, learners observed that day, scored by that version;
stored beside its published reference (which stays, and stays the yardstick of its quality) and
recorded in the registry with who triggered the run, why, when, which days and the file's sha256.
The next drift check compares with it and says the drift was answered, by whom. The same action
is `bantay rebaseline --model M --reason "..."`.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, task

from bantay.airflow.defaults import bantay_dag
from bantay.settings import get_settings

SETTINGS = get_settings()
MODELS = [m.name for m in SETTINGS.models]


@bantay_dag(
    "bantay_rebaseline",
    doc_md=__doc__,
    schedule=None,
    tags=["monitoring", "rebaseline"],
    settings=SETTINGS,
    timeout=dt.timedelta(minutes=30),
    params={
        "model": Param(MODELS[0], enum=MODELS, title="Model"),
        "date": Param(
            None,
            type=["null", "string"],
            title="Last day of the new reference (YYYY-MM-DD)",
            description="Empty: the day before the run.",
        ),
        "days": Param(
            None,
            type=["null", "integer"],
            minimum=3,
            title="Days in it",
            description="Empty: the days since the open drift began (at most reference_days).",
        ),
        "reason": Param("", type="string", minLength=1, title="Why (kept in the registry)"),
    },
)
def bantay_rebaseline():
    @task
    def rebaseline(params: dict, dag_run=None) -> dict:
        import dataclasses

        from airflow.sdk.exceptions import AirflowFailException

        from bantay.monitoring.baseline import rebaseline as rebaseline_model
        from bantay.stores.model_store import ModelStoreError

        reason = (params.get("reason") or "").strip()
        if not reason:
            raise AirflowFailException("a re-baseline needs a 'reason' in the trigger form")
        try:
            day = (
                dt.date.fromisoformat(params["date"])
                if params.get("date")
                else dag_run.run_after.date() - dt.timedelta(days=1)
            )
        except ValueError:
            raise AirflowFailException(f"date {params['date']!r}: use YYYY-MM-DD") from None
        who = getattr(dag_run, "triggering_user_name", None) or "airflow"
        try:
            record = rebaseline_model(
                get_settings(),
                params["model"],
                day=day,
                by=f"{who} via {dag_run.run_id}",
                reason=reason,
                days=params.get("days"),
            )
        except (ModelStoreError, FileNotFoundError, ValueError) as exc:
            # Missing logs, no production version, bad input: a retry would not change them.
            raise AirflowFailException(str(exc)) from exc
        print(
            f"re-baselined {record.model} {record.version}: {record.first_day} .. {record.last_day}"
        )
        return {k: str(v) for k, v in dataclasses.asdict(record).items()}

    rebaseline()


bantay_rebaseline()
