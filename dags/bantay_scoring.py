"""
### bantay_scoring: score active learners with the production model, daily, after features

Scheduled on the `features/bantay` Asset: runs each time `bantay_features` has accepted a new
day of features (the data contract passed), beside that run's online materialization. When the
features run accepted several days (a catch-up after an outage, or a range given by hand), each
of them that has no prediction log yet is scored, oldest first, and the newest day always: a day
already scored keeps the log of what was served then.

For each model (a task group per model, emitting its `predictions/<model>` Asset): load the
production version named by `production.json` in S3 (its sha256 is
checked against the manifest **before** anything is unpickled), read the features of every
learner enrolled that day from the accepted partitions with the online store's as-of rules (the
latest row per learner and view up to the day's end, within the view's TTL: one columnar read,
`bantay.serving.batch_features`; the same values Feast's online store holds), score, and write the
prediction log partition `predictions/<model>/date=<day>/` (features used, score, model
version). When a candidate is staged for **shadow** (`bantay shadow --model M --to VERSION`), it is
scored beside production and the log keeps both; agreement statistics are in the task's return
value (XCom) and log. While a randomised experiment runs (`bantay experiment start M VERSION`,
its challenger staged as the shadow), each learner is put in its arm by the experiment's keyed
hash and the log also keeps `arm`, `assignment_probability`, `served_score` / `served_version`
(the arm's model: what staff see) and `experiment_id`. Re-running a date replaces that date's
partition.

A model the features run held (a feed it reads was quarantined or missing) is skipped, saying
why; the others are scored. Trigger form: `date` to (re)score one day by hand.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Metadata, Param, TaskGroup, task

from bantay.airflow.assets import features_asset, predictions_asset, production_asset
from bantay.airflow.defaults import bantay_dag
from bantay.airflow.lineage_task import lineage_task
from bantay.settings import get_settings

SETTINGS = get_settings()
FEATURES = features_asset(SETTINGS.project)


@bantay_dag(
    "bantay_scoring",
    doc_md=__doc__,
    schedule=[FEATURES],
    tags=["scoring", "serving"],
    settings=SETTINGS,
    timeout=dt.timedelta(hours=1),
    params={
        "date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Day to score",
            description="Default: the last day the features event covered.",
        )
    },
)
def bantay_scoring():
    @task
    def plan(params: dict, triggering_asset_events=None, dag_run=None) -> list[str]:
        from bantay.airflow.planning import days_to_score, events_from_context

        events = events_from_context(triggering_asset_events)
        return days_to_score(params, events, dag_run.run_after)

    @task
    def holds(params: dict, triggering_asset_events=None) -> dict:
        """Models the features run held (a feed they read broke its contract); a day scored by
        hand (the `date` Param) is a person's call and holds nothing."""
        from bantay.airflow.planning import events_from_context, held_by_features

        if params.get("date"):
            return {}
        return held_by_features(events_from_context(triggering_asset_events))

    days = plan()
    held = holds()

    for model in SETTINGS.models:
        predictions = predictions_asset(model.name)
        with TaskGroup(group_id=model.name):

            @lineage_task(
                task_id="score",
                inlets=[FEATURES, production_asset(model.name)],
                outlets=[predictions],
            )
            def score(days: list[str], model_name: str, held: dict):
                from airflow.sdk.exceptions import AirflowSkipException

                if model_name in held:
                    raise AirflowSkipException(f"held by bantay_features: {held[model_name]}")

                from bantay.airflow.edge import for_model
                from bantay.airflow.lineage import scoring_lineage, service_views
                from bantay.airflow.lineage_task import report
                from bantay.airflow.planning import unscored_days
                from bantay.serving.scoring import score_day
                from bantay.stores.feast_store import store as feature_store
                from bantay.stores.model_store import NoProductionVersion, UnknownModel

                res = for_model(model_name)
                feast = feature_store(res.settings)
                if len(days) > 1:

                    def logged(day: str) -> bool:
                        path = res.layout.prediction_path(model_name, dt.date.fromisoformat(day))
                        return path.is_file()

                    days = unscored_days(days, logged)
                    print(f"scoring {len(days)} day(s): {', '.join(days)}")
                summaries = []
                for day in days:
                    try:
                        summary = score_day(
                            dt.date.fromisoformat(day),
                            model=res.model,
                            layout=res.layout,
                            store=res.store,
                            registry=res.registry,
                            feast=feast,
                        )
                    except (NoProductionVersion, UnknownModel) as exc:
                        # Features come before the first model: nothing to score is no failure.
                        raise AirflowSkipException(f"not scored: {exc}") from exc
                    shadow = summary.get("shadow")
                    if shadow and "refused" in shadow:
                        print(f"{day}: shadow not scored: {shadow['refused']}")
                    elif shadow:
                        print(f"{day}: shadow {shadow['version']} vs production: {shadow}")
                    if summary.get("experiment"):
                        print(f"{day}: experiment arms: {summary['experiment']}")
                    yield Metadata(
                        predictions_asset(model_name),  # the outlet: Assets match by name and URI
                        extra={"date": day, "model": model_name, "version": summary.get("version")},
                    )
                    summaries.append(summary)
                storage = res.settings.storage
                views = service_views(feast, res.model.feature_service)
                where = (storage.bucket, storage.prefix)
                version = summaries[-1]["version"]
                report(*scoring_lineage(res.settings.project, model_name, views, version, where))
                return {**summaries[-1], "scored_days": days}

            score(days, model.name, held)


bantay_scoring()
