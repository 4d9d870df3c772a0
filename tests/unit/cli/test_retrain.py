"""``bantay erase --retrain``: which production versions are retrained (trained on the learner,
now or in an earlier erasure of the same subject, or without a manifest at all), and the
training DAG triggered through ``airflow dags trigger``, or the exact command shown."""

from __future__ import annotations

import json
import stat

import pytest

from bantay.cli.retrain import affected_production, retrain, trigger_command
from bantay.features.tombstones import keyed_hash
from bantay.stores.registry import Registry

KEY = b"k" * 32
SUBJECT = keyed_hash(42, KEY)


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.upgrade()
    for model in ("saw", "clean", "unknown", "audited"):
        reg.versions.upsert(model, "v1", status="approved")
        reg.versions.set_status(model, "v1", "production")
    reg.training_sets.record("saw", "v1", [SUBJECT, keyed_hash(1, KEY)])
    reg.training_sets.record("clean", "v1", [keyed_hash(1, KEY)])
    touched = {"training_sets": {"rows": 1, "paths": ["registry:training_learners audited v1"]}}
    reg.erasures.record(SUBJECT, actor="ops", reason="family", touched=touched, rows=1)
    reg.training_sets.record("audited", "v1", [keyed_hash(1, KEY)])
    yield reg
    reg.dispose()


def test_affected_are_trained_on_it_earlier_erased_or_without_manifest(registry):
    trained = registry.training_sets.versions_with(SUBJECT)
    found = affected_production(registry, ["saw", "clean", "unknown", "audited"], SUBJECT, trained)
    assert [(f["model"], f["why"]) for f in found] == [
        ("saw", "trained on it"),
        ("unknown", "no training-set manifest (trained without an erasure key)"),
        ("audited", "trained on it"),
    ]


def test_the_command_triggers_the_models_training_dag_with_a_reason():
    command = trigger_command("learner_risk", "v1", SUBJECT)
    assert command[:4] == ["airflow", "dags", "trigger", "bantay_training_learner_risk"]
    assert command[command.index("--run-id") + 1] == f"erasure__{SUBJECT[:16]}__v1"
    assert "learner erased" in json.loads(command[command.index("--conf") + 1])["reason"]
    assert "42" not in " ".join(command)


def test_without_airflow_the_command_is_printed(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    (entry,) = retrain([{"model": "m", "version": "v1", "why": "x"}], SUBJECT, dry_run=False)
    assert (
        entry["retrain"].startswith("not triggered") and "airflow dags trigger" in entry["command"]
    )


def test_a_dry_run_triggers_nothing(monkeypatch, tmp_path):
    calls = _fake_airflow(monkeypatch, tmp_path, 0)
    (entry,) = retrain([{"model": "m", "version": "v1", "why": "x"}], SUBJECT, dry_run=True)
    assert entry["retrain"] == "would trigger" and not calls.exists()


def test_airflow_triggers_the_run(monkeypatch, tmp_path):
    calls = _fake_airflow(monkeypatch, tmp_path, 0)
    (entry,) = retrain([{"model": "m", "version": "v1", "why": "x"}], SUBJECT, dry_run=False)
    assert entry["retrain"] == "triggered"
    assert calls.read_text().split()[:3] == ["dags", "trigger", "bantay_training_m"]


def test_a_refused_trigger_says_what_airflow_said(monkeypatch, tmp_path):
    _fake_airflow(monkeypatch, tmp_path, 1)
    (entry,) = retrain([{"model": "m", "version": "v1", "why": "x"}], SUBJECT, dry_run=False)
    assert "airflow said: run id exists" in entry["retrain"] and entry["command"]


def _fake_airflow(monkeypatch, tmp_path, code: int):
    calls = tmp_path / "calls.txt"
    script = tmp_path / "bin" / "airflow"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$@" > {calls}\necho "run id exists" >&2\nexit {code}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    return calls
