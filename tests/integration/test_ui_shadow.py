"""Shadow this / Stop shadow on the bantay pages inside Airflow's API app: the buttons start
``bantay_shadow`` runs as the signed-in user (refusing what may not serve, with the registry's
reason), the DAG stages and clears the marker through the promotion policy, and the model page
shows the shadow's agreement with production by day from the prediction log."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from support.services import moto_s3  # noqa: F401
from support.ui import LAST_DAY, MODELS, seeded_ui, ui  # noqa: F401
from support.ui_seed import publish_approved

pytestmark = pytest.mark.integration
MODEL = MODELS[0]
SHADOW = "bantay_shadow"


@pytest.fixture(scope="module")
def approved(seeded_ui):  # noqa: F811
    """A version approved after the seed's production, published, not serving."""
    from bantay.serving.promotion import Promotion
    from bantay.ui.queries import reader

    r = reader()
    promotion = Promotion(r.store, r.registry)
    return publish_approved(r.registry, promotion, MODEL, seeded_ui[MODEL].production, LAST_DAY)


def get(ui, path, user="viewer"):  # noqa: F811
    return ui.client.get(path, headers=ui.as_user(user), follow_redirects=False)


def post(ui, path, data, user="operator"):  # noqa: F811
    return ui.client.post(path, data=data, headers=ui.as_user(user), follow_redirects=False)


def marker(model=MODEL):
    from bantay.ui.queries import reader

    return reader().store.pointers.shadow(model)


def shadow_runs(ui):  # noqa: F811
    runs = get(ui, f"/api/v2/dags/{SHADOW}/dagRuns", user="operator").json()["dag_runs"]
    return sorted(runs, key=lambda r: r["dag_run_id"])


def run_shadow_dag(conf: dict, hour: int):
    """What a worker does with a ``bantay_shadow`` run (``dag.test``, in process)."""
    from support.airflow_runs import run_dag, task_states

    logical = dt.datetime.combine(LAST_DAY, dt.time(hour), dt.UTC)
    run = run_dag(SHADOW, logical, conf)
    return str(run.state), task_states(run), f"{run.triggering_user_name} via {run.run_id}"


def test_shadow_this_starts_a_run_as_the_user_and_the_run_stages_it(ui, seeded_ui, approved):  # noqa: F811
    page = get(ui, f"/bantay/models/{MODEL}/versions/{approved}", user="operator").text
    assert 'id="shadow-this"' in page
    done = post(ui, f"/bantay/models/{MODEL}/shadow", {"version": approved, "reason": "try v2"})
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    assert location.startswith(f"../../models/{MODEL}/versions/{approved}?triggered={SHADOW}&run=")
    started = [r for r in shadow_runs(ui) if r["conf"].get("version") == approved]
    assert len(started) == 1
    assert started[0]["conf"] == {
        "model": MODEL,
        "action": "stage",
        "version": approved,
        "reason": "try v2",
    }
    assert started[0]["triggering_user_name"] == "operator"
    assert marker() is None  # the web process wrote nothing: the run does
    state, _, actor = run_shadow_dag(started[0]["conf"], hour=1)
    assert state == "success"
    staged = marker()
    assert staged["version"] == approved and staged["reason"] == "try v2"
    assert staged["staged_by"] == actor  # who triggered the run, and the run
    version_page = get(ui, f"/bantay/models/{MODEL}/versions/{approved}", user="operator").text
    assert 'id="in-shadow"' in version_page and 'id="stop-shadow"' in version_page
    model_page = get(ui, f"/bantay/models/{MODEL}").text
    assert 'id="shadow"' in model_page and 'id="shadow-not-scored"' in model_page


def write_log(day: dt.date, production: str, shadow: str, score, shadow_score) -> None:
    """One day of the prediction log with a shadow beside production, as bantay_scoring writes."""
    import pandas as pd

    from bantay.settings import get_settings

    path = get_settings().predictions_dir / MODEL / f"date={day.isoformat()}" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "learner_id": [f"L{i:04d}" for i in range(len(score))],
            "score": score,
            "model_version": production,
            "shadow_score": shadow_score,
            "shadow_version": shadow,
        }
    ).to_parquet(path, index=False)


def test_the_model_page_shows_agreement_by_day_then_stop_shadow(ui, seeded_ui, approved):  # noqa: F811
    from bantay.serving.promotion import Promotion
    from bantay.ui.queries import reader

    if marker() is None:  # this test alone: stage as the DAG would
        r = reader()
        Promotion(r.store, r.registry).stage_shadow(MODEL, approved, actor="t", reason="t")
    production = seeded_ui[MODEL].production
    cut = 0.682  # the seeded production version's threshold at its precision target
    rng = np.random.default_rng(11)
    expected = {}
    for d in (2, 1):
        day = LAST_DAY - dt.timedelta(days=d)
        score, shadow = rng.random(400), rng.random(400)
        write_log(day, production, approved, score, shadow)
        agree = np.mean((score >= cut) == (shadow >= cut))
        gap = np.mean(np.abs(shadow - score))
        expected[day.isoformat()] = (f"{100 * agree:.1f}%", f"{gap:.3f}")
    model_page = get(ui, f"/bantay/models/{MODEL}", user="operator").text
    table = re.search(r'<table id="shadow-days".*?</table>', model_page, re.S).group(0)
    rows = re.findall(
        r"<tr><td>(\d{4}-\d\d-\d\d)</td>.*?<td>([\d.]+%)</td><td>([\d.]+)</td></tr>", table, re.S
    )
    assert {day: (agree, gap) for day, agree, gap in rows} == expected
    assert 'id="stop-shadow"' in model_page
    stop = post(ui, f"/bantay/models/{MODEL}/shadow/stop", {"reason": "seen enough"})
    assert stop.status_code == 303, stop.text
    assert stop.headers["location"].startswith(f"../../../models/{MODEL}?triggered={SHADOW}")
    conf = shadow_runs(ui)[-1]["conf"]
    assert conf == {"model": MODEL, "action": "stop", "version": None, "reason": "seen enough"}
    state, _, _ = run_shadow_dag(conf, hour=2)
    assert state == "success" and marker() is None
    assert 'id="shadow"' not in get(ui, f"/bantay/models/{MODEL}").text
    # Nothing staged any more: nothing to stop, and no run is started.
    again = post(ui, f"/bantay/models/{MODEL}/shadow/stop", {"reason": "again"})
    assert again.status_code == 422 and "no shadow of learner_risk is staged" in again.text


@pytest.mark.parametrize(
    "which, says",
    [
        (
            "rejected",
            "its registry status is 'rejected' (the gate rejected it: no_regression.pr_auc",
        ),
        ("candidate", "its registry status is 'candidate' (it waits for a person's approval)"),
        ("production", "serves learner_risk already"),
        ("nope", "learner_risk has no version 'nope' in the registry"),
    ],
)
def test_shadow_refuses_what_may_not_serve_with_the_registrys_reason(ui, seeded_ui, which, says):  # noqa: F811
    before = len(shadow_runs(ui))
    version = getattr(seeded_ui[MODEL], which, which)
    refused = post(ui, f"/bantay/models/{MODEL}/shadow", {"version": version, "reason": "why not"})
    assert refused.status_code == 422, refused.text[:300]
    assert says in refused.text.replace("&#39;", "'")
    assert len(shadow_runs(ui)) == before  # no run started


def test_the_dag_refuses_a_rejected_version_too(seeded_ui):  # noqa: F811
    conf = {
        "model": MODEL,
        "action": "stage",
        "version": seeded_ui[MODEL].rejected,
        "reason": "straight from the trigger form",
    }
    state, tasks, _ = run_shadow_dag(conf, hour=3)
    assert state == "failed" and tasks == {"shadow": "failed"}
    assert marker() is None


def test_shadow_needs_a_reason_the_right_and_this_site(ui, seeded_ui, approved):  # noqa: F811
    path = f"/bantay/models/{MODEL}/shadow"
    blank = post(ui, path, {"version": approved, "reason": "  "})
    assert blank.status_code == 422 and "a shadow needs a reason" in blank.text
    assert 'id="shadow-this"' in blank.text  # the form again, to fill in
    viewer = post(ui, path, {"version": approved, "reason": "x"}, user="viewer")
    assert viewer.status_code == 403 and f"may not trigger {SHADOW}" in viewer.text
    assert "Shadow this" not in get(ui, f"/bantay/models/{MODEL}/versions/{approved}").text
    forged = ui.client.post(
        path,
        data={"version": approved, "reason": "x"},
        headers={**ui.as_user("operator"), "Origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
