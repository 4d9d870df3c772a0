"""
### bantay_features: validate raw partitions, then materialize them into the online store

Runs daily for the day that just ended (data interval `[D, D+1)` UTC):

1. **plan**: the days to process: the data interval, or the range given in the trigger form
   (`start_date` .. `end_date`, both inclusive) for a backfill.
2. **wait_for_partitions**: a sensor in *reschedule* mode (frees its worker slot between pokes)
   until every source's partition for those days has arrived; gives up after
   `features.sensor_timeout_hours`, and the contract then runs on what arrived (a missing feed
   holds only the models that read it).
3. **validate**: the data contract over every file of every partition the window reads (the
   days, the earlier day that late rows reach back into, and the label partitions delivered):
   schema, nulls and NaN, ranges, frozen columns, duplicate or conflicting rows, ids against the
   day's profile, timestamps, future-dated partitions, row count against recent days. A passing
   partition is copied to `accepted/`, the only tree Feast and training read; a failing one is
   moved to `quarantine/<source>/date=<day>/attempt-N/` with `reason.json`.
4. **release**: emits the `features/bantay` Asset (the days accepted, the models released),
   which starts `bantay_scoring`. A broken feed holds only the models that read it (through their
   feature service, or the population feed every model reads): the others are released and scored
   as usual. Scoring reads the accepted partitions, not the online store, so it need not wait for
   materialization.
5. **refuse**: when anything was quarantined or missing, e-mails the data engineers and the
   on-call people of the held models (naming them and the feeds), then fails the run with what to
   fix.
6. **materialize**: Feast `materialize` over exactly the interval (plus allowed lateness) with an
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

    # all_done: a feed still missing when the sensor gives up holds only the models that read
    # it; the contract says it is missing and the others are released.
    @lineage_task(trigger_rule="all_done")
    def validate(days: list[str], run_id: str | None = None, logical_date=None) -> dict:
        from bantay.airflow.lineage import contract_lineage
        from bantay.airflow.lineage_task import report
        from bantay.features.contract import ContractViolation, enforce_for, label_sources
        from bantay.features.isolation import failed_feeds
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
            failed, detail = {}, None
        except ContractViolation as exc:
            # Every passing partition is accepted already; the failing ones are quarantined.
            results, failed, detail = exc.passed + exc.results, failed_feeds(exc.results), str(exc)
            print(detail)
        # Lineage: each feed that passed into accepted/, each refused one into quarantine/ (with
        # the rules it broke).
        feeds = settings.features.feeds
        passed = [r for r in results if r.passed and r.source not in failed]
        accepted_in, accepted_out = contract_lineage(settings.project, feeds, passed)
        refused = [r for r in results if r.source in failed]
        refused_in, refused_out = contract_lineage(settings.project, feeds, refused, refused=True)
        report(accepted_in + refused_in, accepted_out + refused_out)
        return {
            "days": days,
            "partitions": len(results),
            "rows": sum(r.rows for r in results),
            "failed": failed,
            "detail": detail,
        }

    @task(outlets=[FEATURES])
    def release(checked: dict, outlet_events=None) -> dict:
        """The features event, naming the models whose feeds all passed: a broken feed holds
        only the models that read it. No model released: no event (nothing scores)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from bantay.features.isolation import release as released_models
        from bantay.features.readiness import model_sources
        from bantay.settings import get_settings
        from bantay.stores.feast_store import store

        settings = get_settings()
        features = settings.features
        reads, unreadable = {}, {}
        for model in settings.models:
            try:
                views = model_sources(model, feast=store(settings), validated=features.sources)
            except Exception as exc:  # an unknown feature service holds its model alone
                unreadable[model.name] = str(exc)
                continue
            reads[model.name] = [*views, features.population]
        outcome = released_models(reads, checked["failed"], unreadable)
        if not outcome.released:
            raise AirflowSkipException(f"no model released: {outcome.held}")
        outlet_events[FEATURES].extra = {
            "days": checked["days"],
            "partitions": checked["partitions"],
            "rows": checked["rows"],
            **outcome.to_extra(),
        }
        print(f"released to scoring: {outcome.released}; held: {outcome.held or 'none'}")
        return outcome.to_extra()

    @task(trigger_rule="all_done")
    def refuse(checked: dict, dag_run=None, ti=None) -> None:
        """Fails the run when anything was quarantined or missing, after the healthy models were
        released, and tells the on-call people of the held models by name."""
        from airflow.sdk.exceptions import AirflowFailException

        from bantay.notify.mailer import send_email
        from bantay.notify.quarantine import render_quarantine_email
        from bantay.settings import get_settings

        if not checked["failed"]:
            return
        # What release decided; nothing when it released no model (skipped) or failed.
        released = ti.xcom_pull(task_ids="release")
        settings = get_settings()
        held = (released or {}).get("held") or {
            m.name: "the features run released no model" for m in settings.models
        }
        run_url = (
            f"{settings.notify.airflow_base_url.rstrip('/')}/dags/bantay_features/runs/"
            f"{dag_run.run_id}"
        )
        msg = render_quarantine_email(
            settings.notify,
            settings.models,
            held,
            (released or {}).get("models", []),
            checked["detail"],
            run_url,
        )
        try:
            send_email(msg, settings.notify.smtp_conn_id)
        except Exception as exc:  # the run still fails below; the failure e-mail follows
            print(f"could not send the quarantine notice: {exc}")
        # Bad data does not get better by retrying: fail now, with what to fix.
        raise AirflowFailException(checked["detail"])

    @lineage_task
    def materialize(days: list[str], checked: dict) -> dict:
        from bantay.airflow.lineage import materialize_lineage
        from bantay.airflow.lineage_task import report
        from bantay.features.materialize import materialize
        from bantay.features.tombstones import Tombstones
        from bantay.settings import get_settings
        from bantay.stores.connections import erasure_key
        from bantay.stores.feast_store import store

        settings = get_settings()
        summary = materialize(
            [dt.date.fromisoformat(d) for d in days],
            feast=store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
            tombstones=Tombstones.read(settings.layout.tombstones, erasure_key),
        )
        feeds = [settings.features.feed(name) for name in settings.features.sources or ()]
        report(*materialize_lineage(settings.project, feeds))
        print(f"materialized {checked['rows']} validated rows: {summary}")
        return summary

    days = plan()
    checked = validate(days)
    wait_for_partitions(days) >> checked
    release(checked) >> refuse(checked)
    materialize(days, checked)


bantay_features()
