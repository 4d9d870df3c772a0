"""The daily drift task end to end on local files, a SQLite registry and an in-memory model store:
a concept shift on labels of a day an older version served is PERFORMANCE for the production
version, and the same matured labels judged again the next day are not a second day of
persistence."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bantay.layout import accepted_root, partition_path
from bantay.monitoring.check import check_day, served_thresholds
from bantay.monitoring.day_check import DayCheck
from bantay.notify.drift_day import compose_day_email, day_subject, outbox_path
from bantay.stores.registry import Registry
from bantay.training.evaluation import FALLBACK_THRESHOLD
from bantay.training.pipeline import fit_final, predict_scores
from support.monitoring_frames import CATEGORICAL, NUMERICAL, learner_frame, one_model_project

MODEL = "learner_risk"
FEATURES = {"numerical": NUMERICAL, "categorical": CATEGORICAL}
LOGREG = {"trial_id": "logreg", "name": "logreg", "estimator": "logistic_regression", "params": {}}
OBSERVED_ON = dt.date(2026, 11, 2)  # the labels' day, served by the previous version
TODAY = OBSERVED_ON + dt.timedelta(days=14)  # the day they matured
N = 1_500


def _end_of(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(23, 59), dt.UTC))


def _write(path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


@pytest.fixture
def project(tmp_path, monkeypatch):
    settings = one_model_project(tmp_path, monkeypatch)

    fitted = fit_final(LOGREG, learner_frame(4_000, seed=1), FEATURES, label_col="at_risk")
    until = _end_of(OBSERVED_ON - dt.timedelta(days=14)).isoformat()
    manifest = {
        "version": "v2",
        "features": FEATURES,
        "lineage": {"fitted": {"rows": 4_000, "until": until}},
    }
    reference = learner_frame(20_000, seed=2)
    reference["score"] = predict_scores(fitted, reference, FEATURES)
    store = SimpleNamespace(
        pointers=SimpleNamespace(current=lambda model: {"version": "v2"}),
        load_production=lambda model: (fitted, manifest),
        versions=SimpleNamespace(reference=lambda model, version: reference),
        reports=SimpleNamespace(
            put=lambda model, day, name, body, content_type: f"s3://b/{day}/{name}"
        ),
        objects=SimpleNamespace(presigned_url=lambda uri, expires: f"https://example.org/{uri}"),
    )
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.upgrade()

    # The labelled day as the previous version served it; its labels no longer fit the features.
    served = learner_frame(N, seed=3)
    served["learner_id"] = np.arange(N)
    served["event_timestamp"] = _end_of(OBSERVED_ON)
    served["score"] = predict_scores(fitted, served, FEATURES)
    served["model_version"] = "v1"
    _write(settings.layout.prediction_path(MODEL, OBSERVED_ON), served.drop(columns="at_risk"))
    labels = served[["learner_id", "event_timestamp"]].assign(
        at_risk=np.random.default_rng(4).binomial(1, 0.2, N)
    )
    _write(partition_path(accepted_root(settings.data_dir), "term_outcomes", TODAY), labels)
    # Two weeks of the production version's own log, without drift.
    for i in range(14):
        day = TODAY + dt.timedelta(days=1) - dt.timedelta(days=i)
        frame = learner_frame(N, seed=100 + i)
        frame["event_timestamp"] = _end_of(day)
        frame["score"] = predict_scores(fitted, frame, FEATURES)
        frame["model_version"] = "v2"
        frame["observed"] = True
        _write(settings.layout.prediction_path(MODEL, day), frame.drop(columns="at_risk"))
    yield settings, registry, store
    registry.dispose()


def _check(project, day: dt.date) -> dict:
    settings, registry, store = project
    checked = check_day(
        settings.model(MODEL),
        settings.layout,
        registry,
        store,
        day,
        banner=lambda result, decision: f"<p>{result.verdict}: {decision.action}</p>",
        run_id=f"r-{day}",
        retrain_running=False,
        link_expiry_seconds=3600,
    )
    return checked.as_data()


def test_labels_of_a_day_another_version_served_judge_the_production_version(project) -> None:
    registry = project[1]

    first = _check(project, TODAY)
    second = _check(project, TODAY + dt.timedelta(days=1))

    assert (first["verdict"], second["verdict"]) == ("PERFORMANCE", "PERFORMANCE")
    assert first["evidence_day"] == second["evidence_day"] == str(OBSERVED_ON)
    # The same labels on two days are one day of persistence, not the two it asks for.
    assert [first["decision"], second["decision"]] == ["guard_held:persistence"] * 2
    assert "1 of 2" in second["decision_reason"]
    rows = {r.report_date: r for r in registry.drift.reports(MODEL)}
    assert rows[TODAY].decision_detail.endswith(f"evidence: labels observed on {OBSERVED_ON}")


def test_the_email_is_composed_from_what_the_check_handed_on(project) -> None:
    """The check's plain data survives JSON (XCom) and gives the e-mail the live check gives:
    the e-mail task composes it without judging again."""
    settings, registry, store = project
    model = settings.model(MODEL)
    checked = check_day(
        model,
        settings.layout,
        registry,
        store,
        TODAY,
        banner=lambda result, decision: "",
        run_id="r",
        retrain_running=False,
        link_expiry_seconds=3600,
    )
    handed_on = DayCheck.from_data(json.loads(json.dumps(checked.as_data(), allow_nan=False)))

    live = compose_day_email(checked, model, settings.notify, run_url="u")
    composed = compose_day_email(handed_on, model, settings.notify, run_url="u")

    assert composed["Subject"] == live["Subject"] == day_subject(checked, model)
    assert composed["To"] == ", ".join(model.recipients)
    for part in ("plain", "html"):
        assert composed.get_body((part,)).get_content() == live.get_body((part,)).get_content()
    charts = [p.get_filename() for p in composed.walk() if p.get_content_type() == "image/png"]
    assert charts == [p.get_filename() for p in live.walk() if p.get_content_type() == "image/png"]
    assert len(charts) == 3
    # The e-mail leads to the day's page in Airflow's shell; the presigned report is the fallback.
    page = f"{settings.notify.airflow_base_url.rstrip('/')}/plugin/bantay/bantay/models/{MODEL}/drift/{TODAY}"
    html, plain = live.get_body(("html",)).get_content(), live.get_body(("plain",)).get_content()
    assert f'id="page-link" href="{page}"' in html and f"This day in bantay: {page}" in plain
    assert html.index('id="page-link"') < html.index('id="report-link"')
    assert outbox_path(settings.layout, MODEL, TODAY).name == f"{TODAY}.eml"


def test_a_retrain_the_caller_cannot_start_is_neither_reported_nor_recorded(
    project, monkeypatch
) -> None:
    """Run by hand (``starts_retrain=False``), a day that calls for a retrain leaves no record
    saying one started, so the drift DAG's own run of the day still starts it. The decision is
    faked (the guards are tested on their own); what is under test is what gets written."""
    from bantay.monitoring import check
    from bantay.monitoring.guards import Decision
    from bantay.vocabulary import Action

    settings, registry, store = project
    due = Decision(Action.RETRAIN_TRIGGERED, "DRIFT on 2 consecutive days (needed 2)")
    monkeypatch.setattr(check, "decide_day", lambda *args, **kwargs: due)
    written: list[str] = []
    put = store.reports.put
    store.reports.put = lambda model, day, name, *rest: (
        written.append(name) or put(model, day, name, *rest)
    )

    def run(**kwargs) -> DayCheck:
        return check_day(
            settings.model(MODEL),
            settings.layout,
            registry,
            store,
            TODAY,
            banner=lambda result, decision: "",
            run_id=None,
            retrain_running=False,
            link_expiry_seconds=3600,
            **kwargs,
        )

    by_hand = run(starts_retrain=False)
    assert by_hand.decision.triggers_retrain and by_hand.report_html is None
    assert written == [] and registry.drift.reports(MODEL) == []

    by_the_dag = run()
    assert written == ["report.html", "report.json", "check.json"]
    [row] = registry.drift.reports(MODEL)
    assert (row.decision, row.report_html_uri) == ("retrain_triggered", by_the_dag.report_html)


def test_served_thresholds_are_each_served_versions_own() -> None:
    metrics = {"v4": {"test": {"threshold_at_precision": 0.8}}}
    reg = SimpleNamespace(
        versions=SimpleNamespace(
            get=lambda model, v: SimpleNamespace(metrics=metrics[v]) if v in metrics else None
        )
    )
    current = pd.DataFrame({"served_version": ["v3", "v4", None, "v4"]})
    assert served_thresholds(reg, "learner_risk", current) == {
        "v3": FALLBACK_THRESHOLD,
        "v4": 0.8,
    }
    assert served_thresholds(reg, "learner_risk", current.drop(columns="served_version")) == {}


def test_a_day_scored_in_arms_names_the_experiment_in_the_check_and_its_email(project) -> None:
    """The day's log carries the arms: the check hands on the experiment (through JSON) and
    the e-mail says it in one line."""
    settings, registry, store = project
    model = settings.model(MODEL)
    path = settings.layout.prediction_path(MODEL, TODAY)
    frame = pd.read_parquet(path)
    challenger = np.arange(len(frame)) % 4 == 0
    frame["experiment_id"] = "e1"
    frame["arm"] = np.where(challenger, "challenger", "control")
    frame["served_score"] = frame["score"]
    frame["served_version"] = np.where(challenger, "v3", "v2")
    _write(path, frame)
    records = {"e1": {"id": "e1", "plan": {"share": 0.25}}}
    store.pointers.experiment_record = lambda m, eid: records.get(eid)
    checked = check_day(
        model,
        settings.layout,
        registry,
        store,
        TODAY,
        banner=lambda result, decision: "",
        run_id="r",
        retrain_running=False,
        link_expiry_seconds=3600,
    )
    handed_on = DayCheck.from_data(json.loads(json.dumps(checked.as_data(), allow_nan=False)))
    assert handed_on.experiment == {
        "id": "e1",
        "share": 0.25,
        "served": {"control": "v2", "challenger": "v3"},
    }
    plain = compose_day_email(handed_on, model, settings.notify, run_url="u")
    assert (
        "Scored in experiment e1: the challenger v3 was served to 25% of learners, production "
        "v2 to the rest." in plain.get_body(("plain",)).get_content()
    )
