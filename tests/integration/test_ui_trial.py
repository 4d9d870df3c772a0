"""What a user trial of the bantay pages found, each answered on the seeded registry: the charts
draw what a verdict rests on, a re-check checks one model and says whose it is, a Retrain button
says when the guard holds, the gate counts a skipped check apart, a rollback offers only the
versions that served before, a blank reason comes back as the form, and no demo notice shows
under a real auth setup."""

from __future__ import annotations

import re

import pytest

from support.services import moto_s3  # noqa: F401
from support.ui import MODELS, seeded_ui, ui  # noqa: F401
from support.ui_seed import HELD_LAST

pytestmark = pytest.mark.integration


def test_the_drift_tab_draws_the_score_drift_over_its_threshold(ui, seeded_ui):  # noqa: F811
    model = MODELS[0]
    page = ui.client.get(f"/bantay/models/{model}/drift", headers=ui.as_user("viewer")).text
    chart = page.split('<figure id="drift-ratios">', 1)[1].split("</figure>", 1)[0]
    assert re.search(r'<polyline class="score" points="[\d., ]+"', chart)
    threshold_y = float(re.search(r'y1="([\d.]+)"[^>]*class="threshold"', chart).group(1))
    dots = [float(y) for y in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', chart)]
    assert len(dots) == 4 and all(y < threshold_y for y in dots)  # the 4 DRIFT days: over it
    assert "wasserstein, threshold 0.100" in chart
    drifted = seeded_ui[model].days[-11].isoformat()
    row = page.split(f'data-day="{drifted}"', 1)[1].split("</tr>", 1)[0]
    assert re.search(r'<span class="fail">0\.\d{3}</span> \(0\.100\)', row), row
    assert "score (prediction)" in page  # the heatmap's first line


def test_the_serving_tab_names_the_versions_decision_threshold(ui):  # noqa: F811
    page = ui.client.get(f"/bantay/models/{MODELS[0]}/serving", headers=ui.as_user("viewer"))
    assert page.status_code == 200
    assert "Share ≥ decision threshold" in page.text
    assert "threshold at its precision target 0.50" in page.text


def test_recheck_checks_the_pages_model_only_labelled_as_the_users(ui, seeded_ui):  # noqa: F811
    model = MODELS[1]
    day = seeded_ui[model].days[-3].isoformat()
    done = ui.client.post(
        f"/bantay/models/{model}/drift/{day}/recheck",
        headers=ui.as_user("operator"),
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert "triggered=bantay_drift&run=" in done.headers["location"]
    runs = ui.client.get(
        "/api/v2/dags/bantay_drift/dagRuns", headers=ui.as_user("operator")
    ).json()["dag_runs"]
    (run,) = [r for r in runs if r["conf"].get("date") == day]
    why = f"re-check of {model} for {day} by operator from the bantay pages"
    assert run["conf"] == {"date": day, "model": model, "reason": why}
    assert run["note"] == "R" + why[1:]
    assert run["triggering_user_name"] == "operator"


def test_retrain_says_when_the_guard_holds(ui, seeded_ui):  # noqa: F811
    held, quiet = MODELS[1], MODELS[0]
    day = seeded_ui[held].days[-1]
    page = ui.client.get(f"/bantay/models/{held}/drift/{day}", headers=ui.as_user("operator"))
    notice = page.text.split('id="retrain-hold">', 1)[1].split("</span>", 1)[0]
    assert f"Latest decision ({day})" in notice and "the labels guard holds retrains" in notice
    assert HELD_LAST in notice and "evidence" not in notice
    assert "would learn only pre-drift data" in notice
    models = ui.client.get("/bantay/models", headers=ui.as_user("operator")).text
    assert models.count('id="retrain-hold"') == 1
    other = seeded_ui[quiet].days[-1]
    page = ui.client.get(f"/bantay/models/{quiet}/drift/{other}", headers=ui.as_user("operator"))
    assert "retrain-hold" not in page.text


def test_the_gate_counts_a_skipped_check_apart(ui, seeded_ui):  # noqa: F811
    model = MODELS[0]
    version = seeded_ui[model].production
    page = ui.client.get(
        f"/bantay/models/{model}/versions/{version}", headers=ui.as_user("viewer")
    ).text
    assert "passed 4/4</span>, " in page and "1 skipped" in page
    assert "passed 5/5" not in page


def test_rollback_offers_the_versions_that_served_before(ui, seeded_ui):  # noqa: F811
    model = MODELS[0]
    seeded = seeded_ui[model]
    page = ui.client.get(f"/bantay/models/{model}", headers=ui.as_user("operator")).text
    select = page.split('<select name="version" required>', 1)[1].split("</select>", 1)[0]
    assert re.findall(r'<option value="([^"]+)"', select) == [seeded.archived]
    # The row action sits in the first column, before the version.
    row = page.split(f'data-version="{seeded.archived}"', 1)[1].split("</tr>", 1)[0]
    assert row.index("Roll back to this") < row.index(f">{seeded.archived}</a>")
    for never_served in (seeded.rejected, seeded.candidate, seeded.production):
        refused = ui.client.post(
            f"/bantay/models/{model}/rollback",
            data={"version": never_served, "reason": "try"},
            headers=ui.as_user("operator"),
            follow_redirects=False,
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("text/html")
        assert "only an archived version that served before" in refused.text


@pytest.mark.parametrize("action", ["retrain", "rollback", "drift/{day}/rebaseline"])
def test_a_blank_reason_comes_back_as_the_form(ui, seeded_ui, action):  # noqa: F811
    model = MODELS[0]
    path = action.format(day=seeded_ui[model].days[-11].isoformat())
    refused = ui.client.post(
        f"/bantay/models/{model}/{path}",
        data={"reason": " \t ", "version": seeded_ui[model].archived},
        headers=ui.as_user("operator"),
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html")
    assert 'id="form-error"' in refused.text and "needs a reason" in refused.text
    assert re.search(rf'action="(\.\./)+models/{model}/{path}"', refused.text)  # relative
    assert '{"detail"' not in refused.text


def test_no_demo_notice_under_real_users(ui):  # noqa: F811
    page = ui.client.get("/bantay/models", headers=ui.as_user("operator")).text
    assert "demo mode" not in page
