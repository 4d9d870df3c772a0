"""The read-only pages: Models, Model (Versions / Promotions / Drift / Serving), Version, Drift
day, the DAG-run tab, and the stylesheet."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from bantay.ui import compare, day_email, views
from bantay.ui.auth import DRIFT, SCORING, TRAINING_PREFIX
from bantay.ui.experiment_view import experiment_tab
from bantay.ui.queries import Reader, VersionRecord, reader
from bantay.ui.render import HERE, relative, render

router = APIRouter()
TABS = ("versions", "promotions", "drift", "serving", "experiment")
SERVING_DAYS = 30


def model_reader(model: str) -> Reader:
    """The pages' reader, once ``model`` is known to be configured (else 404 naming them)."""
    r = reader()
    if not r.known_model(model):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"unknown model {model!r}; configured models: {r.model_names()}",
        )
    return r


def _day(day: str) -> dt.date:
    try:
        return dt.date.fromisoformat(day)
    except ValueError:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"{day!r} is not a day; use YYYY-MM-DD"
        ) from None


@router.get("/", include_in_schema=False)
def index(request: Request) -> RedirectResponse:
    return RedirectResponse(relative(request, "/models"), status.HTTP_303_SEE_OTHER)


@router.get("/static/bantay.css")
def stylesheet() -> FileResponse:
    return FileResponse(HERE / "static" / "bantay.css", media_type="text/css")


@router.get("/static/bantay.js")
def script() -> FileResponse:
    """The one script: links into Airflow itself, from inside the shell's sandboxed iframe."""
    return FileResponse(HERE / "static" / "bantay.js", media_type="text/javascript")


@router.get("/models", response_class=HTMLResponse)
def models(request: Request) -> HTMLResponse:
    r = reader()
    rows = views.model_rows(r)
    return render(request, "models.html", rows=rows, errors=r.errors)


def _model_page(request: Request, model: str, tab: str, **context) -> HTMLResponse:
    r = context.pop("r")
    row = context.pop("row", None) or views.model_header(r, model)
    return render(
        request,
        "model.html",
        model=model,
        tab=tab,
        tabs=TABS,
        row=row,
        uri=r.version_uri(model, row["prod_id"]) if row["prod_id"] else None,
        errors=r.errors,
        **context,
    )


@router.get("/models/{model}", response_class=HTMLResponse)
def model_versions(request: Request, model: str) -> HTMLResponse:
    r = model_reader(model)
    row = views.model_header(r, model)
    records = r.versions(model)
    targets = views.rollback_targets(records, row["promotions"], row["prod_id"])
    versions = [
        {
            "record": v,
            "metrics": views.test_metrics(v),
            "changes": views.changes(v),
            "gate": views.gate_summary(v),
            "decided_by": views.decided_by(v),
            "label_rate": views.label_rate(v),
        }
        for v in records
    ]
    return _model_page(
        request,
        model,
        "versions",
        r=r,
        row=row,
        versions=versions,
        rollback_targets=targets,
        rollback_ids={v.version for v in targets},
        hold=views.latest_hold(r, model),
        compare_pick=views.compare_pick(records, row["prod_id"]),
        shadow=views.shadow_days(r, model, records, SERVING_DAYS),
    )


@router.get("/models/{model}/promotions", response_class=HTMLResponse)
def model_promotions(request: Request, model: str) -> HTMLResponse:
    r = model_reader(model)
    row = views.model_header(r, model)
    return _model_page(request, model, "promotions", r=r, row=row, promotions=row["promotions"])


@router.get("/models/{model}/drift", response_class=HTMLResponse)
def model_drift(request: Request, model: str) -> HTMLResponse:
    r = model_reader(model)
    row = views.model_header(r, model)
    drift = views.drift_tab(r, model, row["promotions"])
    return _model_page(request, model, "drift", r=r, row=row, drift=drift, top=views.top_features)


@router.get("/models/{model}/experiment", response_class=HTMLResponse)
def model_experiment(request: Request, model: str) -> HTMLResponse:
    r = model_reader(model)
    today = dt.datetime.now(dt.UTC).date()
    return _model_page(request, model, "experiment", r=r, **experiment_tab(r, model, today))


@router.get("/models/{model}/serving", response_class=HTMLResponse)
def model_serving(request: Request, model: str) -> HTMLResponse:
    r = model_reader(model)
    return _model_page(
        request,
        model,
        "serving",
        r=r,
        days=r.serving_days(model, SERVING_DAYS, views.decision_thresholds(r.versions(model))),
        target_precision=r.settings.model(model).gate.target_precision,
    )


def _version(r: Reader, model: str, version: str) -> VersionRecord:
    """The registered ``version`` of ``model``, or a 404 that says which name was not found."""
    record = r.version(model, version) if version else None
    if record is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no version {version[:200]!r} of {model} in the registry; pick one on the "
            f"Versions tab of {model}",
        )
    return record


@router.get("/models/{model}/versions/{version}", response_class=HTMLResponse)
def version_page(request: Request, model: str, version: str) -> HTMLResponse:
    r = model_reader(model)
    record = _version(r, model, version)
    pointer = r.pointer(model) or {}
    shadow = r.shadow(model) or {}
    return render(
        request,
        "version.html",
        model=model,
        v=record,
        is_production=pointer.get("version") == record.version,
        production=pointer.get("version"),
        is_shadow=shadow.get("version") == record.version,
        page=views.version_page(r, model, record),
        errors=r.errors,
    )


@router.get("/models/{model}/compare", response_class=HTMLResponse)
def compare_page(request: Request, model: str, a: str = "", b: str = "") -> Response:
    """Two versions side by side (``?a=<version>&b=<version>``; neither: production and the
    newest other version)."""
    r = model_reader(model)
    if not a and not b:  # the Versions tab's default pair: production and the newest other
        pick = views.compare_pick(r.versions(model), (r.pointer(model) or {}).get("version"))
        if all(pick):
            target = f"/models/{model}/compare?a={quote(pick[0])}&b={quote(pick[1])}"
            return RedirectResponse(relative(request, target), status.HTTP_303_SEE_OTHER)
    if not a or not b or a == b:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"compare needs two different versions of {model}: "
            f"?a=<version>&b=<version> (got a={a[:200]!r}, b={b[:200]!r})",
        )
    first, second = _version(r, model, a), _version(r, model, b)
    pointer = r.pointer(model) or {}
    return render(
        request,
        "compare.html",
        model=model,
        a=first,
        b=second,
        production=pointer.get("version"),
        shadow=(r.shadow(model) or {}).get("version"),
        page=compare.comparison(r, model, first, second),
        errors=r.errors,
    )


@router.get("/models/{model}/drift/{day}", response_class=HTMLResponse)
def drift_day(request: Request, model: str, day: str) -> HTMLResponse:
    r = model_reader(model)
    row = r.drift_day(model, _day(day))
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no drift report of {model} for {day}; see the Drift tab"
        )
    return render(
        request,
        "drift_day.html",
        model=model,
        row=row,
        page=views.drift_day_page(r, model, row),
        email=day_email.email_parts(
            r,
            model,
            row.report_date,
            lambda n: relative(
                request, f"models/{quote(model, safe='')}/drift/{row.report_date}/charts/{n}.png"
            ),
        ),
        errors=r.errors,
    )


@router.get("/models/{model}/drift/{day}/report.html")
def drift_report(model: str, day: str) -> Response:
    """The Evidently report, read from S3 by the server: no presigned URL to leak or expire."""
    r = model_reader(model)
    row = r.drift_day(model, _day(day))
    body = r.report_html(row) if row else None
    if body is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no stored report for {model} on {day}" + (f": {r.errors[0]}" if r.errors else ""),
        )
    return Response(body, media_type="text/html")


@router.get("/models/{model}/drift/{day}/charts/{n}.png")
def drift_chart(model: str, day: str, n: int) -> Response:
    """One chart of the day's e-mail, reference against current, drawn from the kept check."""
    r = model_reader(model)
    row = r.drift_day(model, _day(day))
    png = day_email.chart(r, model, row.report_date, n, str(row.updated_at)) if row else None
    if png is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no chart {n} of {model}'s e-mail of {day}")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.get("/links/{dag_id}/{run_id}/{task_id}", include_in_schema=False)
def task_link(request: Request, dag_id: str, run_id: str, task_id: str) -> RedirectResponse:
    """Where a task's "bantay" extra link leads: the version the training run produced, the day
    the drift run checked for the task's model; else the run's tab, which says what is there."""
    r = reader()
    target = f"runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"
    if dag_id.startswith(TRAINING_PREFIX):
        versions = r.versions_of_run(dag_id, run_id)
        if versions:
            target = f"models/{versions[-1].model}/versions/{versions[-1].version}"
    elif dag_id == DRIFT:
        model = task_id.split(".", 1)[0]
        days = [d for d in r.drift_of_run(dag_id, run_id) if d.model == model]
        if days:
            target = f"models/{model}/drift/{days[-1].report_date.isoformat()}"
    return RedirectResponse(relative(request, target), status_code=status.HTTP_303_SEE_OTHER)


@router.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse)
def run_tab(request: Request, dag_id: str, run_id: str) -> HTMLResponse:
    """The tab on DAG run pages: what this run meant for the models."""
    r = reader()
    context: dict = {"dag_id": dag_id, "run_id": run_id, "versions": [], "drift": []}
    if dag_id.startswith(TRAINING_PREFIX):
        context["versions"] = [
            {"record": v, "gate": views.gate_summary(v), "checks": views.gate_rows(v)}
            for v in r.versions_of_run(dag_id, run_id)
        ]
    elif dag_id == DRIFT:
        context["drift"] = r.drift_of_run(dag_id, run_id)
    elif dag_id == SCORING:
        context["pointers"] = {m: r.pointer(m) for m in r.model_names()}
        context["shadows"] = {m: r.shadow(m) for m in r.model_names()}
    return render(request, "run.html", errors=r.errors, top=views.top_features, **context)
