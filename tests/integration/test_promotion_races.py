"""The promotion policy under races, tampering and faults, against the serialised dev S3 endpoint
(moto over HTTP) and a real SQLite or PostgreSQL registry.

Each case asserts what serves afterwards, that the registry and the audit log agree with the
pointer, and that nothing tampered was ever unpickled.
"""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from botocore.exceptions import EndpointConnectionError
from sklearn.linear_model import LogisticRegression

from bantay.serving.promotion import Promotion
from bantay.stores.model_store import (
    ArtifactCorrupt,
    ModelStore,
    ModelStoreError,
    PromotionConflict,
    UnknownVersion,
    canonical_json,
    sha256_hex,
)
from bantay.stores.registry import Registry
from bantay.vocabulary import ModelStatus
from support.services import (  # noqa: F401  (pytest fixtures)
    aws_connection,
    moto_s3,
    pg_url,
    s3_bucket,
    s3_client_for,
    s3_hook_over,
)

pytestmark = pytest.mark.integration

MODEL = "learner_risk"
PREFIX = "bantay/races"
TRIPPED: list[str] = []


def _tripwire() -> None:
    TRIPPED.append("unpickled")


class Tripwire:
    """Records that it was unpickled: proof that a refused load never unpickled anything."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_tripwire, ())


class _Delegate:
    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request, tmp_path):
    if request.param == "sqlite":
        reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    else:
        reg = Registry(request.getfixturevalue("pg_url"))
    reg.upgrade()
    yield reg
    reg.dispose()


@pytest.fixture
def store(s3_bucket):  # noqa: F811
    client, bucket = s3_bucket
    return ModelStore(s3_hook_over(client), bucket, PREFIX)


@pytest.fixture
def promo(store, registry):
    return Promotion(store, registry)


def publish(promo: Promotion, version: str, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 2))
    fitted = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    promo.registry.versions.upsert(MODEL, version, status="approved")
    return promo.publish(
        MODEL, version, fitted, {"params": {}}, pd.DataFrame(x, columns=["a", "b"])
    )


def key(store: ModelStore, version: str, name: str) -> str:
    return store.objects.version_key(MODEL, version, name)


def put_raw(store: ModelStore, k: str, body: bytes) -> None:
    store.objects.client.put_object(
        Bucket=store.objects.bucket, Key=k, Body=body
    )  # bypasses the store


def rewrite_consistently(store: ModelStore, version: str) -> None:
    """An attacker with bucket write access: new model AND a manifest that agrees with it."""
    evil = io.BytesIO()
    joblib.dump(Tripwire(), evil)
    manifest = json.loads(
        store.objects.client.get_object(
            Bucket=store.objects.bucket, Key=key(store, version, "manifest.json")
        )["Body"].read()
    )
    manifest["files"]["model.joblib"] = {
        "sha256": sha256_hex(evil.getvalue()),
        "bytes": len(evil.getvalue()),
    }
    put_raw(store, key(store, version, "model.joblib"), evil.getvalue())
    put_raw(store, key(store, version, "manifest.json"), canonical_json(manifest))


def audit(registry: Registry) -> list[tuple[str | None, str, str]]:
    return [(p.from_version, p.to_version, p.kind) for p in registry.promotions.of(MODEL)]


# -- the registry follows the pointer -------------------------------------------------------


def test_sequential_winners_leave_the_registry_on_the_pointer(store, promo, registry):
    """A wins its swap, B swaps and syncs before A's registry write: the registry must end on B."""
    for v, seed in (("v1", 1), ("v2", 2), ("v3", 3)):
        publish(promo, v, seed)
    promo.promote(MODEL, "v1", actor="setup", reason="baseline")

    class SlowA(Promotion):
        def _audit(self, pointer, **kwargs):
            super()._audit(pointer, **kwargs)
            if pointer["version"] == "v2":  # between A's swap and A's registry update
                Promotion(store, registry).promote(MODEL, "v3", actor="B", reason="B wins later")

    SlowA(store, registry).promote(MODEL, "v2", actor="A", reason="A wins first")
    assert store.pointers.current(MODEL)["version"] == "v3"
    assert registry.versions.production(MODEL).version == "v3"
    # v2 served between the two swaps (the audit log says so) but the registry never marked it
    # production: by the time its promotion updated the registry, the pointer named v3.
    assert registry.versions.get(MODEL, "v2").status is ModelStatus.APPROVED
    assert audit(registry)[-2:] == [("v1", "v2", "promote"), ("v2", "v3", "promote")]


@pytest.mark.promise("serving store", "ten promotions racing")
def test_ten_way_race_one_winner_and_registry_agrees(store, promo, registry, moto_s3):  # noqa: F811
    versions = [f"v{i}" for i in range(1, 12)]
    for i, v in enumerate(versions):
        publish(promo, v, i)
    promo.promote(MODEL, "v1", actor="setup", reason="baseline")
    barrier = threading.Barrier(10)

    class PauseAfterPointerRead(_Delegate):
        waited = False

        def get_object(self, **kwargs):
            response = self._client.get_object(**kwargs)
            if kwargs["Key"].endswith("production.json") and not self.waited:
                self.waited = True
                barrier.wait(timeout=60)
            return response

    outcomes: dict[str, Any] = {}

    def race(version: str) -> None:
        racer = ModelStore(
            s3_hook_over(PauseAfterPointerRead(s3_client_for(moto_s3))),
            store.objects.bucket,
            PREFIX,
        )
        try:
            outcomes[version] = Promotion(racer, registry).promote(
                MODEL, version, actor=version, reason="race"
            )
        except Exception as exc:  # asserted below
            outcomes[version] = exc

    threads = [threading.Thread(target=race, args=(v,)) for v in versions[1:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [v for v, o in outcomes.items() if isinstance(o, dict)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, PromotionConflict) for v, o in outcomes.items() if v not in winners)
    assert store.pointers.current(MODEL)["version"] == winners[0]
    assert registry.versions.production(MODEL).version == winners[0]
    assert audit(registry) == [(None, "v1", "promote"), ("v1", winners[0], "promote")]


def test_every_swap_is_audited_even_back_to_the_last_audited_target(store, promo, registry):
    for v, seed in (("v1", 1), ("v2", 2)):
        publish(promo, v, seed)
    promo.promote(MODEL, "v1", actor="a", reason="first")
    promo.promote(MODEL, "v2", actor="a", reason="second")
    promo.rollback(MODEL, actor="b", reason="back")
    promo.promote(MODEL, "v2", actor="c", reason="forward again")
    promo.rollback(MODEL, actor="d", reason="back again")
    assert audit(registry) == [
        (None, "v1", "promote"),
        ("v1", "v2", "promote"),
        ("v2", "v1", "rollback"),
        ("v1", "v2", "promote"),
        ("v2", "v1", "rollback"),
    ]
    promo.promote(MODEL, "v1", actor="e", reason="retried task")  # no swap: no new row
    assert len(audit(registry)) == 5


def test_a_missed_audit_row_is_repaired_once_on_rerun(store, promo, registry):
    publish(promo, "v1", 1)

    class AuditDown(Promotion):
        def _audit(self, pointer, **kwargs):
            raise ModelStoreError("registry unreachable")

    with pytest.raises(ModelStoreError, match="unreachable"):
        AuditDown(store, registry).promote(MODEL, "v1", actor="a", reason="first")
    assert store.pointers.current(MODEL)["version"] == "v1" and audit(registry) == []
    promo.promote(MODEL, "v1", actor="a", reason="rerun")
    promo.promote(MODEL, "v1", actor="a", reason="rerun again")
    assert audit(registry) == [(None, "v1", "promote")]
    assert registry.versions.production(MODEL).version == "v1"


# -- a corrupt pointer ------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"version": 5}', b"", b"\xff\xfe"])
@pytest.mark.promise("serving store", "a corrupt pointer file")
def test_a_corrupt_pointer_is_replaced_by_promote(store, promo, registry, body):
    publish(promo, "v1", 1)
    put_raw(store, store.objects.pointer_key(MODEL), body)
    with pytest.raises(ModelStoreError, match="repair it by promoting"):
        store.load_production(MODEL)
    pointer = promo.promote(MODEL, "v1", actor="oncall", reason="repair the pointer")
    assert pointer["previous"] is None and store.pointers.current(MODEL)["version"] == "v1"
    assert audit(registry) == [(None, "v1", "promote")]
    assert store.load_production(MODEL)[1]["version"] == "v1"


def test_a_corrupt_pointer_needs_a_named_rollback_target(store, promo, registry):
    publish(promo, "v1", 1)
    put_raw(store, store.objects.pointer_key(MODEL), b"garbage")
    with pytest.raises(ModelStoreError, match="name the version to restore with --to"):
        promo.rollback(MODEL, actor="oncall", reason="x")
    pointer = promo.rollback(MODEL, "v1", actor="oncall", reason="restore v1")
    assert (pointer["kind"], pointer["previous"]) == ("rollback", None)


def test_repairing_a_corrupt_pointer_is_conditional_on_its_etag(store, promo, registry):
    publish(promo, "v1", 1)
    publish(promo, "v2", 2)
    put_raw(store, store.objects.pointer_key(MODEL), b"garbage")

    class SomeoneRepairsFirst(_Delegate):
        def get_object(self, **kwargs):
            response = self._client.get_object(**kwargs)
            if kwargs["Key"].endswith("production.json"):
                Promotion(store, registry).promote(MODEL, "v2", actor="other", reason="fixed")
            return response

    racer = ModelStore(
        s3_hook_over(SomeoneRepairsFirst(store.objects.client)), store.objects.bucket, PREFIX
    )
    with pytest.raises(PromotionConflict, match="Production is now v2"):
        Promotion(racer, registry).promote(MODEL, "v1", actor="me", reason="repair")
    assert store.pointers.current(MODEL)["version"] == "v2"


# -- targets anchored to the sha256 recorded at publish -----------------------------------------


@pytest.mark.promise("serving store", "a rollback target rewritten with a matching manifest")
def test_rollback_target_rewritten_consistently_is_refused(store, promo, registry):
    publish(promo, "v1", 1)
    publish(promo, "v2", 2)
    promo.promote(MODEL, "v1", actor="a", reason="first")
    promo.promote(MODEL, "v2", actor="a", reason="second")
    rewrite_consistently(store, "v1")
    with pytest.raises(ArtifactCorrupt, match="recorded when the version was published"):
        promo.rollback(MODEL, actor="oncall", reason="back")
    assert store.pointers.current(MODEL)["version"] == "v2" and TRIPPED == []
    assert len(audit(registry)) == 2


def test_shadow_target_rewritten_consistently_is_refused(store, promo, registry):
    publish(promo, "v1", 1)
    rewrite_consistently(store, "v1")
    with pytest.raises(ArtifactCorrupt, match="rewritten after publishing"):
        promo.stage_shadow(MODEL, "v1", actor="a", reason="shadow it")
    assert store.pointers.shadow(MODEL) is None and TRIPPED == []


def _rejected(registry: Registry, version: str) -> None:
    with registry.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE model_versions SET status = 'rejected' WHERE model = :m AND version = :v"
            ),
            {"m": MODEL, "v": version},
        )


def test_a_rejected_version_cannot_be_staged_as_shadow(store, promo, registry):
    publish(promo, "v1", 1)
    _rejected(registry, "v1")
    with pytest.raises(ModelStoreError, match="refusing to shadow .* status is 'rejected'"):
        promo.stage_shadow(MODEL, "v1", actor="a", reason="shadow it")
    assert store.pointers.shadow(MODEL) is None


def test_the_shadow_is_checked_against_the_registry_at_every_load(store, promo, registry):
    """Staged while approved, rejected afterwards: scoring must not load it any more."""
    publish(promo, "v1", 1)
    promo.stage_shadow(MODEL, "v1", actor="a", reason="shadow it")
    fitted, manifest, marker = promo.load_shadow(MODEL)
    assert manifest["version"] == marker["version"] == "v1"
    _rejected(registry, "v1")
    store.clear_cache()
    with pytest.raises(ModelStoreError, match="refusing to shadow .* status is 'rejected'"):
        promo.load_shadow(MODEL)


def test_a_shadow_marker_naming_an_unregistered_version_is_refused(store, promo, registry):
    publish(promo, "v1", 1)
    promo.stage_shadow(MODEL, "v1", actor="a", reason="shadow it")
    marker = {**store.pointers.shadow(MODEL), "version": "v404"}
    put_raw(store, store.objects.shadow_key(MODEL), json.dumps(marker).encode())
    with pytest.raises(ModelStoreError, match="registry does not know"):
        promo.load_shadow(MODEL)


@pytest.mark.promise("serving store", "a shadow artifact rewritten after staging")
def test_a_shadow_rewritten_after_staging_is_never_unpickled(store, promo, registry):
    publish(promo, "v1", 1)
    promo.stage_shadow(MODEL, "v1", actor="a", reason="shadow it")
    rewrite_consistently(store, "v1")
    with pytest.raises(ArtifactCorrupt, match="shadow.json names v1"):
        promo.load_shadow(MODEL)
    # ...and with the marker rewritten to agree with the new files, the registry still knows
    marker = store.pointers.shadow(MODEL)
    manifest = store.versions.manifest(MODEL, "v1")
    marker["sha256"] = manifest["files"]["model.joblib"]["sha256"]
    put_raw(store, store.objects.shadow_key(MODEL), json.dumps(marker).encode())
    with pytest.raises(ArtifactCorrupt, match="registry recorded"):
        promo.load_shadow(MODEL)
    assert TRIPPED == []


def test_a_corrupt_shadow_marker_says_how_to_repair_it(store, promo, registry):
    put_raw(store, store.objects.shadow_key(MODEL), b"{not json")
    with pytest.raises(ModelStoreError, match="stage the shadow again"):
        promo.load_shadow(MODEL)


def test_promote_target_rewritten_consistently_is_refused(store, promo, registry):
    publish(promo, "v1", 1)
    rewrite_consistently(store, "v1")
    with pytest.raises(ArtifactCorrupt):
        promo.promote(MODEL, "v1", actor="a", reason="first")
    assert store.pointers.current(MODEL) is None and TRIPPED == []


def test_version_published_without_an_anchor_falls_back_to_its_manifest(store, registry):
    """Accepted: a version published before sha256s were recorded still promotes (checked
    against its own manifest), so upgrading does not strand old versions."""
    promo = Promotion(store, registry)
    registry.versions.upsert(MODEL, "v1", status="approved")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    store.versions.publish(
        MODEL, "v1", LogisticRegression().fit(x, x[:, 0] > 0), {}, pd.DataFrame(x)
    )
    assert registry.versions.get(MODEL, "v1").artifact_sha256 is None
    assert promo.promote(MODEL, "v1", actor="a", reason="old version")["version"] == "v1"


def test_hand_edited_pointer_naming_a_missing_version(store, promo, registry):
    publish(promo, "v1", 1)
    promo.promote(MODEL, "v1", actor="a", reason="first")
    pointer = {**store.pointers.current(MODEL), "version": "v404"}
    put_raw(store, store.objects.pointer_key(MODEL), json.dumps(pointer).encode())
    with pytest.raises(UnknownVersion, match="v404"):
        store.load_production(MODEL)
    promo.promote(MODEL, "v1", actor="oncall", reason="repair")
    assert store.load_production(MODEL)[1]["version"] == "v1"


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.promise("serving store", "S3 failing on the pointer write")
def test_s3_dies_on_the_pointer_write(store, promo, registry):
    publish(promo, "v1", 1)
    publish(promo, "v2", 2)
    promo.promote(MODEL, "v1", actor="a", reason="first")

    class PointerPutFails(_Delegate):
        def put_object(self, **kwargs):
            if kwargs["Key"].endswith("production.json"):
                raise EndpointConnectionError(endpoint_url=self._client.meta.endpoint_url)
            return self._client.put_object(**kwargs)

    flaky = ModelStore(
        s3_hook_over(PointerPutFails(store.objects.client)), store.objects.bucket, PREFIX
    )
    with pytest.raises(ModelStoreError, match="cannot reach the S3 endpoint"):
        Promotion(flaky, registry).promote(MODEL, "v2", actor="a", reason="second")
    assert store.pointers.current(MODEL)["version"] == "v1"
    assert registry.versions.production(MODEL).version == "v1"
    assert len(audit(registry)) == 1


@pytest.mark.promise("registry", "the registry unreachable right after the pointer swap")
def test_registry_down_after_the_swap_is_reconciled_by_rerun(store, promo, registry):
    publish(promo, "v1", 1)
    publish(promo, "v2", 2)
    promo.promote(MODEL, "v1", actor="a", reason="first")

    class FollowFails(Promotion):
        def _follow(self, model):
            raise ModelStoreError("production of learner_risk now points at v2, but updating")

    with pytest.raises(ModelStoreError, match="now points at v2"):
        FollowFails(store, registry).promote(MODEL, "v2", actor="a", reason="second")
    assert registry.versions.production(MODEL).version == "v1"  # stale until the re-run
    promo.promote(MODEL, "v2", actor="a", reason="second")
    assert registry.versions.production(MODEL).version == "v2"
    assert audit(registry) == [(None, "v1", "promote"), ("v1", "v2", "promote")]


# -- the audit log and links ----------------------------------------------------------------


@pytest.mark.promise("registry", "UPDATE and DELETE on the audit table")
def test_sqlite_audit_rows_cannot_be_replaced(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'audit.db'}")
    reg.upgrade()
    row = reg.promotions.record(MODEL, "v1", actor="a", reason="first")
    for verb in ("REPLACE INTO", "INSERT OR REPLACE INTO"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), reg.engine.begin() as c:
            c.exec_driver_sql(
                f"{verb} promotions (id, model, from_version, to_version, actor, reason, kind, at) "
                f"VALUES ({row.id}, '{MODEL}', NULL, 'evil', 'x', 'x', 'promote', '2026-01-01')"
            )
    reg.promotions.record(MODEL, "v2", actor="a", reason="second")  # appending still works
    assert [p.to_version for p in reg.promotions.of(MODEL)] == ["v1", "v2"]
    reg.dispose()


def test_presigned_links_are_sigv4_and_work(aws_connection, s3_bucket):  # noqa: F811
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config

    _, bucket = s3_bucket
    # The same connection, configured for SigV2 like old regional defaults.
    sigv2 = S3Hook(aws_conn_id=aws_connection["conn_id"], config=Config(signature_version="s3"))
    assert sigv2.get_conn().meta.config.signature_version == "s3"
    default = ModelStore.from_connection(bucket, PREFIX)
    # Written through the default client: the local endpoint cannot route a SigV2-signed request
    # whose signature happens to read like a host name, and the link is what is under test here.
    uri = default.reports.put(MODEL, "2026-11-23", "report.html", b"<p>ok</p>", "text/html")
    for store in (default, ModelStore(sigv2, bucket, PREFIX)):
        url = store.objects.presigned_url(uri, 3600)
        assert (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "Signature=" not in url.split("X-Amz")[0]
        )
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
            assert response.read() == b"<p>ok</p>"


def test_dev_endpoint_makes_conditional_creates_atomic(s3_bucket):  # noqa: F811
    """The serialised dev endpoint: 16 simultaneous If-None-Match creates, exactly one wins."""
    client, bucket = s3_bucket
    barrier = threading.Barrier(16)
    wins: list[int] = []

    def create(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            client.put_object(Bucket=bucket, Key="once", Body=str(i).encode(), IfNoneMatch="*")
            wins.append(i)
        except client.exceptions.ClientError:
            pass

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert client.get_object(Bucket=bucket, Key="once")["Body"].read() == str(wins[0]).encode()
