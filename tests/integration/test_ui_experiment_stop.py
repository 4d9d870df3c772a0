"""Stop experiment on the model's Experiment tab: the form shows to whoever may trigger
``bantay_shadow`` while an experiment runs; a blank reason comes back as the form; a reason
starts a ``bantay_shadow`` run as the signed-in user, and the run stops the experiment through
the code path of ``bantay experiment stop``, recorded with who, why and the day's analysis."""

from __future__ import annotations

import datetime as dt

import pytest

from support.services import moto_s3  # noqa: F401
from support.ui import LAST_DAY, MODELS, seeded_ui, ui  # noqa: F401
from support.ui_seed import publish_approved

pytestmark = pytest.mark.integration
MODEL = MODELS[0]
SHADOW = "bantay_shadow"
TAB = f"/bantay/models/{MODEL}/experiment"


@pytest.fixture(scope="module")
def running(seeded_ui):  # noqa: F811
    """An experiment of a freshly approved challenger against the seed's production."""
    from bantay.monitoring.experiment_stats import sample_size
    from bantay.serving.experiment import ExperimentPlan, new_record, start_experiment
    from bantay.serving.promotion import Promotion
    from bantay.ui.queries import reader

    r = reader()
    production = seeded_ui[MODEL].production
    challenger = publish_approved(
        r.registry, Promotion(r.store, r.registry), MODEL, production, LAST_DAY
    )
    plan = ExperimentPlan(base_rate=0.2, min_effect=0.05, looks=3)
    record = new_record(
        MODEL,
        challenger,
        production,
        plan,
        start=LAST_DAY,
        label_delay_days=r.settings.model(MODEL).label_delay_days,
        sample=sample_size(0.2, 0.05, alpha=0.05, power=0.8, looks=3).as_dict(),
        actor="starter",
        reason="does the new model help",
    )
    return start_experiment(r.store, r.registry, record)


def get(ui, path, user="viewer"):  # noqa: F811
    return ui.client.get(path, headers=ui.as_user(user), follow_redirects=False)


def post(ui, path, data, user="operator"):  # noqa: F811
    return ui.client.post(path, data=data, headers=ui.as_user(user), follow_redirects=False)


def shadow_runs(ui):  # noqa: F811
    runs = get(ui, f"/api/v2/dags/{SHADOW}/dagRuns", user="operator").json()["dag_runs"]
    return sorted(runs, key=lambda r: r["dag_run_id"])


def stored(model=MODEL):
    from bantay.serving.experiment import latest_experiment
    from bantay.ui.queries import reader

    return latest_experiment(reader().store, model)


def test_blank_reason_and_no_right_start_nothing(ui, running):  # noqa: F811
    assert 'id="stop-experiment"' in get(ui, TAB, user="operator").text
    assert 'id="stop-experiment"' not in get(ui, TAB, user="viewer").text
    before = len(shadow_runs(ui))
    blank = post(ui, f"{TAB}/stop", {"reason": "   "})
    assert blank.status_code == 422
    assert "a stop of the experiment needs a reason" in blank.text
    assert 'id="stop-experiment"' in blank.text  # the form again, to fill in
    viewer = post(ui, f"{TAB}/stop", {"reason": "harm"}, user="viewer")
    assert viewer.status_code == 403 and f"may not trigger {SHADOW}" in viewer.text
    assert len(shadow_runs(ui)) == before
    assert stored()["status"] == "running"


def test_stop_for_harm_starts_a_run_as_the_user_and_the_run_records_the_stop(ui, running):  # noqa: F811
    from support.airflow_runs import run_dag

    done = post(ui, f"{TAB}/stop", {"reason": "more dropouts in the challenger arm"})
    assert done.status_code == 303, done.text[:300]
    assert done.headers["location"].startswith(f"../../../models/{MODEL}/experiment?triggered=")
    started = shadow_runs(ui)[-1]
    assert started["conf"] == {
        "model": MODEL,
        "action": "stop_experiment",
        "version": None,
        "reason": "more dropouts in the challenger arm",
    }
    assert started["triggering_user_name"] == "operator"
    assert stored()["status"] == "running"  # the web process wrote nothing: the run does
    logical = dt.datetime.combine(LAST_DAY, dt.time(5), dt.UTC)
    run = run_dag(SHADOW, logical, started["conf"])
    assert str(run.state) == "success"
    record = stored()
    assert record["id"] == running["id"] and record["status"] == "stopped"
    assert record["stopped_by"] == f"{run.triggering_user_name} via {run.run_id}"
    assert record["stop_reason"] == "more dropouts in the challenger arm"
    assert record["decision_at_stop"]["decision"] == "not yet"  # nothing scored in arms yet
    from bantay.ui.queries import reader

    assert reader().store.pointers.shadow(MODEL) is None  # the challenger's arm ended
    page = get(ui, TAB, user="operator").text
    assert 'id="stop-experiment"' not in page and "more dropouts in the challenger arm" in page
    again = post(ui, f"{TAB}/stop", {"reason": "again"})
    assert again.status_code == 422 and f"{MODEL} runs no experiment" in again.text
