"""The bantay pages in a real browser (Debian's Chromium through Playwright) against a real
Airflow API server, signed in as a named user through Airflow's own login form."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from urllib.parse import quote, unquote

import pytest

from conftest import airflow_navs, arrives_at, frame, shot
from support.ui import MODELS

pytestmark = pytest.mark.integration


def test_every_route_refuses_an_anonymous_request(airflow_server):
    from fastapi.routing import APIRoute

    from bantay.ui.app import PREFIX, create_app

    routes = [r for r in create_app().routes if isinstance(r, APIRoute)]
    assert len(routes) >= 12
    for route in routes:
        path = re.sub(r"\{\w+\}", "x", route.path)
        for method in route.methods - {"HEAD"}:
            request = urllib.request.Request(airflow_server.base + PREFIX + path, method=method)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            assert refused.value.code == 401, (method, path)


def test_models_nav_entry_lists_every_model_with_its_production_version(page, airflow_server):
    page.goto(airflow_server.base + "/plugin/bantay")
    models = frame(page).locator("#models")
    for model in MODELS:
        row = models.locator(f"tr[data-model='{model}']")
        production = airflow_server.seeded[model].production
        assert row.locator("td.production").inner_text().strip() == production
    # Every action of the page is on screen in the shell's frame, none cut off at its right.
    width = page.frame_locator("iframe").first.locator("html").evaluate("e => e.clientWidth")
    for button in models.locator("button").all():
        box = button.bounding_box()
        frame_box = page.locator("iframe").first.bounding_box()
        assert box["x"] + box["width"] <= frame_box["x"] + width, button.inner_text()
    shot(page, "ui-models")


def test_versions_show_archived_production_and_rejected_rows(page, airflow_server):
    model = MODELS[0]
    seeded = airflow_server.seeded[model]
    page.goto(f"{airflow_server.base}/bantay/models/{model}")
    rows = page.locator("#versions tbody tr")
    statuses = dict(
        zip(
            rows.evaluate_all("rs => rs.map(r => r.dataset.version)"),
            rows.evaluate_all("rs => rs.map(r => r.dataset.status)"),
            strict=True,
        )
    )
    assert statuses == {
        seeded.archived: "archived",
        seeded.production: "production",
        seeded.rejected: "rejected",
        seeded.candidate: "candidate",
    }
    assert (
        "failed: no_regression.pr_auc"
        in page.locator(f"#versions tr[data-version='{seeded.rejected}']").inner_text()
    )
    shot(page, "ui-model-versions")


def test_drift_tab_shows_the_verdicts(page, airflow_server):
    model = MODELS[0]
    page.goto(f"{airflow_server.base}/bantay/models/{model}/drift")
    verdicts = page.locator("#drift tbody tr").evaluate_all("rs => rs.map(r => r.dataset.verdict)")
    assert verdicts.count("DRIFT") == 4 and "OK" in verdicts
    assert page.locator("#drift-strip .day.drift").count() == 4
    assert page.locator("#drift-strip .day.retrain").count() == 1
    shot(page, "ui-model-drift")
    drift_day = airflow_server.seeded[model].days[-13].isoformat()
    page.click(f"#drift tr[data-day='{drift_day}'] a")
    assert page.locator("h1").inner_text().startswith("DRIFT")
    assert "retrain_triggered" in page.locator("p.lead").inner_text()
    shot(page, "ui-drift-day")


def test_the_drift_emails_link_opens_the_day_inside_the_shell(page, airflow_server):
    """The link the drift e-mail carries lands on the drift day page inside Airflow's shell:
    the address bar keeps it, one Airflow navigation bar, the day's verdict in the frame."""
    from bantay.notify.day_parts import drift_day_url

    model = MODELS[0]
    day = airflow_server.seeded[model].days[-13].isoformat()
    link = drift_day_url(airflow_server.base, model, day)
    page.goto(link)
    frame(page).locator("h1").wait_for()
    assert frame(page).locator("h1").inner_text().startswith("DRIFT")
    assert unquote(page.url) == link
    assert airflow_navs(page) == 1
    shot(page, "ui-drift-day-from-email")


def test_two_versions_are_compared_inside_the_shell(page, airflow_server):
    """Versions tab -> choose A and B -> Compare: the comparison opens in the frame, the address
    bar follows it, one Airflow navigation bar."""
    model = MODELS[1]
    seeded = airflow_server.seeded[model]
    base = airflow_server.base
    page.goto(f"{base}/plugin/bantay/bantay/models/{model}")
    app = frame(page)
    app.get_by_label(f"compare {seeded.archived} as A").check()
    app.get_by_label(f"compare {seeded.production} as B").check()
    app.locator("form#compare button").click()
    app.locator("#gate").wait_for()
    sides = app.locator("#sides").inner_text()
    assert seeded.archived in sides and seeded.production in sides
    page.wait_for_url(lambda at: f"/plugin/bantay/bantay/models/{model}/compare" in unquote(at))
    assert airflow_navs(page) == 1
    shot(page, "ui-compare")


def test_version_page_shows_the_gate_failures_first(page, airflow_server):
    model = MODELS[0]
    rejected = airflow_server.seeded[model].rejected
    page.goto(f"{airflow_server.base}/bantay/models/{model}/versions/{rejected}")
    first = page.locator("#gate tbody tr").first
    assert "no_regression.pr_auc" in first.inner_text() and "failed" in first.inner_text()
    shot(page, "ui-version")


def test_training_run_tab_shows_the_gate(page, airflow_server):
    model = MODELS[0]
    production = airflow_server.seeded[model].production
    run_id = airflow_server.seeded[model].runs[1]  # the run that registered ``production``
    dag_id = f"bantay_training_{model}"
    airflow_server.api(
        "POST",
        f"/api/v2/dags/{dag_id}/dagRuns",
        {"dag_run_id": run_id, "logical_date": None, "conf": {"reason": "browser test"}},
    )
    page.goto(f"{airflow_server.base}/dags/{dag_id}/runs/{quote(run_id)}/plugin/bantay-run")
    tab = frame(page)
    tab.locator("#gate").wait_for()
    text = tab.locator("body").inner_text()
    assert production in text and "fairness.recall_gap" in text and "passed 4/4" in text
    shot(page, "ui-run-tab")


def test_roll_back_to_this_creates_a_rollback_run(page, airflow_server):
    model = MODELS[1]
    archived = airflow_server.seeded[model].archived
    page.goto(airflow_server.base + "/plugin/bantay")
    app = frame(page)
    app.locator(f"tr[data-model='{model}'] a").first.click()
    row = app.locator(f"#versions tr[data-version='{archived}']")
    row.locator("input[name=reason]").fill("north-region recall dropped after the promotion")
    row.get_by_role("button", name="Roll back to this").click()
    banner = app.locator("#triggered")
    banner.wait_for()
    assert "bantay_rollback" in banner.inner_text()
    shot(page, "ui-rollback-started")
    runs = airflow_server.api("GET", "/api/v2/dags/bantay_rollback/dagRuns")["dag_runs"]
    mine = [r for r in runs if r["conf"].get("version") == archived]
    assert len(mine) == 1
    assert mine[0]["conf"]["reason"] == "north-region recall dropped after the promotion"
    assert mine[0]["triggering_user_name"] == airflow_server.user


def test_links_into_airflow_move_the_shell_not_the_frame(page, airflow_server):
    """Inside the shell's sandboxed iframe, a Run link and an approve link open the Airflow page
    itself: the address bar shows it, and there is one Airflow on screen, not one inside another."""
    model = MODELS[0]
    seeded = airflow_server.seeded[model]
    dag_id = f"bantay_training_{model}"
    run_id = seeded.runs[-1]  # the run whose version waits for approval
    airflow_server.api(
        "POST",
        f"/api/v2/dags/{dag_id}/dagRuns",
        {"dag_run_id": run_id, "logical_date": None, "conf": {"reason": "browser test"}},
    )
    base = airflow_server.base
    run_page = f"{base}/dags/{dag_id}/runs/{run_id}"

    page.goto(base + "/plugin/bantay")
    frame(page).locator(f"tr[data-model='{model}'] a.run").click()
    arrives_at(page, run_page)
    assert airflow_navs(page) == 1
    page.go_back()  # the shell's history has the bantay page it came from
    arrives_at(page, base + "/plugin/bantay/bantay/models")
    frame(page).locator("#models").wait_for()

    # The bookmarkable address of a bantay page inside the shell.
    page.goto(f"{base}/plugin/bantay/bantay/models/{model}")
    frame(page).locator(f"#versions tr[data-version='{seeded.candidate}'] a.approve").click()
    arrives_at(page, run_page + "/required_actions")
    assert airflow_navs(page) == 1

    page.goto(base + "/plugin/bantay")
    frame(page).locator(f"tr[data-model='{model}'] a", has_text="1 waiting").click()
    arrives_at(page, base + "/required_actions?response_received=false")
    assert airflow_navs(page) == 1


def test_links_into_airflow_work_outside_the_shell(page, airflow_server):
    model = MODELS[0]
    seeded = airflow_server.seeded[model]
    page.goto(f"{airflow_server.base}/bantay/models/{model}")
    page.locator(f"#versions tr[data-version='{seeded.production}'] a.run").click()
    arrives_at(page, f"{airflow_server.base}/dags/bantay_training_{model}/runs/{seeded.runs[1]}")
    assert airflow_navs(page) == 1


def test_the_started_run_banner_opens_the_run_in_the_shell(page, airflow_server):
    model = MODELS[0]
    page.goto(f"{airflow_server.base}/plugin/bantay/bantay/models/{model}")
    app = frame(page)
    app.locator("form[action$='/retrain'] input[name=reason]").fill(
        "browser test: the banner's link"
    )
    app.get_by_role("button", name="Retrain").click()
    banner = app.locator("#triggered a")
    banner.wait_for()
    run_id = banner.inner_text().rsplit(" run ", 1)[1]
    banner.click()
    arrives_at(page, f"{airflow_server.base}/dags/bantay_training_{model}/runs/{run_id}")
    assert airflow_navs(page) == 1


def _runs_of(airflow_server, dag_id: str) -> list[dict]:
    return airflow_server.api("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]


def test_shadow_this_starts_a_shadow_run_from_the_version_page(page, airflow_server):
    """From an approved version's page inside the shell: "Shadow this" with a reason starts a
    bantay_shadow run as the signed-in person, and its banner opens that run in the shell."""
    model = MODELS[1]
    approved = airflow_server.seeded[model].approved
    page.goto(f"{airflow_server.base}/plugin/bantay/bantay/models/{model}/versions/{approved}")
    app = frame(page)
    form = app.locator("form#shadow-this")
    form.locator("input[name=reason]").fill("see how it ranks beside production for a week")
    form.get_by_role("button", name="Shadow this").click()
    banner = app.locator("#triggered a")
    banner.wait_for()
    assert "bantay_shadow" in app.locator("#triggered").inner_text()
    shot(page, "ui-shadow-started")
    mine = [r for r in _runs_of(airflow_server, "bantay_shadow") if r["conf"].get("version")]
    assert [r["conf"] for r in mine] == [
        {
            "model": model,
            "action": "stage",
            "version": approved,
            "reason": "see how it ranks beside production for a week",
        }
    ]
    assert mine[0]["triggering_user_name"] == airflow_server.user
    banner.click()
    arrives_at(page, f"{airflow_server.base}/dags/bantay_shadow/runs/{mine[0]['dag_run_id']}")
    assert airflow_navs(page) == 1


def test_recheck_this_day_checks_this_model_alone_as_the_users_recheck(page, airflow_server):
    """The drift day's "Re-check this day" starts bantay_drift for that day and model only,
    labelled as the signed-in person's re-check; a blank page never results."""
    model = MODELS[0]
    day = airflow_server.seeded[model].days[-13].isoformat()
    page.goto(f"{airflow_server.base}/plugin/bantay/bantay/models/{model}/drift/{day}")
    app = frame(page)
    app.get_by_role("button", name="Re-check this day").click()
    banner = app.locator("#triggered a")
    banner.wait_for()
    # The frame stays on the day it re-checks, and the shell's address bar says so.
    assert app.locator("h1").inner_text().startswith("DRIFT")
    day_page = f"{airflow_server.base}/plugin/bantay/bantay/models/{model}/drift/{day}"
    page.wait_for_url(lambda at: unquote(at).split("?")[0] == day_page, timeout=15_000)
    runs = [r for r in _runs_of(airflow_server, "bantay_drift") if r["conf"].get("date") == day]
    assert len(runs) == 1
    conf = runs[0]["conf"]
    assert conf["model"] == model
    assert conf["reason"] == (
        f"re-check of {model} for {day} by {airflow_server.user} from the bantay pages"
    )
    assert runs[0]["triggering_user_name"] == airflow_server.user
    shot(page, "ui-recheck-started")


def test_the_pages_follow_the_shells_colour_mode(page, airflow_server):
    """Dark Mode chosen in Airflow's own user menu turns the bantay page dark at once (no
    reload), and Light Mode turns it back."""
    page.goto(airflow_server.base + "/plugin/bantay/bantay/models")
    frame(page).locator("#models").wait_for()
    inner = next(f for f in page.frames if f != page.main_frame and "/bantay/models" in f.url)

    def choose(mode: str) -> None:
        page.get_by_role("button", name="User").click()
        page.get_by_role("menuitem", name="Appearance").click()
        page.get_by_text(mode, exact=True).click()

    choose("Dark Mode")
    inner.wait_for_function("document.documentElement.dataset.theme === 'dark'")
    shot(page, "ui-dark-mode")
    choose("Light Mode")
    inner.wait_for_function("document.documentElement.dataset.theme === 'light'")
