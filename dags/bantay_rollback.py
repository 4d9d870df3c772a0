"""
### bantay_rollback: put a previous model version back into production, by hand

Triggered manually (never scheduled). The trigger form picks the **model**, the **version** to
go back to (empty: the version before the current one, from the pointer's `previous`), and a
**reason**, which is required and kept in the promotion audit log with who triggered the run.

The target's integrity is verified (every file's sha256 against its manifest, and the manifest
against the sha256 recorded in the registry at publish) **before** the production pointer moves; the pointer is swapped with a conditional write (If-Match), so a
rollback racing another promotion fails cleanly instead of clobbering it. Emits
`models/<model>/production`. The same action is `bantay rollback --model M [--to VERSION]`.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Metadata, Param, task

from bantay.airflow.assets import production_asset
from bantay.airflow.defaults import bantay_dag
from bantay.settings import get_settings

SETTINGS = get_settings()
MODELS = [m.name for m in SETTINGS.models]
PRODUCTION = [production_asset(m) for m in MODELS]


@bantay_dag(
    "bantay_rollback",
    doc_md=__doc__,
    schedule=None,
    tags=["serving", "rollback"],
    settings=SETTINGS,
    timeout=dt.timedelta(minutes=15),
    params={
        "model": Param(MODELS[0], enum=MODELS, title="Model"),
        "version": Param(
            None,
            type=["null", "string"],
            title="Version to restore",
            description="Empty: the previous production version.",
        ),
        "reason": Param("", type="string", minLength=1, title="Why (kept in the audit log)"),
    },
)
def bantay_rollback():
    @task(outlets=PRODUCTION)
    def rollback(params: dict, dag_run=None):
        from airflow.sdk.exceptions import AirflowFailException

        from bantay.airflow.edge import for_model
        from bantay.serving.promotion import Promotion
        from bantay.stores.model_store import ModelStoreError

        reason = (params.get("reason") or "").strip()
        if not reason:
            raise AirflowFailException("a rollback needs a 'reason' in the trigger form")
        res = for_model(params["model"])
        promotion = Promotion(res.store, res.registry)
        who = getattr(dag_run, "triggering_user_name", None) or "airflow"
        try:
            pointer = promotion.rollback(
                params["model"],
                params.get("version") or None,
                actor=f"{who} via {dag_run.run_id}",
                reason=reason,
            )
        except ModelStoreError as exc:
            # Integrity failures and unknown versions will not fix themselves on retry.
            raise AirflowFailException(str(exc)) from exc
        print(
            f"{params['model']} production is now {pointer['version']} (was {pointer.get('previous')})"
        )
        for asset in PRODUCTION:
            if asset.name == f"models/{params['model']}/production":
                yield Metadata(asset, extra={"version": pointer["version"], "rollback": True})

    rollback()


bantay_rollback()
