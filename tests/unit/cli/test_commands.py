"""``bantay config check`` and ``bantay features apply`` on the mistakes a new model makes: a
non-zero exit, one ``bantay: error:`` message naming the model, the key and the fix, never a
traceback. Run as a subprocess, as a person would."""

from __future__ import annotations

import shutil
from pathlib import Path

from support import cli as cli_support
from support.cli import error_text, run_bantay

env = cli_support.env  # the fixture: a clean deployment environment

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


def test_config_check_lists_a_new_models_mistakes_against_the_feast_registry(env, tmp_path):
    config = tmp_path / "bantay.yaml"
    config.write_text(NEW_MODEL)
    env["BANTAY_CONFIG"] = str(config)
    assert run_bantay(env, "features", "apply", cwd=ROOT).returncode == 0
    text = error_text(run_bantay(env, "config", "check", cwd=ROOT), 2)
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
    text = error_text(run_bantay(env, "config", "check", "--no-feast", cwd=ROOT), 2)
    assert "models[dropout_risk].label: 'disengagd' is not a column of the label feed" in text
    assert "(did you mean 'disengaged'?)" in text
    assert "feature_service" not in text


def test_config_check_passes_the_shipped_configuration(env):
    env["BANTAY_CONFIG"] = str(ROOT / "bantay.yaml")
    assert run_bantay(env, "features", "apply", cwd=ROOT).returncode == 0
    done = run_bantay(env, "config", "check", cwd=ROOT)
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
    text = error_text(run_bantay(env, "features", "apply", cwd=ROOT), 2)
    assert len(text.strip().splitlines()) == 1, text
    assert f"feast apply of {repo} failed:" in text and "nope" in text, text
    assert "run bantay features apply again" in text


def _shadow_env(env, tmp_path):
    from support.shadow_lake import write_shadow_days

    env["BANTAY_REGISTRY_URL"] = f"sqlite:///{tmp_path / 'registry.db'}"
    assert run_bantay(env, "registry", "upgrade").returncode == 0
    return write_shadow_days


def test_shadow_report_prints_a_table_and_a_one_line_decision(env, tmp_path):
    import datetime as dt
    import json

    write = _shadow_env(env, tmp_path)
    write(Path(env["BANTAY_DATA_DIR"]), [dt.date(2026, 3, 2), dt.date(2026, 3, 9)])
    done = run_bantay(env, "shadow-report", "learner_risk", "--as-of", "2026-03-20")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("learner_risk: challenger better (s1 vs production)")
    assert any(line.startswith("ROC AUC ") for line in lines)
    assert "800 learner-days inside their 14-day label window; next on 2026-03-23" in done.stdout
    done = run_bantay(
        env, "shadow-report", "learner_risk", "--as-of", "2026-03-20", "--json", "--capacity", "50"
    )
    report = json.loads(done.stdout)  # stdout is the JSON alone
    assert report["maturity"]["acting_capacity"] == 50
    # two days, each leaving out both models' top 50 (50 to 100 learners a day)
    assert 100 <= report["maturity"]["excluded_acting"] <= 200
    assert 700 <= report["learners"] <= 750  # the matured day's learners below both cuts


def test_shadow_report_before_any_label_matured_is_one_line_naming_the_day(env, tmp_path):
    import datetime as dt

    write = _shadow_env(env, tmp_path)
    write(Path(env["BANTAY_DATA_DIR"]), [dt.date(2026, 3, 2)])
    text = error_text(run_bantay(env, "shadow-report", "learner_risk", "--as-of", "2026-03-10"), 2)
    assert "no label of a shadow-scored learner of learner_risk has matured by 2026-03-10" in text
    assert "label delay on 2026-03-16" in text


def test_shadow_report_without_a_shadow_is_one_line_naming_the_fix(env, tmp_path):
    _shadow_env(env, tmp_path)
    text = error_text(run_bantay(env, "shadow-report", "learner_risk", "--as-of", "2026-03-10"), 2)
    assert "no shadow has scored learner_risk" in text
    assert "bantay shadow --model learner_risk --to VERSION" in text
