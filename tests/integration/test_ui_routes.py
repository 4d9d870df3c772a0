"""The bantay pages inside Airflow's own API app: every route refuses an anonymous request, every
page renders for a reader, and an action needs the right to trigger its DAG and creates a run."""

from __future__ import annotations

import re

import pytest

from support.services import moto_s3  # noqa: F401
from support.ui import MODELS, seeded_ui, ui  # noqa: F401

pytestmark = pytest.mark.integration


def bantay_routes(client) -> list[tuple[str, str]]:
    """(method, path template) of every route of the mounted bantay app, found by walking it."""
    from fastapi.routing import APIRoute
    from starlette.routing import Mount

    mounts = [r for r in client.app.routes if isinstance(r, Mount) and r.path == "/bantay"]
    assert len(mounts) == 1, "the bantay plugin app is not mounted at /bantay"
    found = []
    for route in mounts[0].app.routes:
        assert isinstance(route, APIRoute), f"{route!r}: only APIRoutes carry the auth dependency"
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, "/bantay" + route.path))
    return found


def concrete(path: str, seeded, model: str = MODELS[0]) -> str:
    values = {
        "model": model,
        "version": seeded[model].archived,
        "day": seeded[model].days[-12].isoformat(),
        "dag_id": "bantay_training",
        "run_id": "manual__2026-11-01T00:00:00+00:00_x",
        "task_id": "evaluate",
        "n": "0",
        "learner": "100001",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_every_route_refuses_an_anonymous_request(ui, seeded_ui):  # noqa: F811
    routes = bantay_routes(ui.client)
    methods = {m for m, _ in routes}
    assert {"GET", "POST"} <= methods and len(routes) >= 12, routes
    for method, template in routes:
        path = concrete(template, seeded_ui)
        anonymous = ui.client.request(method, path, follow_redirects=False)
        assert anonymous.status_code == 401, (method, path, anonymous.status_code)
        forged = ui.client.request(
            method, path, headers={"Authorization": "Bearer not-a-jwt"}, follow_redirects=False
        )
        assert forged.status_code == 403, (method, path, forged.status_code)


def test_every_page_renders_for_a_reader(ui, seeded_ui):  # noqa: F811
    pages = [
        t
        for m, t in bantay_routes(ui.client)
        if m == "GET"
        and not t.endswith(("report.html", ".png"))  # files of a day, not pages
        and "/learners" not in t  # learner data: not for a viewer (below)
    ]
    for template in pages:
        path = concrete(template, seeded_ui)
        page = ui.client.get(path, headers=ui.as_user("viewer"))
        assert page.status_code in (200, 303), (path, page.status_code, page.text[:500])
    models = ui.client.get("/bantay/models", headers=ui.as_user("viewer")).text
    for model in MODELS:
        assert seeded_ui[model].production in models
    assert "Roll back" not in models and "Retrain" not in models  # a viewer gets no buttons


def test_a_viewer_may_not_see_learners(ui, seeded_ui):  # noqa: F811
    for template in [t for _, t in bantay_routes(ui.client) if "/learners" in t]:
        path = concrete(template, seeded_ui)
        refused = ui.client.get(path, headers={**ui.as_user("viewer"), "Accept": "text/html"})
        assert refused.status_code == 403, (path, refused.status_code)
        assert "Not allowed" in refused.text and "ui.learner_roles" in refused.text
    model = ui.client.get(f"/bantay/models/{MODELS[0]}", headers=ui.as_user("viewer")).text
    assert 'id="learner-search"' not in model


def test_the_session_cookie_of_the_airflow_ui_is_enough(ui):  # noqa: F811
    page = ui.client.get("/bantay/models", cookies={"_token": ui.tokens["viewer"]})
    assert page.status_code == 200
    assert 'href="static/bantay.css"' in page.text  # relative, works under any prefix


def test_a_viewer_may_not_trigger(ui, seeded_ui):  # noqa: F811
    model = MODELS[0]
    refused = ui.client.post(
        f"/bantay/models/{model}/rollback",
        data={"version": seeded_ui[model].archived, "reason": "test"},
        headers=ui.as_user("viewer"),
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "may not trigger bantay_rollback" in refused.text


def test_a_reason_is_required(ui, seeded_ui):  # noqa: F811
    refused = ui.client.post(
        f"/bantay/models/{MODELS[0]}/retrain",
        data={"reason": "   "},
        headers=ui.as_user("operator"),
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert "needs a reason" in refused.text


def test_rollback_creates_a_run_as_the_user(ui, seeded_ui):  # noqa: F811
    model = MODELS[1]
    target = seeded_ui[model].archived
    done = ui.client.post(
        f"/bantay/models/{model}/rollback",
        data={"version": target, "reason": "the new one misses north-region learners"},
        headers=ui.as_user("operator"),
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    assert location.startswith(f"../../models/{model}?triggered=bantay_rollback&run=")
    runs = ui.client.get(
        "/api/v2/dags/bantay_rollback/dagRuns", headers=ui.as_user("operator")
    ).json()["dag_runs"]
    mine = [r for r in runs if r["conf"].get("version") == target]
    assert len(mine) == 1, runs
    assert mine[0]["conf"] == {
        "model": model,
        "version": target,
        "reason": "the new one misses north-region learners",
    }
    assert mine[0]["triggering_user_name"] == "operator"
    assert mine[0]["state"] == "queued"


def test_rebaseline_creates_a_run_as_the_user(ui, seeded_ui):  # noqa: F811
    """Inputs moved and quality holds: the drift-day page's Re-baseline starts a
    bantay_rebaseline run for that model and day, with the person's reason."""
    model = MODELS[0]
    drifted = seeded_ui[model].days[-11]  # the seed's drift episode: days 10..13 from the end
    page = ui.client.get(f"/bantay/models/{model}/drift/{drifted}", headers=ui.as_user("operator"))
    assert f"drift/{drifted}/rebaseline" in page.text and "Re-baseline" in page.text
    done = ui.client.post(
        f"/bantay/models/{model}/drift/{drifted}/rebaseline",
        data={"reason": "a new term: study time moved for good"},
        headers=ui.as_user("operator"),
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert "triggered=bantay_rebaseline&run=" in done.headers["location"]
    runs = ui.client.get(
        "/api/v2/dags/bantay_rebaseline/dagRuns", headers=ui.as_user("operator")
    ).json()["dag_runs"]
    (run,) = [r for r in runs if r["conf"].get("date") == drifted.isoformat()]
    assert run["conf"] == {
        "model": model,
        "date": drifted.isoformat(),
        "days": None,
        "reason": "a new term: study time moved for good",
    }
    assert run["triggering_user_name"] == "operator"
    refused = ui.client.post(
        f"/bantay/models/{model}/drift/{drifted}/rebaseline",
        data={"reason": "x"},
        headers=ui.as_user("viewer"),
        follow_redirects=False,
    )
    assert refused.status_code == 403


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://testserver:8080",  # another port of the same host
        "http://testserver.evil.example",  # a look-alike host that starts the same
    ],
)
def test_cross_site_posts_are_refused(ui, seeded_ui, origin):  # noqa: F811
    refused = ui.client.post(
        f"/bantay/models/{MODELS[0]}/retrain",
        data={"reason": "x"},
        headers={**ui.as_user("operator"), "Origin": origin},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    assert "cross-site request refused" in refused.text


def test_retrain_creates_a_training_run_whose_form_values_validate(ui):  # noqa: F811
    model = MODELS[0]
    done = ui.client.post(
        f"/bantay/models/{model}/retrain",
        data={"reason": "label feed fixed; retrain on clean data"},
        headers=ui.as_user("operator"),
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    dag_id = f"bantay_training_{model}"
    assert f"triggered={dag_id}&" in done.headers["location"], done.headers["location"]
    runs = ui.client.get(f"/api/v2/dags/{dag_id}/dagRuns", headers=ui.as_user("operator")).json()[
        "dag_runs"
    ]
    conf = [r["conf"] for r in runs if (r["conf"].get("reason") or "").startswith("label feed")]
    assert conf == [
        {
            "reason": "label feed fixed; retrain on clean data",
            "force": False,
            "force_reason": None,
            "as_of": None,
        }
    ]


def test_task_extra_links_lead_to_the_version_and_the_drift_day(ui, seeded_ui):  # noqa: F811
    """The "bantay" extra link of a training task opens the version that run produced; of a drift
    task, the day that run checked for the task's model; of a run with nothing yet, its tab."""
    from urllib.parse import urljoin

    from bantay.airflow.training_runs import training_dag_id
    from bantay.ui.links import TRAINING_PREFIX, BantayPageLink, link_path

    assert training_dag_id("") == TRAINING_PREFIX
    model = MODELS[0]
    seeded = seeded_ui[model]
    day = seeded.days[-1]
    cases = {
        (training_dag_id(model), seeded.runs[1], "evaluate"): (
            f"/bantay/models/{model}/versions/{seeded.production}"
        ),
        ("bantay_drift", f"manual__{day.isoformat()}T06:00:00+00:00", f"{model}.check"): (
            f"/bantay/models/{model}/drift/{day.isoformat()}"
        ),
        (training_dag_id(model), "manual__never_ran", "evaluate"): (
            f"/bantay/runs/{training_dag_id(model)}/manual__never_ran"
        ),
    }
    for (dag_id, run_id, task_id), expected in cases.items():
        key = type("TiKey", (), {"dag_id": dag_id, "run_id": run_id, "task_id": task_id})
        url = BantayPageLink().get_link(None, ti_key=key)
        assert url == link_path(dag_id, run_id, task_id)
        moved = ui.client.get(url, headers=ui.as_user("viewer"), follow_redirects=False)
        assert moved.status_code == 303, (url, moved.status_code, moved.text[:300])
        assert urljoin(url, moved.headers["location"]) == expected, moved.headers["location"]
    other = type("TiKey", (), {"dag_id": "someone_elses_dag", "run_id": "r", "task_id": "t"})
    assert BantayPageLink().get_link(None, ti_key=other) == ""


def test_pages_may_be_framed_by_airflow_only(ui):  # noqa: F811
    page = ui.client.get("/bantay/models", headers=ui.as_user("viewer"))
    assert page.headers["content-security-policy"] == "frame-ancestors 'self'"
    refused = ui.client.get("/bantay/models")
    assert refused.status_code == 401
    assert refused.headers["content-security-policy"] == "frame-ancestors 'self'"


def test_airflow_links_are_handed_to_the_shell(ui, seeded_ui):  # noqa: F811
    """Links into Airflow carry no target (refused in the shell's sandboxed iframe) and are
    marked for the page's script, which is served like the stylesheet."""
    page = ui.client.get("/bantay/models/" + MODELS[0], headers=ui.as_user("operator")).text
    assert 'target="_top"' not in page
    assert re.search(r'<a class="run" data-airflow [^>]*href="(\.\./)+dags/bantay_training_', page)
    assert 'src="../static/bantay.js"' in page
    script = ui.client.get("/bantay/static/bantay.js", headers=ui.as_user("viewer"))
    assert script.status_code == 200 and "pushState" in script.text


def test_a_run_is_looked_up_by_its_dag_and_its_run_id(ui, seeded_ui):  # noqa: F811
    """Every model's training DAG names its scheduled run of a day alike: the run's tab and the
    extra link of its tasks show that DAG's model's version, never another model's."""
    from urllib.parse import quote, urljoin

    from bantay.airflow.training_runs import training_dag_id
    from bantay.ui.links import link_path

    run_id = seeded_ui[MODELS[0]].runs[-1]
    assert all(seeded_ui[m].runs[-1] == run_id for m in MODELS), "the seed shares the run id"
    for model in MODELS:
        mine = seeded_ui[model].candidate
        others = [seeded_ui[m].candidate for m in MODELS if m != model]
        dag_id = training_dag_id(model)
        tab = ui.client.get(
            f"/bantay/runs/{dag_id}/{quote(run_id, safe='')}", headers=ui.as_user("viewer")
        )
        assert tab.status_code == 200
        assert mine in tab.text and not any(o in tab.text for o in others), (model, tab.text)
        url = link_path(dag_id, run_id, "evaluate")
        moved = ui.client.get(url, headers=ui.as_user("viewer"), follow_redirects=False)
        assert moved.status_code == 303, moved.text[:300]
        assert urljoin(url, moved.headers["location"]) == (
            f"/bantay/models/{model}/versions/{mine}"
        )
    # A drift run's id means nothing to a training DAG, and the other way round.
    day = seeded_ui[MODELS[0]].days[-1]
    drift_run = f"manual__{day.isoformat()}T06:00:00+00:00"
    tab = ui.client.get(
        f"/bantay/runs/{training_dag_id(MODELS[0])}/{quote(drift_run, safe='')}",
        headers=ui.as_user("viewer"),
    )
    assert "has produced no version or drift report" in tab.text
    tab = ui.client.get(
        f"/bantay/runs/bantay_drift/{quote(run_id, safe='')}", headers=ui.as_user("viewer")
    )
    assert not any(seeded_ui[m].candidate in tab.text for m in MODELS)


def test_an_approval_records_who_answered_and_their_note(ui, seeded_ui, monkeypatch):  # noqa: F811
    """A person answers the approval request as Airflow's Required Actions form does (its note
    field included); the decision reaches the registry with their name and note."""
    import sqlalchemy as sa
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    import bantay.training.approval as training_approval
    from bantay.airflow.training_runs import training_dag_id
    from bantay.settings import get_settings
    from support.dag_files import dag_file

    model = MODELS[0]
    dag_id = training_dag_id(model)
    settings = get_settings()
    training_dag = dag_file("bantay_training").training_dag
    task = training_dag(settings, settings.model(model)).get_task("manual_approval")
    started = ui.client.post(
        f"/api/v2/dags/{dag_id}/dagRuns",
        json={"logical_date": None, "conf": {"reason": "approval test"}},
        headers=ui.as_user("operator"),
    )
    assert started.status_code == 200, started.text
    run_id = started.json()["dag_run_id"]
    # What the operator writes when it starts waiting (upsert_hitl_detail), written here
    # directly: no worker runs in this test.
    with create_session() as session:
        ti = session.scalars(
            sa.select(TaskInstance).filter_by(
                dag_id=dag_id, run_id=run_id, task_id=task.task_id, map_index=-1
            )
        ).one()
        ti.state = TaskInstanceState.AWAITING_INPUT
        session.add(
            HITLDetail(
                ti_id=ti.id,
                options=task.options,
                subject="Approve?",
                defaults=task.defaults,
                multiple=task.multiple,
                params=task.serialized_params,
            )
        )
    asked = ui.client.get(
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task.task_id}/-1/hitlDetails",
        headers=ui.as_user("operator"),
    )
    assert asked.status_code == 200, asked.text
    assert "note" in asked.json()["params"], "the Required Actions form has no note field"
    note = "recall on the north slice is back; approving for the term start"
    answered = ui.client.patch(
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task.task_id}/-1/hitlDetails",
        json={"chosen_options": ["Approve"], "params_input": {"note": note}},
        headers=ui.as_user("operator"),
    )
    assert answered.status_code == 200, answered.text
    with create_session() as session:
        event = session.get(HITLDetail, ti.id).as_resume_event_payload()

    recorded = []
    monkeypatch.setattr(
        training_approval, "record_approval", lambda *args, **handed_in: recorded.append(args[1:])
    )
    candidate = seeded_ui[model].candidate
    plan = {"model": model, "run_id": run_id, "as_of": "2026-11-22T00:00:00+00:00", "reason": "x"}
    pulled = {task.plan_task_id: plan, task.evaluate_task_id: {"version": candidate}}
    fake_ti = type("Ti", (), {"xcom_pull": lambda self, task_ids: pulled[task_ids]})()
    task.execute_complete(context={"ti": fake_ti, "task": task}, event=event)
    assert recorded == [(candidate, True, "operator", note)]
