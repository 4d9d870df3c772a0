"""The actions: each one triggers an existing DAG through Airflow, as the logged-in user.

A form that cannot be acted on (a blank reason, no version chosen, a version that may not be
rolled back to) comes back as the same form, filled in as sent, with what to fix (422, HTML).

The web process never moves a pointer or writes the registry: a retrain is a run of the model's
training DAG, a rollback a ``bantay_rollback`` run, a re-check a ``bantay_drift`` run, a
re-baseline a ``bantay_rebaseline`` run, "Shadow this", "Stop shadow" and "Stop experiment"
``bantay_shadow`` runs (which stage through ``Promotion.stage_shadow``, or stop the experiment as
``bantay experiment stop`` does). The run is created
by Airflow's own trigger endpoint code (the same parameter validation, ``triggering_user_name``
and run note as the UI's Trigger button), so users, audit, retries and permissions stay Airflow's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.common.dagbag import create_dag_bag
from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
from airflow.api_fastapi.core_api.routes.public.dag_run import trigger_dag_run
from airflow.utils.session import create_session
from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from bantay.airflow.training_runs import training_dag_id
from bantay.serving.promotion import serving_refusal
from bantay.ui import views
from bantay.ui.auth import DRIFT, REBASELINE, ROLLBACK, SHADOW, require_trigger, same_origin
from bantay.ui.queries import Reader, VersionRecord, reader
from bantay.ui.render import relative, render

router = APIRouter(dependencies=[Depends(same_origin)])
# Validated here, not by FastAPI: a bad value re-renders the form rather than a JSON error.
Reason = Annotated[str, Form()]
Version = Annotated[str, Form()]
MAX_REASON = 2000

_DAG_BAG: Any = None


def _dag_bag():
    global _DAG_BAG
    if _DAG_BAG is None:
        _DAG_BAG = create_dag_bag()
    return _DAG_BAG


def trigger(request: Request, user: BaseUser, dag_id: str, conf: dict, note: str) -> str:
    """Create a run of ``dag_id`` exactly as ``POST /api/v2/dags/{dag_id}/dagRuns`` does."""
    body = TriggerDAGRunPostBody(logical_date=None, conf=conf, note=note)
    with create_session() as session:
        run = trigger_dag_run(
            dag_id=dag_id,
            body=body,
            dag_bag=_dag_bag(),
            user=user,
            session=session,
            request=request,
        )
        return run.run_id


def _back(request: Request, page: str, **query: str) -> RedirectResponse:
    return RedirectResponse(
        relative(request, page) + "?" + urlencode(query), status.HTTP_303_SEE_OTHER
    )


def _run(request: Request, page: str, user: BaseUser, dag_id: str, conf: dict, note: str):
    try:
        run_id = trigger(request, user, dag_id, conf, note)
    except HTTPException as exc:  # Airflow refused (bad params, paused DAG, import errors)
        return _back(request, page, error=f"{dag_id} was not triggered: {exc.detail}")
    return _back(request, page, triggered=dag_id, run=run_id)


class FormError(Exception):
    """What is wrong with a submitted form, in words for the person who sent it."""


def _reason(reason: str, what: str) -> str:
    reason = reason.strip()
    if not reason:
        raise FormError(
            f"a {what} needs a reason: write why in the form; it is kept in the audit log"
        )
    if len(reason) > MAX_REASON:
        raise FormError(f"the reason is {len(reason):,} characters; keep it under {MAX_REASON:,}")
    return reason


def _form_again(
    request: Request, kind: str, model: str, error: FormError, **form: Any
) -> HTMLResponse:
    """The form of ``kind`` (retrain, rollback, rebaseline) again, as sent, with the error."""
    r = reader()
    context: dict[str, Any] = {"hold": None, "targets": [], "day": None, **form}
    if kind == "retrain":
        context["hold"] = views.latest_hold(r, model)
    elif kind == "shadow":
        record = r.version(model, form.get("selected") or "")
        context["eligible"] = bool(record) and shadow_refusal(r, model, record) is None
    elif kind == "rollback":
        header = views.model_header(r, model)
        context["targets"] = views.rollback_targets(
            r.versions(model), header["promotions"], header["prod_id"]
        )
    return render(
        request,
        "action_form.html",
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        kind=kind,
        model=model,
        message=str(error),
        errors=r.errors,
        **context,
    )


def _known(model: str) -> None:
    names = reader().model_names()
    if model not in names:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"unknown model {model!r}; configured models: {names}"
        )


@router.post("/models/{model}/retrain")
def retrain(
    request: Request,
    model: str,
    user: Annotated[BaseUser, Depends(require_trigger())],
    reason: Reason = "",
):
    """Start a run of ``model``'s training DAG with the person's reason."""
    _known(model)
    try:
        why = _reason(reason, "retrain")
    except FormError as err:
        return _form_again(request, "retrain", model, err, reason=reason)
    conf = {"reason": why, "force": False, "force_reason": None, "as_of": None}
    dag_id = training_dag_id(model)
    return _run(request, f"/models/{model}", user, dag_id, conf, f"Retrain: {why}")


@router.post("/models/{model}/rollback")
def rollback(
    request: Request,
    model: str,
    user: Annotated[BaseUser, Depends(require_trigger(ROLLBACK))],
    version: Version = "",
    reason: Reason = "",
):
    """Start a ``bantay_rollback`` run that puts ``version`` back into production: an archived
    version that served before."""
    _known(model)
    try:
        why = _reason(reason, "rollback")
        _rollback_target(model, version)
    except FormError as err:
        return _form_again(request, "rollback", model, err, reason=reason, selected=version)
    conf = {"model": model, "version": version, "reason": why}
    note = f"Roll back {model} to {version}: {why}"
    return _run(request, f"/models/{model}", user, ROLLBACK, conf, note)


def _rollback_target(model: str, version: str) -> None:
    """FormError unless ``version`` is one ``model`` may be rolled back to."""
    r = reader()
    header = views.model_header(r, model)
    targets = [
        v.version
        for v in views.rollback_targets(r.versions(model), header["promotions"], header["prod_id"])
    ]
    if not version.strip():
        raise FormError("choose the version to roll back to")
    if version not in targets:
        raise FormError(
            f"{model} may not be rolled back to {version!r}: only an archived version that "
            "served before can serve again; choose one of "
            + (", ".join(targets) if targets else "none (no earlier version served)")
        )


@router.post("/models/{model}/drift/{day}/recheck")
def recheck(
    request: Request,
    model: str,
    day: str,
    user: Annotated[BaseUser, Depends(require_trigger(DRIFT))],
):
    """Run ``bantay_drift`` again for ``day`` and ``model`` alone (its report, row and e-mail
    are redone), labelled as the person's re-check."""
    _known(model)
    try:
        checked = dt.date.fromisoformat(day)
    except ValueError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{day!r} is not a day") from None
    page = f"/models/{model}/drift/{checked.isoformat()}"
    why = f"re-check of {model} for {checked} by {user.get_name()} from the bantay pages"
    conf = {"date": checked.isoformat(), "model": model, "reason": why}
    return _run(request, page, user, DRIFT, conf, why[0].upper() + why[1:])


@router.post("/models/{model}/drift/{day}/rebaseline")
def rebaseline(
    request: Request,
    model: str,
    day: str,
    user: Annotated[BaseUser, Depends(require_trigger(REBASELINE))],
    reason: Reason = "",
):
    """Start a ``bantay_rebaseline`` run: the days up to ``day`` become the drift reference of
    the version that serves, recorded with the person and their reason."""
    _known(model)
    try:
        last = dt.date.fromisoformat(day)
    except ValueError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{day!r} is not a day") from None
    try:
        why = _reason(reason, "re-baseline")
    except FormError as err:
        return _form_again(request, "rebaseline", model, err, reason=reason, day=last)
    conf = {"model": model, "date": last.isoformat(), "days": None, "reason": why}
    note = f"Re-baseline {model} up to {last}: {why}"
    return _run(request, f"/models/{model}/drift/{last.isoformat()}", user, REBASELINE, conf, note)


def shadow_refusal(r: Reader, model: str, record: VersionRecord) -> str | None:
    """Why ``record`` may not be staged as ``model``'s shadow; None when it may."""
    if (r.pointer(model) or {}).get("version") == record.version:
        return f"{record.version} serves {model} already: shadow a version that does not"
    return serving_refusal(record, "shadow")


@router.post("/models/{model}/shadow")
def shadow(
    request: Request,
    model: str,
    user: Annotated[BaseUser, Depends(require_trigger(SHADOW))],
    version: Version = "",
    reason: Reason = "",
):
    """Start a ``bantay_shadow`` run that stages ``version`` as ``model``'s shadow: scored
    beside production from the next ``bantay_scoring`` run on, never instead of it."""
    _known(model)
    r = reader()
    record = r.version(model, version) if version.strip() else None
    try:
        why = _reason(reason, "shadow")
        if record is None:
            raise FormError(f"{model} has no version {version[:200]!r} in the registry")
        refused = shadow_refusal(r, model, record)
        if refused:
            raise FormError(refused)
    except FormError as err:
        return _form_again(request, "shadow", model, err, reason=reason, selected=version)
    conf = {"model": model, "action": "stage", "version": version, "reason": why}
    note = f"Shadow {model} {version}: {why}"
    return _run(request, f"/models/{model}/versions/{version}", user, SHADOW, conf, note)


@router.post("/models/{model}/shadow/stop")
def stop_shadow(
    request: Request,
    model: str,
    user: Annotated[BaseUser, Depends(require_trigger(SHADOW))],
    reason: Reason = "",
):
    """Start a ``bantay_shadow`` run that stops scoring ``model``'s shadow (production is
    untouched)."""
    _known(model)
    try:
        why = _reason(reason, "stop of shadow scoring")
        if not reader().shadow(model):
            raise FormError(f"no shadow of {model} is staged: there is nothing to stop")
    except FormError as err:
        return _form_again(request, "stop_shadow", model, err, reason=reason)
    conf = {"model": model, "action": "stop", "version": None, "reason": why}
    note = f"Stop the shadow of {model}: {why}"
    return _run(request, f"/models/{model}", user, SHADOW, conf, note)


@router.post("/models/{model}/experiment/stop")
def stop_experiment(
    request: Request,
    model: str,
    user: Annotated[BaseUser, Depends(require_trigger(SHADOW))],
    reason: Reason = "",
):
    """Start a ``bantay_shadow`` run that stops ``model``'s running experiment (for harm, or
    once decided), recorded with the person, their reason and the analysis of the day."""
    _known(model)
    page = f"/models/{model}/experiment"
    try:
        why = _reason(reason, "stop of the experiment")
        running = reader().experiment(model)
        if not running or running.get("status") != "running":
            raise FormError(f"{model} runs no experiment: there is nothing to stop")
    except FormError as err:
        return _form_again(request, "stop_experiment", model, err, reason=reason)
    conf = {"model": model, "action": "stop_experiment", "version": None, "reason": why}
    note = f"Stop experiment {running['id']} of {model}: {why}"
    return _run(request, page, user, SHADOW, conf, note)
