"""The S3 serving store: immutable model versions and a compare-and-swap production pointer.

Layout under ``<prefix>/models/<model>/`` (the storage contract in README.md)::

    versions/<version>/model.joblib       written with If-None-Match: *
    versions/<version>/reference.parquet  written with If-None-Match: *
    versions/<version>/manifest.json      written LAST: a version is complete iff it exists
    production.json                       {model, version, sha256, promoted_at, promoted_by,
                                           reason, kind, previous}; replaced only with If-Match
    shadow.json                           the version scored in shadow (plain overwrite)

Guarantees:

* Serving never sees a half-written model: the pointer may only name a complete version whose
  files hash to the sha256 in its manifest (checked by download before every pointer swap).
* Nothing is unpickled before its sha256 matches the manifest (and, for production, the pointer).
* Two promotions racing on the pointer: S3 lets exactly one conditional write win; the other
  gets ``PointerChanged`` here, which the promotion policy reports as ``PromotionConflict``
  naming who is production now.
* Publishing is retry-safe: re-publishing a version with byte-identical contents (same manifest,
  same files) is a no-op that returns the stored manifest; anything else is ``VersionExists``.

Every put sends ``ChecksumAlgorithm="SHA256"`` with the precomputed ``ChecksumSHA256``, so S3
itself rejects bytes damaged in transit (the local moto endpoint accepts the header but does not
verify it; our own sha256 check on read covers that case everywhere).

``ModelStore`` is composed, not inherited: one S3 object gateway (``objects``: keys, I/O,
presigned links) shared by ``versions`` (publish, read back verified), ``pointers`` (production
pointer and shadow marker), ``reports`` and ``baselines`` (the drift check's files). The store
itself loads models (sha256-checked, cached per version).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from bantay.stores.connections import DEFAULT_AWS_CONN_ID, s3_hook
from bantay.stores.model_store.drift_files import BaselineFiles, DriftReportFiles
from bantay.stores.model_store.errors import ArtifactCorrupt
from bantay.stores.model_store.objects import MODEL_FILE, S3Objects
from bantay.stores.model_store.pointers import ServingPointers
from bantay.stores.model_store.serialisation import load_model
from bantay.stores.model_store.versions import VersionFiles

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from bantay.settings import Settings

log = logging.getLogger(__name__)


class ModelStore:
    """Versions and the production pointer of models in one S3 bucket under one prefix.

    ``hook`` is the amazon provider's ``S3Hook`` (see ``bantay.stores.connections.s3_hook``):
    it lists, deletes and presigns; its boto3 client (``objects.client``) does the
    single-request gets and the conditional puts the hook has no call for. Storage only:
    the promotion policy (checks, registry, audit) is ``bantay.serving.promotion``.
    Loaded models are cached per (model, version) in this instance (``cache_size`` entries).
    """

    def __init__(
        self,
        hook: S3Hook,
        bucket: str,
        prefix: str,
        *,
        cache_size: int = 4,
    ) -> None:
        self.objects = S3Objects(hook, bucket, prefix)
        self.versions = VersionFiles(self.objects)
        self.pointers = ServingPointers(self.objects, self.versions)
        self.reports = DriftReportFiles(self.objects)
        self.baselines = BaselineFiles(self.objects)
        self._cache: OrderedDict[tuple[str, str], tuple[Any, dict[str, Any]]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    @classmethod
    def from_connection(
        cls,
        bucket: str,
        prefix: str,
        conn_id: str = DEFAULT_AWS_CONN_ID,
    ) -> ModelStore:
        """A store whose hook comes from Airflow connection ``conn_id`` (amazon provider)."""
        return cls(s3_hook(conn_id), bucket, prefix)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(s3://{self.objects.bucket}/{self.objects.prefix}/)"

    # -- loading ---------------------------------------------------------------------------

    def load_version(self, model: str, version: str) -> tuple[Any, dict[str, Any]]:
        """(model object, manifest) of a version; the sha256 is checked before unpickling."""
        return self._load(model, version)

    def _load(
        self, model: str, version: str, manifest: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """``load_version``; a ``manifest`` already read (and checked) is used, not re-read."""
        cache_key = (model, version)
        with self._cache_lock:
            if cache_key in self._cache:
                self._cache.move_to_end(cache_key)
                return self._cache[cache_key]
        if manifest is None:
            manifest = self.versions.manifest(model, version)
        data = self.versions.verified_bytes(model, version, MODEL_FILE, manifest)
        model_obj = load_model(data)
        with self._cache_lock:
            self._cache[cache_key] = (model_obj, manifest)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        log.info(
            "loaded %s", self.objects.uri(self.objects.version_key(model, version, MODEL_FILE))
        )
        return model_obj, manifest

    def load_production(self, model: str) -> tuple[Any, dict[str, Any]]:
        """(model object, manifest) of the version the production pointer names.

        Reads the pointer on every call (so a promotion is picked up at once); the model itself
        is downloaded, checked and unpickled only the first time per version, against the same
        manifest read that was checked against the pointer.
        """
        current = self.pointers.require(model)
        return self._load_named(model, current, self.objects.pointer_key(model), "promote")

    def load_shadow(self, model: str) -> tuple[Any, dict[str, Any], dict[str, Any]] | None:
        """(model object, manifest, marker) of the staged shadow version, or None if none is.

        Checked like production: the manifest must carry the sha256 the marker recorded when
        the version was staged (after its registry checks), and the file must match both, so
        a version rewritten in the bucket after staging is never unpickled. The registry side
        (status, digest recorded at publish) is ``bantay.serving.promotion``'s ``load_shadow``.
        """
        marker = self.pointers.shadow(model)
        if marker is None:
            return None
        fitted, manifest = self._load_named(model, marker, self.objects.shadow_key(model), "shadow")
        return fitted, manifest, marker

    def _load_named(
        self, model: str, named: dict[str, Any], key: str, command: str
    ) -> tuple[Any, dict[str, Any]]:
        """Load the version a pointer or marker at ``key`` names, refusing it unless its
        manifest carries the sha256 the pointer recorded."""
        version = named["version"]
        with self._cache_lock:
            cached = self._cache.get((model, version))
        manifest = cached[1] if cached else self.versions.manifest(model, version)
        expected = manifest.get("files", {}).get(MODEL_FILE, {}).get("sha256")
        if not named.get("sha256") or named.get("sha256") != expected:
            raise ArtifactCorrupt(
                f"{self.objects.uri(key)} names {version} with sha256 "
                f"{str(named.get('sha256'))[:16]}..., but its manifest says "
                f"{str(expected)[:16]}...; refusing to load. Name a verified version again "
                f"(bantay {command} --model {model} --to <version>)"
            )
        return self._load(model, version, manifest)

    def clear_cache(self) -> None:
        """Forget every loaded model (the next load downloads and checks again)."""
        with self._cache_lock:
            self._cache.clear()


def model_store_for(settings: Settings) -> ModelStore:
    """The model store of these settings (bucket, prefix, AWS connection)."""
    storage = settings.storage
    return ModelStore.from_connection(storage.bucket, storage.prefix, storage.aws_conn_id)
