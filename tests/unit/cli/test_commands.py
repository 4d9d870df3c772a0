"""``bantay config check`` and ``bantay features apply`` on the mistakes a new model makes: a
non-zero exit, one ``bantay: error:`` message naming the model, the key and the fix, never a
traceback. Run as a subprocess, as a person would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BANTAY = str(Path(sys.executable).with_name("bantay"))
ROOT = Path(__file__).resolve().parents[3]

NEW_MODEL = """\
models:
  - name: learner_risk
  - name: dropout_risk
    feature_service: dropout_risk_v1
    label: dropped_out
    training_window_days: 10
    drift:
      numerical_columns: [study_minutes, quiz_scor_avg]
"""


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BANTAY_", "AIRFLOW_CONN_", "AWS_"))
    }
    return {**clean, "BANTAY_HOME": str(tmp_path), "BANTAY_DATA_DIR": str(tmp_path / "data")}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BANTAY, *args], env=env, capture_output=True, text=True, timeout=180, cwd=ROOT
    )


def _error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("bantay: error:")]
    assert len(errors) == 1, done.stderr
    return done.stderr[done.stderr.index("bantay: error:") :]


def test_config_check_lists_a_new_models_mistakes_against_the_feast_registry(env, tmp_path):
    config = tmp_path / "bantay.yaml"
    config.write_text(NEW_MODEL)
    env["BANTAY_CONFIG"] = str(config)
    assert _run(env, "features", "apply").returncode == 0
    text = _error(_run(env, "config", "check"))
    lines = text.splitlines()
    assert lines[0].startswith("bantay: error: 3 problem(s) in the configuration"), text
    assert lines[1].startswith(
        "  models[dropout_risk].feature_service: 'dropout_risk_v1' is not in the Feast registry"
    )
    assert "models[dropout_risk].label: 'dropped_out' is not a column" in text
    assert "models[dropout_risk].training_window_days: 10 is not longer than" in text


def test_config_check_without_feast_still_checks_labels_and_windows(env, tmp_path):
    config = tmp_path / "bantay.yaml"
    config.write_text(NEW_MODEL.replace("dropped_out", "disengagd"))
    env["BANTAY_CONFIG"] = str(config)
    text = _error(_run(env, "config", "check", "--no-feast"))
    assert "models[dropout_risk].label: 'disengagd' is not a column of the label feed" in text
    assert "(did you mean 'disengaged'?)" in text
    assert "feature_service" not in text


def test_config_check_passes_the_shipped_configuration(env):
    env["BANTAY_CONFIG"] = str(ROOT / "bantay.yaml")
    assert _run(env, "features", "apply").returncode == 0
    done = _run(env, "config", "check")
    assert done.returncode == 0, done.stderr
    assert "bantay.yaml: OK" in done.stdout


def test_features_apply_with_a_bad_feature_reference_is_one_line(env, tmp_path):
    repo = tmp_path / "feature_repo"
    shutil.copytree(ROOT / "feature_repo", repo)
    definitions = repo / "learner_features.py"
    definitions.write_text(
        definitions.read_text()
        + "\nbroken_v1 = FeatureService(name='broken_v1', features=[learning_activity[['nope']]])\n"
    )
    env["BANTAY_FEAST__REPO_PATH"] = str(repo)
    text = _error(_run(env, "features", "apply"))
    assert len(text.strip().splitlines()) == 1, text
    assert f"feast apply of {repo} failed:" in text and "nope" in text, text
    assert "run bantay features apply again" in text
