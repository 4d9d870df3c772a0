"""Validation errors are named as bantay.yaml is written: models by name, list items by position,
the file line, and a "did you mean" for a misspelt key; a drift column a version lacks is logged."""

from __future__ import annotations

import logging

import pytest

from bantay.settings import ConfigError, DriftConfig, load_settings

TWO_MODELS = """\
models:
  - name: learner_risk
  - name: learner_engagement
    approval: sometimes
    drift:
      windw_days: 3
      guards: {persistence_days: 0}
storage:
  bucktt: x
"""


@pytest.fixture
def errors(tmp_path, monkeypatch):
    def load(text: str) -> str:
        path = tmp_path / "bantay.yaml"
        path.write_text(text)
        monkeypatch.setenv("BANTAY_CONFIG", str(path))
        with pytest.raises(ConfigError) as err:
            load_settings()
        return str(err.value)

    return load


def test_a_model_is_named_by_its_name_with_the_line(errors):
    text = errors(TWO_MODELS)
    assert "models[learner_engagement].approval (line 4): got 'sometimes'" in text, text
    assert "models.1" not in text


def test_a_misspelt_key_gets_a_suggestion(errors):
    text = errors(TWO_MODELS)
    assert (
        "models[learner_engagement].drift.windw_days (line 6): unknown key "
        "(did you mean 'window_days'?)" in text
    ), text
    assert "storage.bucktt (line 9): unknown key (did you mean 'bucket'?)" in text, text


def test_an_unknown_key_without_a_close_match_lists_the_allowed_ones(errors):
    text = errors("storage:\n  colour: blue\n")
    assert "storage.colour (line 2): unknown key; allowed here: aws_conn_id, bucket," in text


def test_a_nested_range_error_names_the_model_and_the_key(errors):
    text = errors("models:\n  - name: learner_risk\n    drift: {guards: {persistence_days: 0}}\n")
    assert "models[learner_risk].drift.guards.persistence_days (line 3):" in text, text
    assert "greater than or equal to 1" in text


def test_list_items_are_named_by_name_else_by_position(errors):
    text = errors(
        "models:\n  - name: learner_risk\n    search_space: [{name: a, estimator: svm}]\n"
    )
    assert "models[learner_risk].search_space[a].estimator (line 3): got 'svm'" in text, text
    text = errors("models:\n  - name: learner_risk\n    split: [0.7, 0.2, lots]\n")
    assert "models[learner_risk].split[2] (line 3):" in text, text


def test_an_environment_error_has_no_line(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BANTAY_CONFIG", raising=False)
    monkeypatch.setenv("BANTAY_STORAGE__PRESIGN_EXPIRY_HOURS", "999")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "  storage.presign_expiry_hours: Input should be less than or equal to 168" in str(
        err.value
    )


def test_a_drift_column_the_version_lacks_is_logged_by_name(caplog):
    config = DriftConfig(numerical_columns=["study_minutes", "quiz_scor_avg"])
    with caplog.at_level(logging.WARNING, logger="bantay.settings.drift"):
        narrowed = config.for_features({"numerical": ["study_minutes", "quiz_score_avg"]})
    assert narrowed.numerical_columns == ["study_minutes"]
    assert "drift.numerical_columns names 'quiz_scor_avg'" in caplog.text
    assert "not watched" in caplog.text
