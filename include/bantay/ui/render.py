"""Rendering the bantay pages: the Jinja environment, relative links inside this app and into
Airflow's UI, and the one ``render`` every route answers with."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from bantay.airflow.training_runs import training_dag_id
from bantay.notify import fmt
from bantay.ui.auth import ROLLBACK, SHADOW, demo_mode, may_see_learners, may_trigger

HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def templates():
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


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    user = getattr(request.state, "bantay_user", None)
    context.setdefault("errors", [])
    page = (
        templates()
        .get_template(name)
        .render(
            url=lambda target: relative(request, target),
            airflow=lambda target: airflow_link(request, target),
            user=user.get_name() if user else None,
            demo_mode=demo_mode(user),
            may_retrain=lambda model: bool(user and may_trigger(user, training_dag_id(model))),
            training_dag=training_dag_id,
            can_rollback=bool(user and may_trigger(user, ROLLBACK)),
            can_shadow=bool(user and may_trigger(user, SHADOW)),
            can_see_learners=bool(user and may_see_learners(user)),
            triggered=request.query_params.get("triggered"),
            triggered_run=request.query_params.get("run"),
            action_error=request.query_params.get("error"),
            **context,
        )
    )
    return HTMLResponse(page, status_code=status_code, headers=headers)
