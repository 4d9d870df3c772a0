"""The nightly deadline's judgement: which DAG owes what for a day, from the files and rows the
DAGs leave behind (a temporary data directory; drift checks passed in as the registry would)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from types import SimpleNamespace

import pytest

from bantay.layout import accepted_root, new_attempt_dir, partition_path, quarantine_root
from bantay.notify.deadline import (
    DRIFT_DAG,
    FEATURES_DAG,
    SCORING_DAG,
    check_night,
    deadline_recipients,
    late_stages,
    render_deadline_email,
)
from bantay.settings import ModelSettings, Settings
from bantay.simulate.catalogue import SOURCE_FEATURES

DAY = dt.date(2026, 11, 22)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        models=[
            ModelSettings(name="learner_risk", recipients=["risk@example.org"]),
            ModelSettings(
                name="learner_engagement", label="disengaged", recipients=["eng@example.org"]
            ),
        ],
    )


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def _accept(settings: Settings, day: dt.date, sources=tuple(SOURCE_FEATURES)) -> None:
    for source in sources:
        _touch(partition_path(accepted_root(settings.data_dir), source, day))


def _score(settings: Settings, model: str, day: dt.date) -> None:
    _touch(settings.layout.prediction_path(model, day))


def test_nothing_arrived_blames_features_once_for_every_model(settings):
    late = late_stages(settings.layout, settings.models, DAY, {})
    assert [(x.dag_id, x.model) for x in late] == [(FEATURES_DAG, None)]
    assert all(source in late[0].missing for source in SOURCE_FEATURES)


def test_a_quarantined_source_is_named(settings):
    sources = list(SOURCE_FEATURES)
    _accept(settings, DAY, sources[1:])
    new_attempt_dir(quarantine_root(settings.data_dir), sources[0], DAY)
    (late,) = late_stages(settings.layout, settings.models, DAY, {})
    assert late.dag_id == FEATURES_DAG
    assert f"no accepted partition for {sources[0]} on {DAY}" in late.missing
    assert f"quarantined: {sources[0]}" in late.missing


def test_each_model_owes_its_first_missing_stage(settings):
    _accept(settings, DAY)
    _score(settings, "learner_risk", DAY)
    late = late_stages(
        settings.layout, settings.models, DAY, {"learner_risk": {DAY - dt.timedelta(days=1)}}
    )
    assert [(x.dag_id, x.model) for x in late] == [
        (DRIFT_DAG, "learner_risk"),
        (SCORING_DAG, "learner_engagement"),
    ]


def test_a_done_day_is_on_time(settings):
    _accept(settings, DAY)
    for model in settings.models:
        _score(settings, model.name, DAY)
    checked = {m.name: {DAY} for m in settings.models}
    assert late_stages(settings.layout, settings.models, DAY, checked) == []
    # Another day is judged on its own: yesterday's work does not cover today.
    assert late_stages(settings.layout, settings.models, DAY + dt.timedelta(days=1), checked) != []


def test_recipients_are_data_engineers_and_the_late_models_on_call(settings):
    _accept(settings, DAY)
    _score(settings, "learner_engagement", DAY)
    late = late_stages(settings.layout, settings.models, DAY, {"learner_engagement": {DAY}})
    assert deadline_recipients(settings.notify, settings.models, late) == [
        *settings.notify.failure_recipients,
        "risk@example.org",
    ]
    everyone = deadline_recipients(
        settings.notify,
        settings.models,
        late_stages(settings.layout, settings.models, DAY + dt.timedelta(1), {}),
    )
    assert {"risk@example.org", "eng@example.org"} <= set(everyone)


def test_the_email_names_the_late_dags_first_and_links_their_runs(settings):
    _accept(settings, DAY)
    late = late_stages(settings.layout, settings.models, DAY, {})
    msg = render_deadline_email(settings.notify, settings.models, DAY, late, "2026-11-23 08:00 UTC")
    assert msg["Subject"] == (
        f"[bantay] LATE {DAY}: {SCORING_DAG} not done by 2026-11-23 08:00 UTC"
    )
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    text = parsed.get_body(("plain",)).get_content()
    assert f"{SCORING_DAG} (learner_engagement): no prediction log for {DAY}" in text
    html = parsed.get_body(("html",)).get_content()
    assert f"{settings.notify.airflow_base_url}/dags/{SCORING_DAG}/runs" in html


class _Registry:
    """The registry's answers the deadline check reads: production, promotions, drift rows."""

    def __init__(self, serving: set[str]) -> None:
        self.versions = SimpleNamespace(
            production=lambda model: object() if model in serving else None
        )
        self.promotions = SimpleNamespace(of=lambda model: [object()] if model in serving else [])
        self.drift = SimpleNamespace(reports=lambda model, since=None: [])


def _night(settings: Settings, day: dt.date, registry, sent: list) -> dict:
    return check_night(
        day,
        "08:00 UTC",
        models=settings.models,
        layout=settings.layout,
        notify=settings.notify,
        registry=registry,
        send=sent.append,
    )


def test_a_model_that_never_served_is_told_once_not_nagged_as_late(settings):
    _accept(settings, DAY)
    registry = _Registry(serving=set())
    sent = []
    first = _night(settings, DAY, registry, sent)
    assert first["late"] == [] and first["never_served"] == ["learner_risk", "learner_engagement"]
    (notice,) = sent
    assert (
        notice["Subject"] == "[bantay] learner_risk, learner_engagement: no production version yet"
    )
    assert "LATE" not in notice.get_body(("plain",)).get_content()
    assert "no production version yet" in notice.get_body(("html",)).get_content().lower()
    assert {"risk@example.org", "eng@example.org"} <= set(notice["To"].split(", "))
    for later in (DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)):
        _accept(settings, later)
        again = _night(settings, later, registry, sent)
        assert again["late"] == [] and again["sent"] == []
    assert len(sent) == 1


def test_a_new_model_beside_a_serving_one_is_told_to_its_own_people(settings):
    _accept(settings, DAY)
    sent = []
    found = _night(settings, DAY, _Registry({"learner_risk"}), sent)
    assert [(x["dag_id"], x["model"]) for x in found["late"]] == [(SCORING_DAG, "learner_risk")]
    notice, late = sent
    assert notice["Subject"] == "[bantay] learner_engagement: no production version yet"
    assert "risk@example.org" not in notice["To"] and "eng@example.org" in notice["To"]
    assert late["Subject"].startswith(f"[bantay] LATE {DAY}: {SCORING_DAG}")
    assert "learner_engagement" not in late.get_body(("plain",)).get_content()
