"""The learner page: ``/models/<model>/learners/<learner>``, one learner's scores by day from
the prediction log, the reasons a counsellor reads, and the learner's values against the day's
scored population.

Only roles in ``ui.learner_roles`` may open it (others get 403, saying which roles may); of
those, only ``ui.learner_id_roles`` are shown learner ids. Everyone else sees and addresses the
learner by its pseudonym (``bantay.features.tombstones.pseudonym``: 16 hex characters of an HMAC
under the erasure key, as the pseudonymous batch output names learners): a page asked for by id
answers them with a redirect to the pseudonym's address, so the id stays out of their history.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bantay.features.tombstones import learner_id, pseudonym
from bantay.stores.connections import erasure_key
from bantay.ui import learner_log, views
from bantay.ui.auth import may_see_learner_ids, require_learners
from bantay.ui.pages import model_reader
from bantay.ui.queries import Reader
from bantay.ui.render import relative, render

router = APIRouter()
LearnerUser = Annotated[BaseUser, Depends(require_learners)]


def _key() -> bytes:
    try:
        return erasure_key()
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"learner pseudonyms need the erasure key, and there is none: {exc}",
        ) from None


def _address(request: Request, model: str, name: str) -> str:
    return relative(request, f"/models/{quote(model, safe='')}/learners/{quote(name, safe='')}")


@router.get("/models/{model}/learners", response_class=HTMLResponse)
def find_learner(request: Request, model: str, user: LearnerUser, q: str = "") -> Response:
    """The model page's search box: to the page of the learner id or pseudonym typed."""
    model_reader(model)
    wanted = q.strip()
    if not wanted:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "type a learner id (e.g. 100042) or a pseudonym (16 hex characters) into the search box",
        )
    return RedirectResponse(_address(request, model, wanted), status.HTTP_303_SEE_OTHER)


def _pseudonymous(text: str) -> bool:
    return len(text) == 16 and all(c in "0123456789abcdef" for c in text)


def _resolve(r: Reader, model: str, wanted: str, parts: list) -> int:
    """The learner ``wanted`` names: a pseudonym (16 hex characters) of a learner in the log,
    else an id."""
    if _pseudonymous(wanted):
        found = learner_log.resolve_pseudonym(parts, wanted, _key())
        if found is None and not wanted.isdigit():
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"no learner with pseudonym {wanted[:40]!r} in the last "
                f"{r.settings.ui.learner_days} days of {model}'s predictions",
            )
        if found is not None:
            return found
    try:
        return learner_id(wanted)
    except ValueError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.get("/models/{model}/learners/{learner}", response_class=HTMLResponse)
def learner_page(request: Request, model: str, learner: str, user: LearnerUser) -> Response:
    r = model_reader(model)
    days = r.settings.ui.learner_days
    parts = learner_log.partitions(r.settings.predictions_dir / model, days)
    ident = _resolve(r, model, learner.strip(), parts)
    show_ids = may_see_learner_ids(user, r.settings)
    name = str(ident) if show_ids else pseudonym(ident, _key())
    if not show_ids and learner.strip() != name:
        return RedirectResponse(_address(request, model, name), status.HTTP_303_SEE_OTHER)
    explain = r.settings.model(model).reasons
    thresholds = views.decision_thresholds(r.versions(model))
    scored = learner_log.learner_days(parts, ident, thresholds, explain.max_reasons)
    if not scored:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"learner {name} has no score of {model} in the last {days} days of the "
            "prediction log; check the id, or the Serving tab for the days scored",
        )
    latest = next(p for p in parts if p.parent.name == f"date={scored[0].day.isoformat()}")
    return render(
        request,
        "learner.html",
        model=model,
        learner=name,
        pseudonymous=not show_ids,
        days=scored,
        latest=scored[0],
        standing=learner_log.standing(latest, ident, explain),
        window=days,
        errors=r.errors,
    )
