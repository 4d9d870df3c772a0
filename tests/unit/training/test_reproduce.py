"""Reproducing a version, the pure parts: the verdict and its reason per artifact (data changed,
libraries or code differ, non-determinism, not recorded), the settings a rebuild uses, the
report; and the command's clear one-line errors for a model or version that does not exist."""

from __future__ import annotations

from bantay.settings import get_settings
from bantay.training.lineage import code_version, library_versions
from bantay.training.reproduce import (
    NOT_RECORDED,
    ArtifactCheck,
    Reproduction,
    compare,
    data_change,
    recorded_settings,
)
from support import cli as cli_support
from support.cli import error_line, run_bantay

env = cli_support.env  # the fixture: a clean deployment environment

SET = {"sha256": "s" * 64, "rows": 10, "days": {"2026-10-01": "a", "2026-10-02": "b"}}
FILES = {"model.joblib": "m" * 64, "reference.parquet": "r" * 64}


def _lineage(**changes) -> dict:
    return {
        "training_set": SET,
        "artifacts": {**FILES, "evaluation.json": "e" * 64},
        "libraries": library_versions(),
        **code_version(),
        **changes,
    }


def _why(checks: list[ArtifactCheck]) -> dict[str, str]:
    return {c.artifact: c.why for c in checks}


def test_everything_equal():
    checks = compare(_lineage(), SET, FILES)
    assert [c.artifact for c in checks] == ["training set", "model.joblib", "reference.parquet"]
    assert all(c.equal and c.why == "" for c in checks)


def test_changed_data_names_the_days_and_explains_the_model():
    rebuilt = {"sha256": "t" * 64, "rows": 11, "days": {"2026-10-01": "a", "2026-10-02": "c"}}
    why = _why(compare(_lineage(), rebuilt, {**FILES, "model.joblib": "n" * 64}))
    assert why["training set"] == (
        "data changed: the rebuilt training set differs (10 rows recorded, 11 rebuilt) "
        "on 1 day: 2026-10-02"
    )
    assert why["model.joblib"] == why["training set"]
    assert why["reference.parquet"] == ""


def test_same_data_other_libraries():
    libraries = {**library_versions(), "scikit-learn": "0.0.1"}
    checks = compare(_lineage(libraries=libraries), SET, {**FILES, "model.joblib": "n" * 64})
    model = checks[1]
    assert not model.equal
    now = library_versions()["scikit-learn"]
    assert model.why == f"library versions differ: scikit-learn 0.0.1 -> {now}"


def test_same_data_libraries_and_code_is_non_determinism():
    checks = compare(_lineage(), SET, {**FILES, "reference.parquet": "x" * 64})
    assert checks[2].why.startswith("non-determinism")
    assert checks[0].equal and checks[1].equal


def test_another_code_revision_is_named():
    checks = compare(_lineage(git_revision="abc1234"), SET, {**FILES, "model.joblib": "n" * 64})
    assert f"git_revision abc1234 -> {code_version()['git_revision']}" in checks[1].why


def test_a_version_from_before_reproduction_was_recorded():
    lineage = {"artifacts": FILES}
    checks = compare(lineage, SET, {**FILES, "model.joblib": "n" * 64})
    assert checks[0] == ArtifactCheck("training set", None, SET["sha256"], False, NOT_RECORDED)
    assert checks[1].why == "the data may have changed: the version recorded no training-set digest"
    assert checks[2].equal
    assert data_change({}, SET) == checks[1].why


def test_a_rebuild_uses_what_the_version_recorded():
    model = get_settings().models[0]
    lineage = {
        "feature_service": "another_service",
        "training_window_days": model.training_window_days + 7,
        "reference_sample": {"seed": 7, "size": 1234},
    }
    rebuilt = recorded_settings(model, lineage)
    assert rebuilt.feature_service == "another_service"
    assert rebuilt.training_window_days == model.training_window_days + 7
    assert (rebuilt.drift.seed, rebuilt.drift.sample_size) == (7, 1234)
    assert rebuilt.label == model.label
    older = recorded_settings(model, {"feature_service": model.feature_service})
    assert older == model


def test_the_report_table_and_dict():
    report = Reproduction(
        "learner_risk",
        "v1",
        "/runs/learner_risk/reproduce__v1",
        [
            ArtifactCheck("training set", "a" * 64, "a" * 64, True, ""),
            ArtifactCheck("model.joblib", "b" * 64, "c" * 64, False, "data changed"),
        ],
    )
    assert not report.equal and report.to_dict()["equal"] is False
    lines = report.as_table().splitlines()
    assert lines[0] == "learner_risk v1, rebuilt in /runs/learner_risk/reproduce__v1"
    assert lines[1] == f"training set  equal      {'a' * 12} {'a' * 12}"
    assert lines[2] == f"model.joblib  DIFFERENT  {'b' * 12} {'c' * 12}  data changed"


def test_an_unknown_model_is_one_line(env):
    assert "unknown model 'no_such_model'" in error_line(
        run_bantay(env, "reproduce", "no_such_model", "v1"), 2
    )


def test_an_unknown_version_is_one_line(env):
    assert run_bantay(env, "registry", "upgrade").returncode == 0
    line = error_line(run_bantay(env, "reproduce", "learner_risk", "v-missing"), 2)
    assert "no version 'v-missing'" in line
