"""
### bantay_rebaseline: the inputs that serving sees now become the drift reference

**When**: the drift e-mail says *inputs moved, quality holds*. The inputs changed for a known
reason (a new term, a new intake) and the version that serves keeps its quality on matured
labels: retraining would not help, and an alarm every morning would teach on-call to ignore it.
A person declares the new inputs the norm, with a reason, on the record.

**What it does** for the model's production version:

1. reads the prediction log of the chosen days (default: the days since the open drift began,
   at most the model's `reference_days`; at least 3), learners observed that day only;
2. scores those rows with the version that serves (whichever version scored them at the time)
   and samples them to the drift `sample_size`;
3. stores them as the version's new drift reference, beside its published reference (which is
   not changed and stays the yardstick of its quality on matured labels), and records in the
   registry who triggered the run, why, when, which days and the file's sha256.

The next `bantay_drift` check compares with the new reference and, on its first quiet day, says
the drift was answered and by whom.

**How to start it**: the drift-day page's **Re-baseline** button, or this DAG's trigger form
(it is never scheduled): **model**, **date** (the new reference's last day; empty: the day
before the run), **days** (optional), **reason** (required). From a shell:
`bantay rebaseline --model M --reason "..."`.
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

        from bantay.airflow.edge import for_model
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
        res = for_model(params["model"])
        try:
            record = rebaseline_model(
                res.model,
                res.layout,
                res.registry,
                res.store,
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
