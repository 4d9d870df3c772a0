"""A published version's drift reference without one learner: a recorded rewrite (new sha256
in the manifest, an ``erasures`` record), the model's anchored sha256 untouched, the version
still verifying and loading; anything else that changes the reference is still refused. Runs
against the moto S3 server on loopback (conditional writes included)."""

from __future__ import annotations

import json

import pytest

from bantay.schema import ENTITY
from bantay.serving.erasure import erase_references
from bantay.stores.model_store import ArtifactCorrupt, ModelStore
from bantay.stores.model_store.serialisation import canonical_json, dump_parquet
from support.model_versions import MODEL, PREFIX, manifest_for, tiny_model
from support.services import moto_s3, s3_bucket, s3_hook_over  # noqa: F401

GONE = 100_042
SUBJECT = "ab" * 32


@pytest.fixture
def store(s3_bucket):  # noqa: F811
    client, bucket = s3_bucket
    store = ModelStore(s3_hook_over(client), bucket, PREFIX)
    for version, seed in (("v1", 1), ("v2", 2)):
        model, reference = tiny_model(seed)
        ids = [GONE if (version == "v1" and i % 10 == 0) else 200_000 + i for i in range(50)]
        reference.insert(0, ENTITY, ids)
        store.versions.publish(MODEL, version, model, manifest_for(version), reference)
    return store


def test_dry_run_names_the_versions_and_changes_nothing(store):
    before = store.versions.manifest(MODEL, "v1")
    found = erase_references(store, GONE, SUBJECT, dry_run=True)
    assert [(v.version, v.rows, v.sha256) for v in found] == [("v1", 5, None)]
    assert store.versions.manifest(MODEL, "v1") == before


def test_rewrite_is_recorded_and_the_version_still_verifies(store):
    model_sha = store.versions.manifest(MODEL, "v1")["files"]["model.joblib"]["sha256"]
    old_ref = store.versions.manifest(MODEL, "v1")["files"]["reference.parquet"]["sha256"]
    found = erase_references(store, GONE, SUBJECT, dry_run=False)
    assert [(v.version, v.rows) for v in found] == [("v1", 5)]
    manifest = store.versions.verify(MODEL, "v1", expected_sha256=model_sha)
    assert manifest["files"]["model.joblib"]["sha256"] == model_sha
    (record,) = manifest["erasures"]
    assert record["sha256_before"] == old_ref
    assert record["sha256"] == manifest["files"]["reference.parquet"]["sha256"] != old_ref
    assert record["subject"] == SUBJECT and str(GONE) not in json.dumps(record)
    reference = store.versions.reference(MODEL, "v1")
    assert len(reference) == 45 and GONE not in set(reference[ENTITY])
    loaded, _ = store.load_version(MODEL, "v1")
    assert hasattr(loaded, "predict_proba")
    assert erase_references(store, GONE, SUBJECT, dry_run=False) == []  # nothing left


def _put(store, version, name, body):
    key = store.objects.version_key(MODEL, version, name)
    store.objects.put(key, body, content_type="application/octet-stream", overwrite=True)


def test_an_unrecorded_reference_change_is_still_refused(store):
    erase_references(store, GONE, SUBJECT, dry_run=False)
    reference = store.versions.reference(MODEL, "v1")
    _put(store, "v1", "reference.parquet", dump_parquet(reference.head(3)))
    with pytest.raises(ArtifactCorrupt, match="does not match the manifest"):
        store.versions.verify(MODEL, "v1")


def test_a_manifest_entry_no_erasure_accounts_for_is_refused(store):
    erase_references(store, GONE, SUBJECT, dry_run=False)
    manifest = store.versions.manifest(MODEL, "v1")
    body = dump_parquet(store.versions.reference(MODEL, "v1").head(3))
    manifest["files"]["reference.parquet"]["sha256"] = "0" * 64  # not the recorded rewrite
    _put(store, "v1", "manifest.json", canonical_json(manifest))
    with pytest.raises(ArtifactCorrupt, match="records erasures that do not match"):
        store.versions.verify(MODEL, "v1")
    manifest["erasures"][0]["file"] = "model.joblib"
    _put(store, "v1", "manifest.json", canonical_json(manifest))
    _put(store, "v1", "reference.parquet", body)
    with pytest.raises(ArtifactCorrupt, match="only reference.parquet may be rewritten"):
        store.versions.verify(MODEL, "v1")


@pytest.fixture
def registry(tmp_path):
    from bantay.stores.registry import Registry

    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.upgrade()
    yield reg
    reg.dispose()


def _rebaseline(store, registry, stamp, ids):
    import datetime as dt

    _, frame = tiny_model(3)
    frame = frame.head(len(ids))
    frame.insert(0, ENTITY, ids)
    put = store.baselines.put(MODEL, "v2", stamp, frame)
    day = dt.date(2026, 11, 1)
    return registry.baselines.record(
        MODEL, "v2", reference_uri=put["uri"], sha256=put["sha256"], first_day=day,
        last_day=day, rows=put["rows"], actor="ops", reason="inputs moved",
    )  # fmt: skip


def test_rebaselines_are_rewritten_and_the_current_one_stays_current(store, registry):
    from bantay.serving.erasure import erase_baselines

    old = _rebaseline(store, registry, "20261101", [GONE, 300_001])
    newest = _rebaseline(store, registry, "20261102", [GONE, GONE, 300_002])
    dry = erase_baselines(store, registry, GONE, SUBJECT, dry_run=True)
    assert [(b.uri, b.rows) for b in dry] == [(old.reference_uri, 1), (newest.reference_uri, 2)]
    assert len(registry.baselines.of(MODEL)) == 2
    erase_baselines(store, registry, GONE, SUBJECT, dry_run=False)
    current = registry.baselines.current(MODEL, "v2")
    assert current.id != newest.id and current.first_day == newest.first_day
    frame = store.baselines.read(current.reference_uri, current.sha256)
    assert list(frame[ENTITY]) == [300_002]
    keys = store.objects.keys_under(f"{PREFIX}/models/{MODEL}/versions/v2/baselines/")
    assert sorted(k.rsplit("/", 1)[-1] for k in keys) == [
        "20261101-erased.parquet",
        "20261102-erased.parquet",
    ]  # the files that held the learner are deleted
    assert erase_baselines(store, registry, GONE, SUBJECT, dry_run=False) == []
