"""The "bantay" extra link on task instances of the training and drift DAGs.

Training tasks link to the version the run produced, drift tasks to the day the run checked. The
link is a plain URL to ``/bantay/links/...`` (computed without a database read, as the API server
asks for every task instance it shows); that route looks the run up in the registry and redirects
to the page, or to the run's bantay tab when the run has produced nothing yet. Light: the plugin
imports this module in every Airflow process.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlparse

from airflow.configuration import conf
from airflow.sdk import BaseOperatorLink

TRAINING_PREFIX = "bantay_training_"
DRIFT = "bantay_drift"


def has_page(dag_id: str, task_id: str) -> bool:
    """Tasks whose run has a bantay page: every training task, a drift model group's tasks."""
    return dag_id.startswith(TRAINING_PREFIX) or (dag_id == DRIFT and "." in task_id)


def link_path(dag_id: str, run_id: str, task_id: str) -> str:
    parts = (quote(p, safe="") for p in (dag_id, run_id, task_id))
    return "/bantay/links/" + "/".join(parts)


def _base_path() -> str:
    return urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


class BantayPageLink(BaseOperatorLink):
    """``bantay``: the version page (training) or the drift day page (drift)."""

    name = "bantay"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        if not has_page(ti_key.dag_id, ti_key.task_id):
            return ""  # other DAGs' tasks: no link (the UI hides an empty one)
        return _base_path() + link_path(ti_key.dag_id, ti_key.run_id, ti_key.task_id)
