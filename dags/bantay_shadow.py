"""
### bantay_shadow: score an approved version beside production, or stop doing so, by hand

Triggered manually (never scheduled): the version page's **Shadow this** and the model page's
**Stop shadow** buttons start it as the signed-in user, or this DAG's trigger form does. The
form picks the **model**, the **action** (`stage` or `stop`), the **version** to stage, and a
**reason**, which is required and kept in the shadow marker with who triggered the run.

Staging checks the version as a promotion would, before the marker is written: its registry
status must allow it to serve (approved, or archived; a rejected or waiting candidate is refused
with the registry's reason), and every file must match its manifest and the sha256 recorded at
publish. From then on each `bantay_scoring` run scores it beside production, never instead of
it, and logs both scores; the model page shows their agreement by day. Production's pointer is
never touched. The same action is `bantay shadow --model M --to VERSION` (or `--clear`).

The action `stop_experiment` stops the model's running randomised experiment (the Experiment
tab's **Stop experiment**, typically for harm): its record keeps who triggered the run, the
reason and what the analysis said that day, and the challenger's scoring in arms ends. It is
the code path of `bantay experiment stop M --reason ...`.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, task

from bantay.airflow.defaults import bantay_dag
from bantay.settings import get_settings

SETTINGS = get_settings()
MODELS = [m.name for m in SETTINGS.models]


@bantay_dag(
    "bantay_shadow",
    doc_md=__doc__,
    schedule=None,
    tags=["serving", "shadow"],
    settings=SETTINGS,
    timeout=dt.timedelta(minutes=15),
    params={
        "model": Param(MODELS[0], enum=MODELS, title="Model"),
        "action": Param(
            "stage",
            enum=["stage", "stop", "stop_experiment"],
            title="Stage a version, stop the shadow, or stop the running experiment",
        ),
        "version": Param(
            None,
            type=["null", "string"],
            title="Version to score in shadow",
            description="Required to stage; ignored to stop.",
        ),
        "reason": Param("", type="string", minLength=1, title="Why (kept in the marker)"),
    },
)
def bantay_shadow():
    @task
    def shadow(params: dict, dag_run=None) -> dict | None:
        from airflow.sdk.exceptions import AirflowFailException

        from bantay.airflow.edge import for_model
        from bantay.serving.promotion import Promotion
        from bantay.stores.model_store import ModelStoreError

        reason = (params.get("reason") or "").strip()
        if not reason:
            raise AirflowFailException("a shadow change needs a 'reason' in the trigger form")
        res = for_model(params["model"])
        promotion = Promotion(res.store, res.registry)
        who = getattr(dag_run, "triggering_user_name", None) or "airflow"
        actor = f"{who} via {dag_run.run_id}"
        try:
            if params.get("action") == "stop_experiment":
                return _stop_experiment(res, actor, reason, dag_run)
            if params.get("action") == "stop":
                stopped = promotion.stop_shadow(params["model"], actor=actor, reason=reason)
                print(f"{params['model']}: shadow {(stopped or {}).get('version')} stopped")
                return None
            if not params.get("version"):
                raise AirflowFailException("name the 'version' to score in shadow")
            return promotion.stage_shadow(
                params["model"], params["version"], actor=actor, reason=reason
            )
        except (ModelStoreError, ValueError) as exc:
            # A version that may not serve, or whose files do not verify, stays so on retry.
            raise AirflowFailException(str(exc)) from exc

    def _stop_experiment(res, actor: str, reason: str, dag_run) -> dict:
        from bantay.monitoring.experiment_inputs import stop_with_decision

        when = dag_run.logical_date or dag_run.run_after
        record = stop_with_decision(
            res.model,
            res.layout,
            res.store,
            res.registry,
            actor=actor,
            reason=reason,
            as_of=when.date(),
        )
        print(f"{res.name}: experiment {record['id']} stopped: {record['decision_at_stop']}")
        return {k: v for k, v in record.items() if k != "key"}

    shadow()


bantay_shadow()
