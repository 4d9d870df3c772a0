"""
### bantay_erase: a batch of erasure requests, with nobody's id in Airflow

Erases every learner named in the request files waiting in `<data>/erasure/requests/` (JSON lists
of `{"learner_id": ..., "reason": ..., "actor": ...}`), exactly as `bantay erase LEARNER_ID` does
for one: out of the raw, accepted and quarantine trees, the prediction logs and pseudonymous
outputs, the runs, the outbox, the online store, every version's reference and re-baselines, the
drift check's evidence samples and the training-set manifests, with a tombstone and an audit row
each. A file is checked whole before anything is erased, and deleted once every request in it is
done. Ids never enter Airflow (a run's conf, XCom and log are kept as long as Airflow keeps runs):
the log and XCom name learners by their keyed hash only.

Trigger form: `dry_run` lists what would be touched and changes nothing; `retrain` triggers each
affected model's training DAG once for the batch (or logs the command).
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, task

from bantay.airflow.defaults import bantay_dag
from bantay.settings import get_settings

SETTINGS = get_settings()


@bantay_dag(
    "bantay_erase",
    doc_md=__doc__,
    schedule=None,
    tags=["erasure", "privacy"],
    settings=SETTINGS,
    timeout=dt.timedelta(hours=2),
    params={
        "dry_run": Param(False, type="boolean", title="Dry run", description="Change nothing."),
        "retrain": Param(
            False,
            type="boolean",
            title="Retrain",
            description="Retrain the production versions trained on an erased learner.",
        ),
    },
)
def bantay_erase():
    @task(retries=2, retry_delay=dt.timedelta(minutes=5))
    def erase_requests(params: dict, dag_run=None) -> dict:
        import json

        from bantay.cli.erase_batch import erase_batch

        result = erase_batch(
            actor=f"bantay_erase {dag_run.run_id}",
            dry_run=bool(params.get("dry_run")),
            retrain=bool(params.get("retrain")),
        )
        print(json.dumps(result, indent=2, sort_keys=True))
        return {"files": len(result["files"]), "erased": len(result["erased"])}

    erase_requests()


bantay_erase()
