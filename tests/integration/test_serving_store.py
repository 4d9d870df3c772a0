"""The serving store against a real S3 endpoint (moto server over HTTP on 127.0.0.1).

The registry here is an embedded SQLite file (its PostgreSQL behaviour is covered in
test_registry_pg.py). Client wrappers below (under the store's S3Hook) delegate every call to a
real boto3 client; the one that raises fakes a network failure at the S3 boundary and says so.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import threading
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import EndpointConnectionError

from bantay.serving.promotion import Promotion
from bantay.stores.connections import s3_client
from bantay.stores.model_store import (
    ArtifactCorrupt,
    BucketNotFound,
    ModelStore,
    ModelStoreError,
    NoProductionVersion,
    PromotionConflict,
    UnknownModel,
    UnknownVersion,
    VersionExists,
)
from bantay.stores.registry import Registry
from bantay.vocabulary import ModelStatus
from support import model_versions
from support.model_versions import FEATURES, MODEL, PREFIX, manifest_for, publish, tiny_model
from support.services import (  # noqa: F401  (pytest fixtures)
    aws_connection,
    moto_s3,
    pg_url,
    s3_bucket,
    s3_client_for,
    s3_hook_over,
)

pytestmark = pytest.mark.integration

# The shared pieces (fixtures bound here by name, as pytest finds them).
registry = model_versions.registry
store = model_versions.store
promo = model_versions.promo


def raw_bytes(store: ModelStore, key: str) -> bytes:
    return store.objects.client.get_object(Bucket=store.objects.bucket, Key=key)["Body"].read()


class _Delegate:
    """Passes every attribute through to a real boto3 client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


# -- the happy path ---------------------------------------------------------------------------


def test_publish_promote_load_round_trip(store, promo, registry):
    model, reference = tiny_model(1)
    registry.versions.upsert(MODEL, "v1", status="approved")
    manifest = store.versions.publish(MODEL, "v1", model, manifest_for("v1"), reference)

    root = f"{PREFIX}/models/{MODEL}/versions/v1/"
    model_bytes = raw_bytes(store, root + "model.joblib")
    assert manifest["files"]["model.joblib"] == {
        "sha256": hashlib.sha256(model_bytes).hexdigest(),
        "bytes": len(model_bytes),
    }
    assert manifest["model"] == MODEL and manifest["version"] == "v1"
    assert manifest["metrics"] == {"roc_auc": 0.81}
    assert json.loads(raw_bytes(store, root + "manifest.json")) == manifest
    assert store.versions.of(MODEL) == ["v1"]

    pointer = promo.promote(MODEL, "v1", actor="bantay_training", reason="gate passed")
    assert pointer["version"] == "v1" and pointer["previous"] is None
    assert pointer["sha256"] == manifest["files"]["model.joblib"]["sha256"]
    assert store.pointers.current(MODEL) == pointer

    loaded, loaded_manifest = store.load_production(MODEL)
    x = reference[FEATURES].to_numpy()
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded_manifest == manifest
    assert store.load_production(MODEL)[0] is loaded  # cached per (model, version)
    stored_reference = store.versions.reference(MODEL, "v1")
    assert str(stored_reference["event_timestamp"].dtype) == "datetime64[us, UTC]"  # DuckDB-safe
    pd.testing.assert_frame_equal(stored_reference, reference, check_dtype=False)

    assert registry.versions.production(MODEL).version == "v1"
    (entry,) = registry.promotions.of(MODEL)
    assert (entry.from_version, entry.to_version, entry.actor, entry.kind) == (
        None,
        "v1",
        "bantay_training",
        "promote",
    )


def test_reads_take_one_request_per_object(store, promo, moto_s3):  # noqa: F811
    """Counted at the HTTP layer (botocore's before-send event), so a HEAD before a GET, or a
    manifest read twice, shows up."""
    publish(promo, "v1", seed=1)
    promo.promote(MODEL, "v1", actor="a", reason="first")
    serving = ModelStore(s3_hook_over(s3_client_for(moto_s3)), store.objects.bucket, PREFIX)
    sent: list[str] = []  # method and URL without the query
    queries: list[str] = []

    def record(request: Any, **_: Any) -> None:
        url, _sep, query = request.url.partition("?")
        sent.append(f"{request.method} {url}")
        queries.append(query)

    serving.objects.client.meta.events.register("before-send.s3", record)
    root = f"{moto_s3}/{store.objects.bucket}/{PREFIX}/models/{MODEL}/"

    serving.load_production(MODEL)
    assert sent == [
        f"GET {root}production.json",
        f"GET {root}versions/v1/manifest.json",
        f"GET {root}versions/v1/model.joblib",
    ]
    sent.clear()
    serving.load_production(MODEL)
    assert sent == [f"GET {root}production.json"]  # the model is cached; the pointer is not

    sent.clear()
    queries.clear()
    with pytest.raises(UnknownModel):
        serving.versions.manifest("nobody", "v1")
    # The manifest, the version's keys, whether the model has any key at all, the models here.
    assert len(sent) == 4 and "max-keys=1" in queries[2]


@pytest.mark.promise("serving store", "every write inspected on the wire")
def test_every_put_is_conditional_checksummed_and_manifest_last(store):
    calls: list[dict[str, Any]] = []

    class Recording(_Delegate):
        """Records put_object arguments, then sends the real request."""

        def put_object(self, **kwargs: Any) -> Any:
            calls.append({k: v for k, v in kwargs.items() if k != "Body"})
            return self._client.put_object(**kwargs)

    recording = ModelStore(
        s3_hook_over(Recording(store.objects.client)), store.objects.bucket, PREFIX
    )
    publish(recording, "v1", seed=1, approve=False)
    Promotion(recording).promote(MODEL, "v1", actor="a", reason="first")
    publish(recording, "v2", seed=2, approve=False)
    Promotion(recording).promote(MODEL, "v2", actor="a", reason="second")

    names = [c["Key"].rsplit("/", 1)[-1] for c in calls]
    assert (
        names
        == [
            "model.joblib",
            "reference.parquet",
            "manifest.json",
            "production.json",
        ]
        * 2
    )
    for call in calls:
        assert call["ChecksumAlgorithm"] == "SHA256"
        if call["Key"].endswith("production.json"):
            continue
        assert call["IfNoneMatch"] == "*"
    first_pointer, second_pointer = calls[3], calls[7]
    assert first_pointer["IfNoneMatch"] == "*" and "IfMatch" not in first_pointer
    assert second_pointer["IfMatch"] and "IfNoneMatch" not in second_pointer

    # S3 stored the SHA-256 we computed, i.e. the one in the manifest.
    manifest = store.versions.manifest(MODEL, "v2")
    head = store.objects.client.head_object(
        Bucket=store.objects.bucket,
        Key=f"{PREFIX}/models/{MODEL}/versions/v2/model.joblib",
        ChecksumMode="ENABLED",
    )
    expected = base64.b64encode(bytes.fromhex(manifest["files"]["model.joblib"]["sha256"]))
    assert head["ChecksumSHA256"] == expected.decode()


@pytest.mark.promise("serving store", "a second publish of the same version, equal and different")
def test_versions_are_immutable_but_an_identical_retry_is_a_no_op(store, promo):
    first = publish(promo, "v1", seed=1)
    manifest_key = f"{PREFIX}/models/{MODEL}/versions/v1/manifest.json"
    stored = raw_bytes(store, manifest_key)

    assert publish(promo, "v1", seed=1) == first  # retried task, same contents
    with pytest.raises(VersionExists, match="versions are immutable") as info:
        publish(promo, "v1", seed=2)
    assert "v1" in str(info.value) and "new version id" in str(info.value)
    assert raw_bytes(store, manifest_key) == stored


# -- concurrency ------------------------------------------------------------------------------


@pytest.mark.promise("serving store", "two promotions at the same instant")
def test_two_simultaneous_promotions_exactly_one_wins(store, promo, registry, moto_s3):  # noqa: F811
    for version, seed in (("v1", 1), ("v2", 2), ("v3", 3)):
        publish(promo, version, seed)
    promo.promote(MODEL, "v1", actor="setup", reason="baseline")
    audit_before = len(registry.promotions.of(MODEL))
    barrier = threading.Barrier(2)

    class PauseAfterPointerRead(_Delegate):
        """After its first read of production.json, waits until the other promotion has read it
        too: both then hold the same ETag before either writes (real S3 traffic throughout)."""

        waited = False

        def get_object(self, **kwargs: Any) -> Any:
            response = self._client.get_object(**kwargs)
            if kwargs["Key"].endswith("production.json") and not self.waited:
                self.waited = True
                barrier.wait(timeout=60)
            return response

    outcomes: dict[str, Any] = {}

    def promote(version: str) -> None:
        racer = Promotion(
            ModelStore(
                s3_hook_over(PauseAfterPointerRead(s3_client_for(moto_s3))),
                store.objects.bucket,
                PREFIX,
            ),
            registry,
        )
        try:
            outcomes[version] = racer.promote(
                MODEL, version, actor=f"racer-{version}", reason="race"
            )
        except Exception as exc:  # collected and asserted below
            outcomes[version] = exc

    threads = [threading.Thread(target=promote, args=(v,)) for v in ("v2", "v3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    winners = [v for v, o in outcomes.items() if isinstance(o, dict)]
    losers = [v for v, o in outcomes.items() if isinstance(o, PromotionConflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    (winner,), (loser,) = winners, losers
    message = str(outcomes[loser])
    assert f"promotion of {MODEL} to {loser} lost a race" in message
    assert f"Production is now {winner} (by racer-{winner}" in message

    assert store.pointers.current(MODEL)["version"] == winner
    assert store.pointers.current(MODEL)["previous"] == "v1"
    audit = registry.promotions.of(MODEL)
    assert len(audit) == audit_before + 1
    assert (audit[-1].from_version, audit[-1].to_version) == ("v1", winner)
    assert registry.versions.production(MODEL).version == winner
    assert registry.versions.get(MODEL, loser).status is ModelStatus.APPROVED
    assert registry.versions.get(MODEL, "v1").status is ModelStatus.ARCHIVED


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("failing_file", ["reference.parquet", "manifest.json"])
@pytest.mark.promise("serving store", "a publish interrupted between files")
def test_interrupted_publish_never_reaches_serving(store, promo, failing_file):
    publish(promo, "v1", seed=1)
    promo.promote(MODEL, "v1", actor="setup", reason="baseline")

    class NetworkDropsOn(_Delegate):
        """Fakes a network failure at the S3 boundary: the PUT of one file never arrives."""

        def put_object(self, **kwargs: Any) -> Any:
            if kwargs["Key"].endswith(f"/{failing_file}"):
                raise EndpointConnectionError(endpoint_url=self._client.meta.endpoint_url)
            return self._client.put_object(**kwargs)

    flaky = ModelStore(
        s3_hook_over(NetworkDropsOn(store.objects.client)), store.objects.bucket, PREFIX
    )
    with pytest.raises(ModelStoreError, match="cannot reach the S3 endpoint"):
        publish(Promotion(flaky, promo.registry), "v2", seed=2)

    fresh = ModelStore(store.objects.hook, store.objects.bucket, PREFIX)
    loaded, manifest = fresh.load_production(MODEL)
    assert manifest["version"] == "v1"
    assert fresh.versions.of(MODEL) == ["v1"]
    with pytest.raises(UnknownVersion, match=r"'v2' of model 'learner_risk' is incomplete") as info:
        Promotion(fresh, promo.registry).promote(
            MODEL, "v2", actor="ana", reason="try the half-written one"
        )
    assert "manifest.json is missing" in str(info.value)
    assert "model.joblib" in str(info.value)
    assert fresh.pointers.current(MODEL)["version"] == "v1"
    assert len(promo.registry.promotions.of(MODEL)) == 1

    # The retried task (same model, same bytes) completes the version.
    publish(promo, "v2", seed=2)
    assert promo.promote(MODEL, "v2", actor="ana", reason="retry")["version"] == "v2"


TRIPPED: list[str] = []


def _tripwire() -> None:
    TRIPPED.append("unpickled")


class Tripwire:
    """Records that it was unpickled: proof that a refused load never unpickled anything."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_tripwire, ())


@pytest.mark.promise("serving store", "an artifact corrupted in the bucket")
def test_corrupted_artifact_is_refused_and_rollback_recovers(store, promo, registry):
    publish(promo, "v1", seed=1)
    publish(promo, "v2", seed=2)
    promo.promote(MODEL, "v1", actor="setup", reason="baseline")
    promo.promote(MODEL, "v2", actor="setup", reason="newer")

    key = f"{PREFIX}/models/{MODEL}/versions/v2/model.joblib"
    evil = io.BytesIO()
    joblib.dump(Tripwire(), evil)
    store.objects.client.put_object(
        Bucket=store.objects.bucket, Key=key, Body=evil.getvalue()
    )  # bypasses store

    serving = ModelStore(store.objects.hook, store.objects.bucket, PREFIX)
    with pytest.raises(ArtifactCorrupt) as info:
        serving.load_production(MODEL)
    message = str(info.value)
    assert f"refusing to load s3://{store.objects.bucket}/{key}" in message
    assert "does not match the manifest" in message and "bantay rollback" in message
    assert TRIPPED == []
    with pytest.raises(ArtifactCorrupt, match="model.joblib"):
        promo.promote(MODEL, "v2", actor="ana", reason="re-promote the corrupt one")

    pointer = promo.rollback(MODEL, actor="oncall", reason="v2 artifact corrupt")
    assert pointer["version"] == "v1" and pointer["kind"] == "rollback"
    assert pointer["previous"] == "v2"
    assert serving.load_production(MODEL)[1]["version"] == "v1"
    assert TRIPPED == []
    last = registry.promotions.of(MODEL)[-1]
    assert (last.kind, last.from_version, last.to_version, last.actor) == (
        "rollback",
        "v2",
        "v1",
        "oncall",
    )
    assert registry.versions.production(MODEL).version == "v1"


def test_no_production_version_yet(store, promo):
    publish(promo, "v1", seed=1)
    with pytest.raises(NoProductionVersion) as info:
        store.load_production(MODEL)
    message = str(info.value)
    assert f"model '{MODEL}' has no production version yet" in message
    assert "production.json does not exist" in message
    assert "['v1']" in message and "bantay promote --model learner_risk" in message
    with pytest.raises(NoProductionVersion):
        promo.rollback(MODEL, actor="a", reason="b")


def test_unknown_model(store, promo):
    publish(promo, "v1", seed=1)
    with pytest.raises(UnknownModel) as info:
        store.load_production("learner_rsik")
    message = str(info.value)
    assert "unknown model 'learner_rsik'" in message
    assert f"s3://{store.objects.bucket}/{PREFIX}/models/learner_rsik/" in message
    assert "models here: ['learner_risk']" in message
    with pytest.raises(UnknownModel, match="unknown model 'nobody'"):
        store.versions.manifest("nobody", "v1")


def test_unknown_version(store, promo):
    publish(promo, "v1", seed=1)
    with pytest.raises(UnknownVersion) as info:
        store.load_version(MODEL, "v9")
    assert "unknown version 'v9' of model 'learner_risk'" in str(info.value)
    assert "available versions: ['v1']" in str(info.value)
    with pytest.raises(UnknownVersion, match="unknown version 'v9'"):
        promo.promote(MODEL, "v9", actor="a", reason="b")


@pytest.mark.promise(
    "serving store",
    "a bucket that does not exist",
    says="A missing bucket is a clear error naming it and the fix, before anything is written.",
)
def test_bad_bucket(s3_bucket):  # noqa: F811
    client, _ = s3_bucket
    store = ModelStore(s3_hook_over(client), "bantay-no-such-bucket", PREFIX)
    with pytest.raises(BucketNotFound) as info:
        store.load_production(MODEL)
    assert "S3 bucket 'bantay-no-such-bucket' does not exist" in str(info.value)
    assert "storage.bucket" in str(info.value)
    model, reference = tiny_model(1)
    with pytest.raises(BucketNotFound, match="bantay-no-such-bucket"):
        store.versions.publish(MODEL, "v1", model, {}, reference)


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("", "is empty"),
        ("/", "is empty"),
        ("/bantay", "starts with '/'"),
        ("bantay/../other", "'..' segment"),
        ("bantay//prod", "empty, '.' or '..' segment"),
    ],
)
def test_bad_prefix_is_refused_at_construction(s3_bucket, prefix, message):  # noqa: F811
    client, bucket = s3_bucket
    with pytest.raises(ValueError, match=message):
        ModelStore(s3_hook_over(client), bucket, prefix)


def test_promotion_respects_registry_status(store, promo, registry):
    publish(promo, "v1", seed=1, approve=False)  # registered as candidate
    with pytest.raises(ModelStoreError, match="registry status is 'candidate'"):
        promo.promote(MODEL, "v1", actor="ana", reason="skip the gate")
    assert store.pointers.current(MODEL) is None
    registry.versions.set_status(MODEL, "v1", "approved")
    promo.promote(MODEL, "v1", actor="ana", reason="approved now")
    again = promo.promote(MODEL, "v1", actor="ana", reason="retried task")
    assert again["reason"] == "approved now"  # already production: pointer unchanged
    assert len(registry.promotions.of(MODEL)) == 1


def test_rollback_needs_a_previous_version(store, promo):
    publish(promo, "v1", seed=1)
    promo.promote(MODEL, "v1", actor="a", reason="first")
    with pytest.raises(ModelStoreError, match="no previous production version recorded"):
        promo.rollback(MODEL, actor="a", reason="b")


# -- credentials and the CLI ------------------------------------------------------------------


@pytest.mark.promise("serving store", "passwords in the registry URL and S3 keys, logged at DEBUG")
def test_no_credentials_in_logs(aws_connection, s3_bucket, pg_url, monkeypatch, caplog):  # noqa: F811
    _, bucket = s3_bucket
    db_password = "pg-Fake-Pw-7731"
    url_with_password = pg_url.replace("postgres@", f"postgres:{db_password}@")  # trust auth
    monkeypatch.setenv("BANTAY_REGISTRY_URL", url_with_password)
    # Importing Airflow (the amazon provider) replaces the root logger's handlers with its own
    # structlog one, which would detach caplog: import it first, then re-attach caplog.
    s3_client(aws_connection["conn_id"])
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bantay")

    from bantay.settings import load_settings

    registry = Registry.from_settings(load_settings())
    registry.upgrade()
    store = ModelStore.from_connection(bucket, PREFIX)
    publish(Promotion(store, registry), "v1", seed=1)
    Promotion(store, registry).promote(MODEL, "v1", actor="ana", reason="first")
    store.load_production(MODEL)
    registry.dispose()

    text = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "published s3://" in text and "registry postgresql+psycopg2://postgres:***@" in text
    for secret in (aws_connection["password"], aws_connection["login"], db_password):
        assert secret not in text
    assert db_password not in repr(registry)


def test_cli_pointer_promote_rollback(aws_connection, s3_bucket, tmp_path, monkeypatch, capsys):  # noqa: F811
    client, bucket = s3_bucket
    monkeypatch.setenv("BANTAY_REGISTRY_URL", f"sqlite:///{tmp_path / 'cli-registry.db'}")
    store = ModelStore(s3_hook_over(client), bucket, PREFIX)
    publish(store, "v1", seed=1)
    publish(store, "v2", seed=2)

    from bantay import cli
    from bantay.stores.registry import registry_at

    registry_at.cache_clear()
    assert cli.main(["registry", "upgrade"]) == 0  # the deploy step

    def printed_json() -> dict[str, Any]:
        # Airflow's logging also writes to stdout (see report); the JSON document comes last.
        lines = capsys.readouterr().out.splitlines()
        start = max(i for i, line in enumerate(lines) if line == "{")
        return json.loads("\n".join(lines[start:]))

    def run(*argv: str) -> int:
        return cli.main([*argv, "--model", MODEL, "--bucket", bucket, "--prefix", PREFIX])

    assert run("pointer") == 2
    assert "has no production version yet" in capsys.readouterr().err
    assert run("promote", "--to", "v1", "--reason", "first", "--actor", "ana") == 0
    assert printed_json()["version"] == "v1"
    assert run("promote", "--to", "v2", "--reason", "newer", "--actor", "ana") == 0
    capsys.readouterr()
    assert run("rollback", "--reason", "v2 misbehaves", "--actor", "oncall") == 0
    rolled = printed_json()
    assert (rolled["version"], rolled["kind"], rolled["promoted_by"]) == (
        "v1",
        "rollback",
        "oncall",
    )
    assert run("pointer") == 0
    assert printed_json()["version"] == "v1"
    assert run("rollback", "--to", "v7", "--reason", "x") == 2
    assert "unknown version 'v7'" in capsys.readouterr().err

    audit = Registry(f"sqlite:///{tmp_path / 'cli-registry.db'}").promotions.of(MODEL)
    assert [(p.to_version, p.kind, p.actor) for p in audit] == [
        ("v1", "promote", "ana"),
        ("v2", "promote", "ana"),
        ("v1", "rollback", "oncall"),
    ]


@pytest.mark.promise("serving store", "a pointer that disagrees with the registry")
def test_serving_follows_the_pointer_and_refuses_one_that_disagrees(store, promo):
    publish(promo, "v1", seed=1)
    publish(promo, "v2", seed=2)
    serving = ModelStore(store.objects.hook, store.objects.bucket, PREFIX)
    promo.promote(MODEL, "v1", actor="a", reason="first")
    assert serving.load_production(MODEL)[1]["version"] == "v1"
    promo.promote(MODEL, "v2", actor="a", reason="second")
    assert serving.load_production(MODEL)[1]["version"] == "v2"  # cache does not pin a version

    pointer = {**store.pointers.current(MODEL), "sha256": "0" * 64}
    store.objects.client.put_object(  # a hand-edited pointer, bypassing the store
        Bucket=store.objects.bucket,
        Key=f"{PREFIX}/models/{MODEL}/production.json",
        Body=json.dumps(pointer).encode(),
    )
    with pytest.raises(ArtifactCorrupt, match="production.json names v2 with sha256 0000"):
        serving.load_production(MODEL)
