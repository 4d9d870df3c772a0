"""The bantay pages inside Airflow's own API app: every route refuses an anonymous request, every
page renders for a reader, and an action needs the right to trigger its DAG and creates a run."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fixtures_services import moto_s3  # noqa: F401
from ui_support import MODELS, SIMPLE_AUTH_MANAGER, USERS, seeded_ui  # noqa: F401

pytestmark = pytest.mark.integration


@dataclass
class Ui:
    client: object
    tokens: dict[str, str]

    def as_user(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture(scope="module")
def ui(seeded_ui, tmp_path_factory) -> Iterator[Ui]:  # noqa: F811
    from airflow_support import migrated, reserialize

    migrated()
    passwords = {name: secrets.token_urlsafe(12) for name in USERS}
    path = tmp_path_factory.mktemp("simple_auth") / "passwords.json"
    path.write_text(json.dumps(passwords))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__CORE__AUTH_MANAGER", SIMPLE_AUTH_MANAGER)
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        mp.setenv(
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
            ",".join(f"{n}:{r}" for n, r in USERS.items()),
        )
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(path))
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_hex(32))
        reserialize()  # the actions trigger real DAGs: they must be in the metadata DB
        from airflow.api_fastapi.app import create_app, purge_cached_app
        from fastapi.testclient import TestClient

        purge_cached_app()
        try:
            with TestClient(create_app(apps="core")) as client:
                tokens = {}
                for name, password in passwords.items():
                    login = client.post(
                        "/auth/token", json={"username": name, "password": password}
                    )
                    assert login.status_code == 201, login.text
                    tokens[name] = login.json()["access_token"]
                yield Ui(client, tokens)
        finally:
            purge_cached_app()


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
    pages = [t for m, t in bantay_routes(ui.client) if m == "GET" and "report.html" not in t]
    for template in pages:
        path = concrete(template, seeded_ui)
        page = ui.client.get(path, headers=ui.as_user("viewer"))
        assert page.status_code in (200, 303), (path, page.status_code, page.text[:500])
    models = ui.client.get("/bantay/models", headers=ui.as_user("viewer")).text
    for model in MODELS:
        assert seeded_ui[model].production in models
    assert "Roll back" not in models and "Retrain" not in models  # a viewer gets no buttons


def test_the_session_cookie_of_the_airflow_ui_is_enough(ui):
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


def test_cross_site_posts_are_refused(ui, seeded_ui):  # noqa: F811
    refused = ui.client.post(
        f"/bantay/models/{MODELS[0]}/retrain",
        data={"reason": "x"},
        headers={**ui.as_user("operator"), "Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert refused.status_code == 403


def test_retrain_creates_a_training_run_whose_form_values_validate(ui):
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

    from bantay.airflow.training_dag import training_dag_id
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
