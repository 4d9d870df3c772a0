"""The mistakes a new model makes that no single key shows, each reported naming the model, the
key, what is allowed and a "did you mean" for a typo; the shipped configuration has none."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bantay.features.model_check import (
    DERIVED_SLICES,
    check_model,
    check_models,
    service_features,
)
from bantay.settings import FeatureSettings, ModelSettings, load_settings
from bantay.simulate import catalogue as schema
from bantay.training.evaluation import DERIVED_SLICES as TRAINING_DERIVED

ROOT = Path(__file__).resolve().parents[3]
PROFILE = frozenset(schema.PROFILE_FEATURES)
SERVICES = {
    "learner_risk_v1": frozenset(schema.FEATURES),
    "learner_engagement_v1": frozenset(schema.ACTIVITY_FEATURES) | PROFILE,
}
DAILY = "0 6 * * *"
EXAM_OUTCOMES = {
    "name": "exam_outcomes",
    "role": "labels",
    "columns": {"failed_exam": {"type": "int", "min": 0, "max": 1, "max_null_ratio": 0}},
}


def _problems(drift_schedule: str | None = DAILY, **fields) -> list[str]:
    model = ModelSettings.model_validate({"name": "dropout_risk", **fields})
    return [str(p) for p in check_model(model, SERVICES, drift_schedule)]


def test_a_consistent_model_has_no_problems():
    assert _problems() == []


def test_an_unknown_feature_service_names_the_applied_ones_and_the_closest():
    (problem,) = _problems(feature_service="learner_risk_v2")
    assert problem.startswith("models[dropout_risk].feature_service: 'learner_risk_v2' is not")
    assert "did you mean 'learner_risk_v1'?" in problem
    assert "learner_engagement_v1, learner_risk_v1" in problem
    assert "bantay features apply" in problem


def test_a_label_not_in_its_feed_is_refused_with_a_suggestion():
    (problem,) = _problems(label="disengagd")
    assert problem.startswith("models[dropout_risk].label: 'disengagd' is not a column of")
    assert "term_outcomes" in problem and "(did you mean 'disengaged'?)" in problem
    assert "allowed: at_risk, disengaged" in problem


def test_an_unknown_label_feed_is_refused():
    (problem,) = _problems(label_source="term_outcome")
    assert "models[dropout_risk].label_source: 'term_outcome' is not a declared labels feed" in (
        problem
    )
    assert "did you mean 'term_outcomes'?" in problem


def test_a_label_declared_in_a_projects_own_labels_feed_is_accepted():
    settings = load_settings(
        features={"feeds": [*FeatureSettings().feeds, EXAM_OUTCOMES]},
        models=[{"name": "exam_risk", "label_source": "exam_outcomes", "label": "failed_exam"}],
    )
    assert check_model(settings.models[0], None, DAILY, settings.features) == []
    wrong = settings.models[0].model_copy(update={"label": "failed"})
    (problem,) = [str(p) for p in check_model(wrong, None, DAILY, settings.features)]
    assert "'failed' is not a column of the label feed exam_outcomes" in problem
    assert "did you mean 'failed_exam'?" in problem


def test_a_feature_no_feed_declares_is_refused_with_a_suggestion():
    services = {"exam_v1": frozenset({"attendance_rate", "atendance_streak"})}
    model = ModelSettings(name="dropout_risk", feature_service="exam_v1", slices=[])
    (problem,) = [str(p) for p in check_model(model, services, DAILY)]
    assert problem.startswith("models[dropout_risk].feature_service: exam_v1 serves")
    assert "'atendance_streak', which no features feed declares" in problem
    assert "features.feeds" in problem


def test_a_slice_outside_the_service_is_refused_with_a_suggestion():
    (problem,) = _problems(feature_service="learner_engagement_v1", slices=["regin", "grade_band"])
    assert problem.startswith("models[dropout_risk].slices: 'regin' is not a feature of service")
    assert "did you mean 'region'?" in problem


def test_a_derived_slice_needs_the_feature_it_is_derived_from():
    services = {"no_grade": frozenset(schema.ACTIVITY_FEATURES) | {"region"}}
    model = ModelSettings(name="dropout_risk", feature_service="no_grade", slices=["grade_band"])
    (problem,) = check_model(model, services, DAILY)
    assert (problem.key, "'grade_band'" in problem.message) == ("slices", True)


def test_the_derived_slices_are_the_ones_training_derives():
    assert set(DERIVED_SLICES) == set(TRAINING_DERIVED)


@pytest.mark.parametrize(
    ("drift", "key"),
    [
        ({"numerical_columns": ["study_minutes", "calls_with_parent"]}, "numerical_columns"),
        ({"categorical_columns": ["region", "parent_abroad", "regoin"]}, "categorical_columns"),
        ({"per_column_method": {"calls_with_parent": "psi"}}, "per_column_method"),
    ],
    ids=["numerical", "categorical", "per-column method"],
)
def test_a_drift_column_outside_the_service_is_refused(drift, key):
    problems = _problems(feature_service="learner_engagement_v1", drift=drift)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"models[dropout_risk].drift.{key}: '")
    assert "is not a feature of service learner_engagement_v1" in problems[0]


def test_a_drift_column_typo_gets_a_suggestion():
    (problem,) = _problems(drift={"numerical_columns": ["quiz_scor_avg"]})
    assert "'quiz_scor_avg' is not a feature" in problem
    assert "did you mean 'quiz_score_avg'?" in problem


def test_default_drift_columns_follow_the_service_and_are_not_refused():
    # The defaults list every feature; at run time they narrow to the version's features.
    assert _problems(feature_service="learner_engagement_v1", slices=["region"]) == []


def test_a_training_window_within_the_label_delay_is_refused():
    (problem,) = _problems(training_window_days=14, label_delay_days=21)
    assert problem.startswith("models[dropout_risk].training_window_days: 14 is not longer than")
    assert "label_delay_days (21)" in problem and "set it above 21" in problem


def test_persistence_a_weekly_drift_check_cannot_reach_is_refused():
    (problem,) = _problems(drift_schedule="0 6 * * 1")
    assert problem.startswith("models[dropout_risk].drift.guards.persistence_days: 2 consecutive")
    assert "runs on at most 1 day(s) in a row" in problem
    assert _problems(drift_schedule="0 6 * * 1", drift={"guards": {"persistence_days": 1}}) == []
    assert _problems(drift_schedule=None) == []


def test_persistence_within_a_weekday_schedule_is_reachable():
    assert _problems(drift_schedule="0 6 * * 1-5", drift={"guards": {"persistence_days": 5}}) == []
    (problem,) = _problems(drift_schedule="0 6 * * 1-5", drift={"guards": {"persistence_days": 6}})
    assert "runs on at most 5 day(s) in a row" in problem


def test_without_the_registry_only_the_registry_checks_are_skipped():
    model = ModelSettings(name="dropout_risk", feature_service="nope", label="nope")
    problems = check_model(model, None, DAILY)
    assert [p.key for p in problems] == ["label"]


def test_the_services_and_features_are_read_from_the_feast_registry():
    def projection(*names):
        return SimpleNamespace(features=[SimpleNamespace(name=n) for n in names])

    service = SimpleNamespace(
        name="learner_risk_v1",
        feature_view_projections=[projection("study_minutes"), projection("region")],
    )
    feast = SimpleNamespace(list_feature_services=lambda: [service])
    assert service_features(feast) == {"learner_risk_v1": frozenset({"study_minutes", "region"})}


def test_the_shipped_configuration_is_consistent(monkeypatch):
    monkeypatch.setenv("BANTAY_CONFIG", str(ROOT / "bantay.yaml"))
    assert check_models(load_settings(), SERVICES) == []
