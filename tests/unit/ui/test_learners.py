"""The learner page's routes over a real prediction log (three scored days in a temporary lake):
who may open it, who sees ids and who pseudonyms, and what a counsellor reads there. Airflow's
auth manager is a stand-in (the user's role comes from a test header); the registry too."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

import bantay.ui.auth as auth
import bantay.ui.render as render
from bantay.features.tombstones import pseudonym
from bantay.settings import Settings
from bantay.ui import learners, pages
from bantay.ui.auth import require_read

MODEL = "learner_risk"
KEY = "k" * 32
LEARNER = 100_007
DAYS = [dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2026, 11, 22)]


def _day(i: int, n: int = 200) -> pd.DataFrame:
    ids = np.arange(100_000, 100_000 + n)
    attendance = np.full(n, 0.9)
    attendance[ids == LEARNER] = 0.55 - 0.05 * i  # our learner attends less and less
    frame = pd.DataFrame(
        {
            "learner_id": ids,
            "score": np.where(ids == LEARNER, 0.6 + 0.1 * i, 0.1),
            "model_version": "v1",
            "attendance_rate": attendance,
            "study_minutes": np.full(n, 120.0),
            "region": "ncr",
            "attr_attendance_rate": np.where(ids == LEARNER, 1.2, -0.1).astype(np.float32),
            "attr_study_minutes": np.full(n, -0.05, dtype=np.float32),
            "attr_region": np.full(n, 0.4, dtype=np.float32),
            "reason_1": np.where(
                ids == LEARNER,
                f"Attendance: attendance {round(attendance[7] * 100)}% (most learners: 90%)",
                None,
            ),
        }
    )
    return frame


@pytest.fixture
def client(tmp_path, monkeypatch):
    settings = Settings(home=tmp_path, data_dir=tmp_path / "data")
    for i, day in enumerate(DAYS):
        folder = settings.predictions_dir / MODEL / f"date={day.isoformat()}"
        folder.mkdir(parents=True)
        _day(i).to_parquet(folder / "part-0.parquet")
    version = SimpleNamespace(version="v1", metrics={"test": {"threshold_at_precision": 0.5}})
    stand_in = SimpleNamespace(
        settings=settings,
        known_model=lambda m: m == MODEL,
        model_names=lambda: [MODEL],
        versions=lambda m: [version],
        errors=[],
    )
    monkeypatch.setattr(pages, "reader", lambda: stand_in)  # the pages' reader: a stand-in
    monkeypatch.setattr(auth, "get_settings", lambda: settings)
    demo = {"on": False}
    monkeypatch.setattr(auth, "demo_mode", lambda user: demo["on"])
    monkeypatch.setattr(render, "demo_mode", lambda user: demo["on"])
    monkeypatch.setattr(render, "may_trigger", lambda user, dag: False)
    monkeypatch.setenv("BANTAY_ERASURE_KEY", KEY)

    def user(request: Request):
        role = request.headers.get("x-role", "viewer")
        who = SimpleNamespace(role=role, get_name=lambda: f"a-{role}")
        request.state.bantay_user = who
        return who

    app = FastAPI()
    app.include_router(learners.router)
    app.dependency_overrides[require_read] = user
    test = TestClient(app, follow_redirects=False)
    test.demo = demo
    return test


def _get(client, path: str, role: str):
    return client.get(f"/models/{MODEL}/learners/{path}", headers={"x-role": role})


def test_an_admin_reads_the_learners_scores_reasons_and_standing(client):
    page = _get(client, str(LEARNER), "Admin")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'<code id="learner-name">{LEARNER}</code>' in html
    assert "flagged at risk" in html and "0.800" in html  # the newest day's score
    assert "Attendance: attendance 45% (most learners: 90%)" in html
    standing = html.split('id="learner-standing"')[1].split("</table>")[0]
    assert "45%" in standing and "90%" in standing and "raises risk" in standing
    assert "region" not in standing  # a protected attribute is never shown as a reason
    days = html.split('id="learner-days"')[1]
    assert [d.isoformat() in days for d in DAYS] == [True] * 3
    assert days.index(DAYS[2].isoformat()) < days.index(DAYS[0].isoformat())


def test_an_operator_sees_a_pseudonym_and_never_the_id(client):
    alias = pseudonym(LEARNER, KEY.encode())
    asked = _get(client, str(LEARNER), "op")
    assert asked.status_code == 303 and asked.headers["location"].endswith(alias)
    page = _get(client, alias, "op")
    assert page.status_code == 200, page.text
    assert alias in page.text and str(LEARNER) not in page.text
    assert "by pseudonym" in page.text
    assert pseudonym(LEARNER, b"another key of 16+ bytes") != alias


@pytest.mark.parametrize("role", ["viewer", "user", ""])
def test_other_roles_are_refused_naming_the_roles_that_may(client, role):
    page = _get(client, str(LEARNER), role)
    assert page.status_code == 403
    assert "may not see learner data" in page.json()["detail"]
    assert "Admin, Op" in page.json()["detail"] and "ui.learner_roles" in page.json()["detail"]


def test_in_demo_mode_anyone_reads_it_and_is_told_so(client):
    client.demo["on"] = True
    page = _get(client, str(LEARNER), "viewer")
    assert page.status_code == 200 and 'id="learner-demo"' in page.text


def test_unknown_learners_ids_and_pseudonyms_are_404_with_the_fix(client):
    missing = _get(client, "999", "Admin")
    assert missing.status_code == 404 and "no score of learner_risk" in missing.json()["detail"]
    assert "not a non-negative whole number" in _get(client, "abc", "Admin").json()["detail"]
    unknown = _get(client, "0123456789abcdef", "op")
    assert unknown.status_code == 404 and "no learner with pseudonym" in unknown.json()["detail"]


def test_without_an_erasure_key_pseudonyms_cannot_be_shown(client, monkeypatch):
    monkeypatch.delenv("BANTAY_ERASURE_KEY")
    monkeypatch.setattr(
        learners, "erasure_key", lambda: (_ for _ in ()).throw(ValueError("no key"))
    )
    page = _get(client, str(LEARNER), "op")
    assert page.status_code == 503 and "erasure key" in page.json()["detail"]
    assert _get(client, str(LEARNER), "admin").status_code == 200  # ids need no key


def test_the_search_box_leads_to_the_learner(client):
    found = client.get(
        f"/models/{MODEL}/learners", params={"q": f" {LEARNER} "}, headers={"x-role": "admin"}
    )
    assert found.status_code == 303
    assert found.headers["location"].endswith(f"learners/{LEARNER}")
    assert client.get(f"/models/{MODEL}/learners", headers={"x-role": "admin"}).status_code == 404
