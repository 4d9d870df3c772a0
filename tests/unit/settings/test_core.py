"""Configuration fails at load, naming every bad key; a named config file must exist; the shipped
bantay.yaml configures two first-class models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bantay.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[3]

BAD = """
models:
  - name: learner_risk
    training_schedule: "0 4 * * sundays"
    approval: sometimes
    search_space:
      - name: hgb
        estimator: hist_gradient_boosting
        params: {max_dept: [3]}
      - name: lr
        estimator: logistic_regression
        params: {C: [-1]}
    recipients: [oncall-at-example]
notify:
  sender: nobody
drift_schedule: "every morning"
"""


def test_every_typo_fails_at_load_with_its_key(tmp_path, monkeypatch):
    path = tmp_path / "bantay.yaml"
    path.write_text(BAD)
    monkeypatch.setenv("BANTAY_CONFIG", str(path))
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = str(err.value)
    for key in (
        "models[learner_risk].training_schedule (line 4): '0 4 * * sundays' is not a cron expression",
        "models[learner_risk].approval (line 5): got 'sometimes'",
        "search_space[0].params.max_dept is not a tunable parameter of hist_gradient_boosting",
        "models[learner_risk].recipients (line 13): not e-mail addresses: 'oncall-at-example'",
        "notify.sender (line 15): not e-mail addresses",
        "drift_schedule (line 16): 'every morning' is not a cron expression",
    ):
        assert key in text, text


def test_a_named_config_file_that_is_missing_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BANTAY_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_config_check_cli_lists_every_error_without_a_traceback(tmp_path):
    path = tmp_path / "bantay.yaml"
    path.write_text(BAD)
    bantay = Path(sys.executable).with_name("bantay")
    done = subprocess.run(
        [str(bantay), "config", "check"],
        env={"BANTAY_CONFIG": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n  ") >= 6, done.stderr


def test_the_shipped_config_has_two_first_class_models(monkeypatch):
    monkeypatch.setenv("BANTAY_CONFIG", str(ROOT / "bantay.yaml"))
    settings = load_settings()
    models = {m.name: m for m in settings.models}
    assert set(models) == {"learner_risk", "learner_engagement"}
    risk, engagement = models["learner_risk"], models["learner_engagement"]
    assert (risk.label, engagement.label) == ("at_risk", "disengaged")
    assert risk.feature_service != engagement.feature_service
    assert risk.gate != engagement.gate
    assert risk.training_schedule != engagement.training_schedule


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "models:\n  - name: learner_risk\n    approval: manual\n    approval: auto\n",
            "line 4: key 'approval' under models[learner_risk] is already set at line 3",
        ),
        ("project: a\nnotify:\n  sender: a@example.org\nproject: b\n", "line 4: key 'project'"),
    ],
    ids=["nested", "top-level"],
)
def test_a_key_written_twice_is_refused_naming_both_lines(tmp_path, monkeypatch, text, expected):
    path = tmp_path / "bantay.yaml"
    path.write_text(text)
    monkeypatch.setenv("BANTAY_CONFIG", str(path))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(path) in str(err.value) and expected in str(err.value), err.value
    assert "Keep one of them" in str(err.value)


def test_a_top_level_list_is_refused_saying_where_it_belongs(tmp_path, monkeypatch):
    path = tmp_path / "bantay.yaml"
    path.write_text("- name: learner_risk\n- name: dropout_risk\n")
    monkeypatch.setenv("BANTAY_CONFIG", str(path))
    with pytest.raises(ConfigError, match=r"line 1: the file is a list.*under 'models:'"):
        load_settings()
