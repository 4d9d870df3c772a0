"""
### bantay_features: validate raw partitions, then materialize them into the online store

Runs daily for the day that just ended (data interval `[D, D+1)` UTC):

1. **plan**: the days to process: the data interval, or the range given in the trigger form
   (`start_date` .. `end_date`, both inclusive) for a backfill.
2. **wait_for_partitions**: a sensor in *reschedule* mode (frees its worker slot between pokes)
   until every source's partition for those days has arrived; gives up after
   `features.sensor_timeout_hours`.
3. **validate**: the data contract over every file of every partition the window reads (the
   days, the earlier day that late rows reach back into, and the label partitions delivered):
   schema, nulls and NaN, ranges, frozen columns, duplicate or conflicting rows, ids against the
   day's profile, timestamps, future-dated partitions, row count against recent days. A passing
   partition is copied to `accepted/`, the only tree Feast and training read; a failing one is
   moved to `quarantine/<source>/date=<day>/attempt-N/` with `reason.json`, and this task fails
   with what to fix. When every partition passed it emits the `features/bantay` Asset (the days
   accepted), which starts `bantay_scoring`: scoring reads the accepted partitions, not the
   online store, so it need not wait for step 4.
4. **materialize**: Feast `materialize` over exactly the interval (plus allowed lateness) with an
   explicit start and end, so re-runs and backfills are idempotent and never depend on Feast's
   own watermark. It runs beside scoring: the online store serves lookups of single learners.

`feast apply` is a deploy step (`bantay features apply`), never part of this DAG.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, PokeReturnValue, task

from bantay.airflow.assets import features_asset
from bantay.airflow.defaults import bantay_dag, cron
from bantay.airflow.lineage_task import lineage_task
from bantay.settings import get_settings

SETTINGS = get_settings()
FEATURES = features_asset(SETTINGS.project)


@bantay_dag(
    "bantay_features",
    doc_md=__doc__,
    schedule=cron(SETTINGS.features.schedule),
    tags=["features", "feast"],
    settings=SETTINGS,
    timeout=dt.timedelta(hours=2),
    params={
        "start_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Backfill from (inclusive)",
            description="Leave empty to process the run's data interval.",
        ),
        "end_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Backfill to (inclusive)",
            description="Defaults to the start date when only that is given.",
        ),
    },
)
def bantay_features():
    @task
    def plan(
        params: dict | None = None, data_interval_start=None, data_interval_end=None
    ) -> list[str]:
        from airflow.sdk.exceptions import AirflowFailException

        from bantay.airflow.planning import PlanError, days_to_process

        try:
            days = days_to_process(params, data_interval_start, data_interval_end)
        except PlanError as exc:
            raise AirflowFailException(str(exc)) from exc
        return [d.isoformat() for d in days]

    @task.sensor(
        mode="reschedule",
        poke_interval=SETTINGS.features.sensor_poke_minutes * 60,
        timeout=SETTINGS.features.sensor_timeout_hours * 3600,
    )
    def wait_for_partitions(days: list[str]) -> PokeReturnValue:
        from bantay.features.materialize import missing_partitions
        from bantay.settings import get_settings

        settings = get_settings()
        missing = missing_partitions(
            settings.layout, [dt.date.fromisoformat(d) for d in days], settings.features.sources
        )
        if missing:
            print(f"waiting for {len(missing)} partition(s), e.g. {missing[:3]}")
        return PokeReturnValue(is_done=not missing)

    @lineage_task(outlets=[FEATURES])
    def validate(
        days: list[str], run_id: str | None = None, logical_date=None, outlet_events=None
    ) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from bantay.airflow.lineage import contract_lineage
        from bantay.airflow.lineage_task import report
        from bantay.features.contract import ContractViolation, enforce_for, label_sources
        from bantay.settings import get_settings

        settings = get_settings()
        try:
            results = enforce_for(
                [dt.date.fromisoformat(d) for d in days],
                layout=settings.layout,
                features=settings.features,
                labels=label_sources(settings.models),
                run_id=run_id,
                as_of=logical_date.date() if logical_date else None,
            )
        except ContractViolation as exc:
            # Bad data does not get better by retrying: fail now, with what to fix (the FAIL
            # lineage event carries the failed rules of the quarantined partitions).
            feeds = settings.features.feeds
            report(*contract_lineage(settings.project, feeds, exc.results, refused=True))
            raise AirflowFailException(str(exc)) from exc
        report(*contract_lineage(settings.project, settings.features.feeds, results))
        checked = {"partitions": len(results), "rows": sum(r.rows for r in results)}
        # Only reached when every partition passed: a failed contract emits no event, so
        # nothing downstream ever scores a quarantined day.
        outlet_events[FEATURES].extra = {"days": days, **checked}
        return checked

    @lineage_task
    def materialize(days: list[str], checked: dict) -> dict:
        from bantay.airflow.lineage import materialize_lineage
        from bantay.airflow.lineage_task import report
        from bantay.features.materialize import materialize
        from bantay.settings import get_settings
        from bantay.stores.feast_store import store

        settings = get_settings()
        summary = materialize(
            [dt.date.fromisoformat(d) for d in days],
            feast=store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        feeds = [settings.features.feed(name) for name in settings.features.sources or ()]
        report(*materialize_lineage(settings.project, feeds))
        print(f"materialized {checked['rows']} validated rows: {summary}")
        return summary

    days = plan()
    checked = validate(days)
    wait_for_partitions(days) >> checked
    materialize(days, checked)


bantay_features()
