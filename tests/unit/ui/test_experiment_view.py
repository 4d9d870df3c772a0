"""The model page's Experiment tab: the design, both arms at each maturation date and the
decision from the lake, without the assignment key; no experiment says how to start one."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from bantay.layout import Layout
from bantay.settings import get_settings
from bantay.ui.experiment_view import experiment_tab
from bantay.ui.render import templates
from support.experiment_lake import START, experiment_record, write_experiment_days
from support.shadow_lake import MODEL


def _reader(record, layout):
    settings = SimpleNamespace(model=get_settings().model, layout=layout)
    return SimpleNamespace(
        experiment=lambda model: record, settings=settings, registry=None, errors=[]
    )


def _html(context: dict) -> str:
    page = templates().get_template("tab_experiment.html")
    return page.render(model=MODEL, url=lambda target: target, **context)


def test_the_tab_shows_the_arms_by_maturation_date_and_the_decision(tmp_path):
    layout = Layout(home=tmp_path, data=tmp_path / "data")
    record = experiment_record()
    write_experiment_days(layout, record, weeks=4)
    today = dt.date.fromisoformat(record["schedule"][0])
    context = experiment_tab(_reader(record, layout), MODEL, today)
    assert "key" not in context["experiment"]
    assert context["analysis"]["decision"] == "challenger better"
    html = _html(context)
    assert 'id="experiment-looks"' in html and record["schedule"][0] in html
    assert "challenger better" in html and record["key"] not in html
    assert f"bantay experiment stop {MODEL}" in html


def test_before_any_scored_day_the_tab_says_what_to_wait_for(tmp_path):
    layout = Layout(home=tmp_path, data=tmp_path / "data")
    context = experiment_tab(_reader(experiment_record(), layout), MODEL, START)
    assert context["analysis"] is None and "let bantay_scoring run" in context["waiting"]
    assert "let bantay_scoring run" in _html(context)


def test_no_experiment_says_how_to_start_one(tmp_path):
    layout = Layout(home=tmp_path, data=tmp_path / "data")
    assert experiment_tab(_reader(None, layout), MODEL, START) == {}
    assert f"bantay experiment start {MODEL} VERSION" in _html({})


def test_the_tab_shows_each_guardrail_with_its_state_and_the_stop_form_to_who_may(tmp_path):
    layout = Layout(home=tmp_path, data=tmp_path / "data")
    record = experiment_record()
    record["plan"]["capacity"] = 1
    write_experiment_days(layout, record, weeks=4)
    today = dt.date.fromisoformat(record["schedule"][0])
    context = experiment_tab(_reader(record, layout), MODEL, today)
    html = _html({**context, "can_shadow": True})
    assert 'id="experiment-guardrails"' in html and "flagged volume: breached" in html
    assert "against a capacity of 1" in html
    assert html.count("<tr><td>20") >= 4 + len(context["analysis"]["looks"])
    assert 'id="stop-experiment"' in html
    assert 'id="stop-experiment"' not in _html({**context, "can_shadow": False})
    del record["plan"]["capacity"]
    plain = _html(experiment_tab(_reader(record, layout), MODEL, today))
    assert 'id="experiment-guardrails"' not in plain


def test_the_recall_gap_guardrail_shows_each_arms_groups(tmp_path):
    layout = Layout(home=tmp_path, data=tmp_path / "data")
    record = experiment_record()
    write_experiment_days(layout, record, weeks=4)
    context = experiment_tab(
        _reader(record, layout), MODEL, dt.date.fromisoformat(record["schedule"][0])
    )
    row = {"slice": "region", "positives": 120, "recall": 0.3, "gap": 0.5, "gap_low": 0.4}
    guard = {
        "name": "recall gap by slice",
        "state": "breached",
        "detail": "in the challenger's arm region=south (0.50) fall beyond the allowed gap 0.25",
        "rows": [
            {**row, "arm": "control", "group": "south", "recall": 0.8, "gap": 0.0, "beyond": False},
            {**row, "arm": "challenger", "group": "south", "beyond": True},
        ],
    }
    context["analysis"]["guardrails"] = [guard]
    html = _html(context)
    assert "recall gap by slice: breached" in html and 'id="experiment-recall-gaps"' in html
    assert "<td>challenger</td><td>region</td><td>south</td><td>120</td><td>30%</td>" in html
