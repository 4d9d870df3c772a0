"""The FastAPI app behind the bantay pages, mounted by Airflow's API server under ``/bantay``.

Server-rendered Jinja pages, one stylesheet and one small script; every link is relative, so the
pages work behind a sub-path or a proxy and inside the Airflow UI's iframe. Links into Airflow
itself are marked ``data-airflow``: the script hands them to the shell around the iframe (see
``static/bantay.js``). Every route, the static files included, depends on ``require_read``: an
anonymous request gets 401, a user without read access to the bantay DAGs 403. Every response may
be framed only by a page of the same origin (Airflow's shell), never by another site.
"""

from __future__ import annotations

from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException

from bantay.ui import actions, learners, pages
from bantay.ui.auth import require_read
from bantay.ui.render import render

PREFIX = "/bantay"
# The pages carry actions (retrain, roll back): no other site may frame them and lure a click.
FRAME_ANCESTORS = "frame-ancestors 'self'"


def create_app() -> FastAPI:
    """The app; cheap to build (no database or S3 access until a request comes)."""
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
    app.include_router(learners.router)

    @app.exception_handler(HTTPException)
    async def error_page(request: Request, exc: HTTPException):
        """A browser (inside Airflow's frame) gets a page saying what was not found or not
        allowed; a script gets FastAPI's JSON ``detail``, as from any other route."""
        if "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        return render(
            request,
            "error.html",
            status_code=exc.status_code,
            code=exc.status_code,
            detail=exc.detail,
            headers=exc.headers,
        )

    @app.middleware("http")
    async def same_origin_frames_only(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", FRAME_ANCESTORS)
        return response

    return app
