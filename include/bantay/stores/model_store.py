"""The S3 serving store: immutable model versions and a compare-and-swap production pointer.

Layout under ``<prefix>/models/<model>/`` (the storage contract in README.md)::

    versions/<version>/model.joblib       written with If-None-Match: *
    versions/<version>/reference.parquet  written with If-None-Match: *
    versions/<version>/manifest.json      written LAST: a version is complete iff it exists
    production.json                       {model, version, sha256, promoted_at, promoted_by,
                                           reason, kind, previous}; replaced only with If-Match

Guarantees:

* Serving never sees a half-written model: the pointer may only name a complete version whose
  files hash to the sha256 in its manifest (checked by download before every pointer swap).
* Nothing is unpickled before its sha256 matches the manifest (and, for production, the pointer).
* Two promotions racing on the pointer: S3 lets exactly one conditional write win; the other
  raises ``PromotionConflict`` naming who is production now.
* Publishing is retry-safe: re-publishing a version with byte-identical contents (same manifest,
  same files) is a no-op that returns the stored manifest; anything else is ``VersionExists``.

Every put sends ``ChecksumAlgorithm="SHA256"`` with the precomputed ``ChecksumSHA256``, so S3
itself rejects bytes damaged in transit (the local moto endpoint accepts the header but does not
verify it; our own sha256 check on read covers that case everywhere).

The store is put together from one part per concern: keys and S3 I/O
(``model_store_objects``), versions published and read back verified (``model_store_versions``),
the pointer and shadow marker (``model_store_pointer``); errors and helpers are in
``model_store_io``. This class adds model loading (with its cache) and drift report files.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bantay.stores.connections import DEFAULT_AWS_CONN_ID
from bantay.stores.model_store_io import (  # noqa: F401  (re-exported: callers import errors here)
    MODEL_FILE,
    REFERENCE_FILE,
    ArtifactCorrupt,
    BucketNotFound,
    ModelStoreError,
    NoProductionVersion,
    PointerChanged,
    PromotionConflict,
    UnknownModel,
    UnknownVersion,
    VersionExists,
    _dump_parquet,
    _sha256,
    _sigv4,
)
from bantay.stores.model_store_pointer import ServingPointers

if TYPE_CHECKING:
    import pandas as pd
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from bantay.settings import Settings

log = logging.getLogger(__name__)


class ModelStore(ServingPointers):
    """Versions and the production pointer of models in one S3 bucket under one prefix.

    ``hook`` is the amazon provider's ``S3Hook`` (see ``bantay.stores.connections.s3_hook``):
    it lists, deletes and presigns; its boto3 client (``client``) does the single-request gets
    and the conditional puts the hook has no call for. Storage only:
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
        super().__init__(hook, bucket, prefix)
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
        from bantay.stores.connections import s3_hook

        return cls(s3_hook(conn_id), bucket, prefix)

    # -- drift reports ---------------------------------------------------------------------

    def put_report(self, model: str, day: str, name: str, body: bytes, content_type: str) -> str:
        """Write one file of a day's drift report (a re-run of the day replaces it)."""
        key = self.report_key(model, day, name)
        self._put(key, body, content_type=content_type, overwrite=True)
        return self.uri(key)

    def presigned_url(self, uri: str, expires_seconds: int) -> str:
        """A time-limited HTTPS link to an object of this bucket, for people without S3 access.

        Always Signature Version 4: buckets created since mid-2020 and newer regions refuse
        SigV2 links, which older defaults produce."""
        key = uri.removeprefix(f"s3://{self.bucket}/")
        try:
            url = _sigv4(self.hook).generate_presigned_url(
                "get_object", params={"Bucket": self.bucket, "Key": key}, expires_in=expires_seconds
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, key) from None
        if url is None:  # the hook logs S3's reason and answers None
            raise ModelStoreError(
                f"could not presign a link to {self.uri(key)} at {self.client.meta.endpoint_url} "
                "(the reason is logged above); check the credentials and region of the AWS "
                "connection"
            )
        return url

    # -- loading ---------------------------------------------------------------------------

    def load_version(self, model: str, version: str) -> tuple[Any, dict[str, Any]]:
        """(model object, manifest) of a version; the sha256 is checked before unpickling."""
        return self._load(model, version)

    def _load(
        self, model: str, version: str, manifest: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """``load_version``; a ``manifest`` already read (and checked) is used, not re-read."""
        import joblib

        cache_key = (model, version)
        with self._cache_lock:
            if cache_key in self._cache:
                self._cache.move_to_end(cache_key)
                return self._cache[cache_key]
        if manifest is None:
            manifest = self.read_manifest(model, version)
        data = self._read_verified(model, version, MODEL_FILE, manifest)
        model_obj = joblib.load(io.BytesIO(data))
        with self._cache_lock:
            self._cache[cache_key] = (model_obj, manifest)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        log.info("loaded %s", self.uri(self.version_key(model, version, MODEL_FILE)))
        return model_obj, manifest

    def load_production(self, model: str) -> tuple[Any, dict[str, Any]]:
        """(model object, manifest) of the version the production pointer names.

        Reads the pointer on every call (so a promotion is picked up at once); the model itself
        is downloaded, checked and unpickled only the first time per version, against the same
        manifest read that was checked against the pointer.
        """
        current = self.require_pointer(model)
        return self._load_named(model, current, self.pointer_key(model), "promote")

    def load_shadow(self, model: str) -> tuple[Any, dict[str, Any], dict[str, Any]] | None:
        """(model object, manifest, marker) of the staged shadow version, or None if none is.

        Checked like production: the manifest must carry the sha256 the marker recorded when
        the version was staged (after its registry checks), and the file must match both, so
        a version rewritten in the bucket after staging is never unpickled. The registry side
        (status, digest recorded at publish) is ``bantay.serving.promotion``'s ``load_shadow``.
        """
        marker = self.shadow(model)
        if marker is None:
            return None
        fitted, manifest = self._load_named(model, marker, self.shadow_key(model), "shadow")
        return fitted, manifest, marker

    def _load_named(
        self, model: str, named: dict[str, Any], key: str, command: str
    ) -> tuple[Any, dict[str, Any]]:
        """Load the version a pointer or marker at ``key`` names, refusing it unless its
        manifest carries the sha256 the pointer recorded."""
        version = named["version"]
        with self._cache_lock:
            cached = self._cache.get((model, version))
        manifest = cached[1] if cached else self.read_manifest(model, version)
        expected = manifest.get("files", {}).get(MODEL_FILE, {}).get("sha256")
        if not named.get("sha256") or named.get("sha256") != expected:
            raise ArtifactCorrupt(
                f"{self.uri(key)} names {version} with sha256 "
                f"{str(named.get('sha256'))[:16]}..., but its manifest says "
                f"{str(expected)[:16]}...; refusing to load. Name a verified version again "
                f"(bantay {command} --model {model} --to <version>)"
            )
        return self._load(model, version, manifest)

    def read_reference(self, model: str, version: str) -> pd.DataFrame:
        """The drift reference sample stored with a version (sha256-checked)."""
        import pandas as pd

        manifest = self.read_manifest(model, version)
        data = self._read_verified(model, version, REFERENCE_FILE, manifest)
        return pd.read_parquet(io.BytesIO(data))

    def put_baseline(
        self, model: str, version: str, stamp: str, frame: pd.DataFrame
    ) -> dict[str, Any]:
        """Store a re-baseline reference of ``version`` (immutable, keyed on ``stamp``);
        returns its ``uri``, ``sha256`` and ``rows``. The registry row that records it is what
        makes it count (see ``bantay.stores.registry_history.BaselineLog``)."""
        body = _dump_parquet(frame)
        key = self.version_key(model, version, f"baselines/{stamp}.parquet")
        self._put(key, body, content_type="application/octet-stream")
        return {"uri": self.uri(key), "sha256": _sha256(body), "rows": len(frame)}

    def read_baseline(self, uri: str, sha256: str) -> pd.DataFrame:
        """A re-baseline reference, checked against the sha256 its registry row recorded."""
        import pandas as pd

        key = uri.removeprefix(f"s3://{self.bucket}/")
        found = self._get(key)
        if found is None or _sha256(found[0]) != sha256:
            raise ArtifactCorrupt(
                f"re-baseline reference {uri} is "
                f"{'missing' if found is None else 'not the file its registry row recorded'}; "
                "the drift check cannot trust it: re-baseline again (bantay rebaseline)"
            )
        return pd.read_parquet(io.BytesIO(found[0]))

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()


def model_store_for(settings: Settings) -> ModelStore:
    """The model store of these settings (bucket, prefix, AWS connection)."""
    storage = settings.storage
    return ModelStore.from_connection(storage.bucket, storage.prefix, storage.aws_conn_id)
