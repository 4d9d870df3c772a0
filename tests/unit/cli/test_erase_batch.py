"""Batches of erasure requests: files are checked whole before anything is erased, each request
is erased as ``bantay erase`` does, a file is deleted when done (kept by a dry run), the summary
names learners by keyed hash only, and one retrain per model serves the whole batch."""

from __future__ import annotations

import json

import pytest

from bantay.cli import erase_batch as batch
from bantay.cli.erase_batch import erase_batch, read_requests
from bantay.settings.core import Settings


@pytest.fixture
def settings(tmp_path, monkeypatch):
    found = Settings(home=tmp_path, data_dir=tmp_path / "data")
    monkeypatch.setattr("bantay.settings.get_settings", lambda: found)
    found.layout.erasure_requests.mkdir(parents=True)
    return found


def _write(settings, name: str, items) -> None:
    (settings.layout.erasure_requests / name).write_text(json.dumps(items))


def test_a_bad_file_is_named_and_nothing_is_erased(settings, monkeypatch):
    calls = []
    monkeypatch.setattr(batch, "erase", lambda *a, **k: calls.append(a))
    _write(settings, "a.json", [{"learner_id": 1, "reason": "family"}])
    _write(settings, "b.json", [{"learner_id": "1O", "reason": "family"}])
    with pytest.raises(ValueError, match=r"request 1 in .*b.json has no valid learner_id"):
        erase_batch(actor="ops", dry_run=False, retrain=False)
    assert calls == [] and len(list(settings.layout.erasure_requests.iterdir())) == 2


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("not json", "not readable JSON"),
        ('{"learner_id": 1}', "must be a JSON list"),
        ('[{"learner_id": 1, "reason": " "}]', "has no reason"),
    ],
)
def test_bad_requests_say_what_to_write(tmp_path, body, match):
    (tmp_path / "r.json").write_text(body)
    with pytest.raises(ValueError, match=match):
        read_requests(tmp_path / "r.json", "ops")


def _fake_erase(calls):
    def erase(learner, *, reason, actor, dry_run):
        calls.append((learner, reason, actor, dry_run))
        return {
            "subject": f"{learner:064x}",
            "rows": 3,
            "tombstone": "added",
            "audit_id": len(calls),
            "versions_trained_on_the_learner": ["learner_risk v1"],
        }

    return erase


def test_each_request_is_erased_and_its_file_deleted(settings, monkeypatch):
    calls = []
    monkeypatch.setattr(batch, "erase", _fake_erase(calls))
    _write(settings, "a.json", [{"learner_id": 100042, "reason": "family", "actor": "school"}])
    _write(settings, "b.json", [{"learner_id": "100043", "reason": "family"}])
    dry = erase_batch(actor="ops", dry_run=True, retrain=False)
    assert (
        dry["files"] == ["a.json", "b.json"]
        and len(list(settings.layout.erasure_requests.iterdir())) == 2
    )
    calls.clear()
    done = erase_batch(actor="ops", dry_run=False, retrain=False)
    assert calls == [(100042, "family", "school", False), (100043, "family", "ops", False)]
    assert not list(settings.layout.erasure_requests.iterdir())
    assert "100042" not in json.dumps(done) and done["erased"][0]["subject"] == f"{100042:064x}"
    assert erase_batch(actor="ops", dry_run=False, retrain=False)["erased"] == []


def test_one_retrain_per_model_for_the_batch(settings, monkeypatch):
    calls, triggered = [], []
    monkeypatch.setattr(batch, "erase", _fake_erase(calls))
    monkeypatch.setattr("bantay.stores.registry.registry_for", lambda s: object())
    monkeypatch.setattr(
        "bantay.cli.retrain.affected_production",
        lambda reg, models, subject, trained: [
            {"model": m, "version": v, "why": "trained on it"} for m, v in trained
        ],
    )
    monkeypatch.setattr(
        "bantay.cli.retrain.retrain",
        lambda affected, subject, dry_run: triggered.append(affected) or [],
    )
    _write(settings, "a.json", [{"learner_id": i, "reason": "family"} for i in (1, 2, 3)])
    erase_batch(actor="ops", dry_run=False, retrain=True)
    assert triggered == [[{"model": "learner_risk", "version": "v1", "why": "trained on it"}]]
