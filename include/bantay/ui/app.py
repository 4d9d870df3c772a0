"""The FastAPI app behind the bantay pages, mounted by Airflow's API server under ``/bantay``.

Server-rendered Jinja pages, one stylesheet and one small script; every link is relative, so the
pages work behind a sub-path or a proxy and inside the Airflow UI's iframe. Links into Airflow
itself are marked ``data-airflow``: the script hands them to the shell around the iframe (see
``static/bantay.js``). Every route, the static files included, depends on ``require_read``: an
anonymous request gets 401, a user without read access to the bantay DAGs 403. Every response may
be framed only by a page of the same origin (Airflow's shell), never by another site.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from bantay.airflow.training_runs import training_dag_id
from bantay.ui import fmt
from bantay.ui.auth import ROLLBACK, may_trigger, require_read

HERE = Path(__file__).resolve().parent
PREFIX = "/bantay"
# The pages carry actions (retrain, roll back): no other site may frame them and lure a click.
FRAME_ANCESTORS = "frame-ancestors 'self'"


@lru_cache(maxsize=1)
def templates():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt.FILTERS)
    env.filters["q"] = lambda s: quote(str(s), safe="")
    return env


def app_path(request: Request) -> str:
    """The request's path inside this app (``/models/x``), whatever it is mounted under."""
    root = request.scope.get("root_path", "") or ""
    path = request.url.path
    return path[len(root) :] if root and path.startswith(root) else path


def relative(request: Request, target: str) -> str:
    """A link from the current page to ``target`` (a path inside this app), relative."""
    here = app_path(request)
    up = "../" * max(here.count("/") - 1, 0)
    return (up + target.lstrip("/")) or "./"


def airflow_link(request: Request, target: str) -> str:
    """A relative link to a page of the Airflow UI itself (``dags/<id>/runs/<run>``).

    Templates mark it ``data-airflow``: inside the shell's iframe it must move the shell, not
    the frame (``static/bantay.js``).
    """
    return relative(request, "/") + "../" + target.lstrip("/")


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    user = getattr(request.state, "bantay_user", None)
    context.setdefault("errors", [])
    page = (
        templates()
        .get_template(name)
        .render(
            url=lambda target: relative(request, target),
            airflow=lambda target: airflow_link(request, target),
            user=user.get_name() if user else None,
            may_retrain=lambda model: bool(user and may_trigger(user, training_dag_id(model))),
            training_dag=training_dag_id,
            can_rollback=bool(user and may_trigger(user, ROLLBACK)),
            triggered=request.query_params.get("triggered"),
            triggered_run=request.query_params.get("run"),
            action_error=request.query_params.get("error"),
            **context,
        )
    )
    return HTMLResponse(page, status_code=status_code)


def create_app() -> FastAPI:
    """The app; cheap to build (no database or S3 access until a request comes)."""
    from airflow.api_fastapi.core_api.security import requires_access_dag

    from bantay.ui import actions, pages

    app = FastAPI(
        title="bantay",
        description="The model lifecycle pages of bantay (read access to the bantay DAGs "
        "required).",
        # Airflow's own DAG read check (on the path's dag_id where a route has one), then
        # bantay's: read access to every bantay DAG, since the pages join their outcomes.
        dependencies=[Depends(requires_access_dag(method="GET")), Depends(require_read)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(pages.router)
    app.include_router(actions.router)

    @app.middleware("http")
    async def same_origin_frames_only(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", FRAME_ANCESTORS)
        return response

    return app
