"""
### bantay_features: validate raw partitions, then materialize them into the online store

Runs daily for the day that just ended (data interval `[D, D+1)` UTC):

1. **plan**: the days to process: the data interval, or the range given in the trigger form
   (`start_date` .. `end_date`, both inclusive) for a backfill.
2. **wait_for_partitions**: a sensor in *reschedule* mode (frees its worker slot between pokes)
   until every source's partition for those days has arrived; gives up after
   `features.sensor_timeout_hours`.
3. **validate**: the data contract (schema, nulls, ranges, duplicate keys, timestamps inside the
   interval, row count against recent days). A failing partition is moved to
   `quarantine/<source>/date=<day>/` with `reason.json`, this task fails with what to fix, and
   nothing of that day is materialized.
4. **materialize**: Feast `materialize` over exactly the interval (plus allowed lateness) with an
   explicit start and end, so re-runs and backfills are idempotent and never depend on Feast's
   own watermark. Emits the `features/bantay` Asset, which starts `bantay_scoring`.

`feast apply` is a deploy step (`bantay features apply`), never part of this DAG.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronDataIntervalTimetable, Metadata, Param, PokeReturnValue, dag, task

from bantay.assets import features_asset
from bantay.config import get_settings
from bantay.dag_defaults import START_DATE, default_args

SETTINGS = get_settings()
FEATURES = features_asset(SETTINGS.project)


@dag(
    dag_id="bantay_features",
    doc_md=__doc__,
    schedule=(
        CronDataIntervalTimetable(SETTINGS.features.schedule, timezone="UTC")
        if SETTINGS.features.schedule
        else None
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["bantay", "features", "feast"],
    default_args=default_args(SETTINGS, execution_timeout=dt.timedelta(hours=2)),
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
        from bantay.features import day_range

        if params and params.get("start_date"):
            start = dt.date.fromisoformat(params["start_date"])
            end = dt.date.fromisoformat(params.get("end_date") or params["start_date"])
        else:
            start = data_interval_start.date()
            end = (data_interval_end - dt.timedelta(microseconds=1)).date()
        return [d.isoformat() for d in day_range(start, end)]

    @task.sensor(
        mode="reschedule",
        poke_interval=SETTINGS.features.sensor_poke_minutes * 60,
        timeout=SETTINGS.features.sensor_timeout_hours * 3600,
    )
    def wait_for_partitions(days: list[str]) -> PokeReturnValue:
        from bantay.config import get_settings
        from bantay.features import missing_partitions

        settings = get_settings()
        missing = missing_partitions(
            settings, [dt.date.fromisoformat(d) for d in days], settings.features.sources
        )
        if missing:
            print(f"waiting for {len(missing)} partition(s), e.g. {missing[:3]}")
        return PokeReturnValue(is_done=not missing)

    @task
    def validate(days: list[str], run_id: str | None = None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from bantay.config import get_settings
        from bantay.contract import ContractViolation, enforce

        settings = get_settings()
        try:
            results = enforce(
                settings.raw_dir,
                settings.quarantine_dir,
                settings.features.sources,
                [dt.date.fromisoformat(d) for d in days],
                settings.features.contract,
                run_id=run_id,
            )
        except ContractViolation as exc:
            # Bad data does not get better by retrying: fail now, with what to fix.
            raise AirflowFailException(str(exc)) from exc
        return {"partitions": len(results), "rows": sum(r.rows for r in results)}

    @task(outlets=[FEATURES])
    def materialize(days: list[str], checked: dict):
        from bantay.config import get_settings
        from bantay.features import materialize

        summary = materialize(get_settings(), [dt.date.fromisoformat(d) for d in days])
        print(f"materialized {checked['rows']} validated rows: {summary}")
        yield Metadata(FEATURES, extra={"days": days, **summary})

    days = plan()
    checked = validate(days)
    wait_for_partitions(days) >> checked
    materialize(days, checked)


bantay_features()
