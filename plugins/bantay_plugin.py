"""Registers the bantay pages with Airflow's API server and UI; the pages live in ``bantay.ui``.

* ``/bantay/...``: the FastAPI app (every route authorised by Airflow's auth manager).
* Nav entry *Models* (top level), rendered inside the Airflow UI.
* A *bantay* tab on every DAG run page: what the run meant for the models.
* A *bantay* extra link on training and drift task instances: the version, or the drift day.

The app is built only when the API server asks for it, so the scheduler, the workers and the
DAG processor, which load plugins too, never import FastAPI routes or Jinja templates.
"""

from __future__ import annotations

from functools import cached_property

from airflow.plugins_manager import AirflowPlugin

from bantay.ui.links import BantayPageLink


class BantayPlugin(AirflowPlugin):
    name = "bantay"
    external_views = [
        {
            "name": "Models",
            "href": "bantay/models",
            "url_route": "bantay",
            "destination": "nav",
            "nav_top_level": True,
        },
        {
            "name": "bantay",
            "href": "bantay/runs/{DAG_ID}/{RUN_ID}",
            "url_route": "bantay-run",
            "destination": "dag_run",
        },
    ]

    global_operator_extra_links = [BantayPageLink()]

    @cached_property
    def fastapi_apps(self) -> list[dict]:  # type: ignore[override]
        from bantay.ui.app import PREFIX, create_app

        return [{"app": create_app(), "url_prefix": PREFIX, "name": "bantay"}]
