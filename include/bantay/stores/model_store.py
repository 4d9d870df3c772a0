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
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from bantay.stores.connections import DEFAULT_AWS_CONN_ID
from bantay.stores.model_store_io import (  # noqa: F401  (re-exported: callers import errors here)
    _DENIED,
    _MISSING_KEY,
    _PRECONDITION,
    ArtifactCorrupt,
    BucketNotFound,
    ModelStoreError,
    NoProductionVersion,
    PointerChanged,
    PointerState,
    PromotionConflict,
    UnknownModel,
    UnknownVersion,
    VersionExists,
    _check_name,
    _clean_prefix,
    _dump_model,
    _dump_parquet,
    _dumps,
    _PreconditionFailed,
    _sha256,
    _sigv4,
    check_publish,
    s3_error,
)

if TYPE_CHECKING:
    import pandas as pd
    from botocore.client import BaseClient

    from bantay.settings import Settings

log = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
REFERENCE_FILE = "reference.parquet"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "production.json"
ARTIFACT_FILES = (MODEL_FILE, REFERENCE_FILE)
PROMOTE, ROLLBACK = "promote", "rollback"


class ModelStore:
    """Versions and the production pointer of models in one S3 bucket under one prefix.

    ``client`` is a boto3 S3 client (see ``bantay.stores.connections.s3_client``). Storage only:
    the promotion policy (checks, registry, audit) is ``bantay.serving.promotion``.
    Loaded models are cached per (model, version) in this instance (``cache_size`` entries).
    """

    def __init__(
        self,
        client: BaseClient,
        bucket: str,
        prefix: str,
        *,
        cache_size: int = 4,
    ) -> None:
        if not isinstance(bucket, str) or not bucket.strip():
            raise ValueError(f"S3 bucket name {bucket!r} is empty; set storage.bucket or --bucket")
        self.client = client
        self.bucket = bucket
        self.prefix = _clean_prefix(prefix)
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
        """A store whose client comes from Airflow connection ``conn_id`` (amazon provider)."""
        from bantay.stores.connections import s3_client

        return cls(s3_client(conn_id), bucket, prefix)

    def __repr__(self) -> str:
        return f"ModelStore(s3://{self.bucket}/{self.prefix}/)"

    # -- keys ------------------------------------------------------------------------------

    def model_root(self, model: str) -> str:
        return f"{self.prefix}/models/{model}/"

    def version_key(self, model: str, version: str, name: str) -> str:
        return f"{self.model_root(model)}versions/{version}/{name}"

    def pointer_key(self, model: str) -> str:
        return f"{self.model_root(model)}{POINTER_FILE}"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    # -- raw S3 I/O ------------------------------------------------------------------------

    def _error(self, exc: Exception, key: str) -> ModelStoreError:
        return s3_error(exc, self.uri(key), self.bucket, self.client.meta.endpoint_url)

    def _get(self, key: str) -> tuple[bytes, str] | None:
        """(body, ETag) of ``key``, or None if there is no such object."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), response["ETag"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_KEY:
                return None
            raise self._error(exc, key) from None
        except BotoCoreError as exc:
            raise self._error(exc, key) from None

    def _put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str,
        if_match: str | None = None,
        overwrite: bool = False,
    ) -> str:
        """Conditional put: create-only unless ``if_match`` (an ETag) is given, or plain
        replacement with ``overwrite`` (reports and the shadow marker). Returns the ETag."""
        condition: dict[str, str] = {}
        if not overwrite:
            condition = {"IfMatch": if_match} if if_match else {"IfNoneMatch": "*"}
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        try:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                **condition,
            )
            return response["ETag"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if error.get("Code") in _PRECONDITION or status in (409, 412):
                raise _PreconditionFailed(key) from None
            raise self._error(exc, key) from None
        except BotoCoreError as exc:
            raise self._error(exc, key) from None

    def _list(self, prefix: str, delimiter: str | None = None) -> tuple[list[str], list[str]]:
        """(keys, common prefixes) under ``prefix``."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        keys: list[str] = []
        prefixes: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
                prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, prefix) from None
        return keys, prefixes

    # -- reading ---------------------------------------------------------------------------

    def models(self) -> list[str]:
        """Names of every model with anything stored under this prefix."""
        _, prefixes = self._list(f"{self.prefix}/models/", delimiter="/")
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in prefixes)

    def _model_exists(self, model: str) -> bool:
        try:
            response = self.client.list_objects_v2(
                Bucket=self.bucket, Prefix=self.model_root(model), MaxKeys=1
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, self.model_root(model)) from None
        return response.get("KeyCount", 0) > 0

    def _unknown_model(self, model: str) -> UnknownModel:
        return UnknownModel(
            f"unknown model {model!r}: nothing is stored under "
            f"{self.uri(self.model_root(model))}; models here: {self.models() or 'none'}. "
            "Check the model name, bucket and prefix"
        )

    def list_versions(self, model: str) -> list[str]:
        """Complete versions of ``model`` (those with a manifest), oldest id first."""
        _check_name("model", model)
        keys, _ = self._list(f"{self.model_root(model)}versions/")
        suffix = f"/{MANIFEST_FILE}"
        return sorted(k[: -len(suffix)].rsplit("/", 1)[-1] for k in keys if k.endswith(suffix))

    def _missing_version(self, model: str, version: str) -> ModelStoreError:
        partial, _ = self._list(f"{self.model_root(model)}versions/{version}/")
        if partial:
            names = sorted(k.rsplit("/", 1)[-1] for k in partial)
            return UnknownVersion(
                f"version {version!r} of model {model!r} is incomplete: "
                f"{self.uri(self.version_key(model, version, MANIFEST_FILE))} is missing "
                f"(found only {names}; a publish was interrupted). It cannot be loaded or "
                "promoted: publish it again, or publish a new version"
            )
        if not self._model_exists(model):
            return self._unknown_model(model)
        available = self.list_versions(model)
        return UnknownVersion(
            f"unknown version {version!r} of model {model!r} under "
            f"{self.uri(self.model_root(model))}; available versions: "
            f"{available[-10:] or 'none'}"
        )

    def read_manifest(self, model: str, version: str) -> dict[str, Any]:
        """The manifest of a complete version (``UnknownVersion`` if missing or incomplete)."""
        _check_name("model", model)
        _check_name("version", version)
        found = self._get(self.version_key(model, version, MANIFEST_FILE))
        if found is None:
            raise self._missing_version(model, version)
        try:
            return json.loads(found[0])
        except ValueError as exc:
            raise ArtifactCorrupt(
                f"{self.uri(self.version_key(model, version, MANIFEST_FILE))} is not valid JSON "
                f"({exc}); the version cannot be trusted: publish a new version"
            ) from None

    def _read_verified(
        self, model: str, version: str, name: str, manifest: dict[str, Any]
    ) -> bytes:
        """The bytes of one file of a version, after checking them against the manifest."""
        key = self.version_key(model, version, name)
        entry = manifest.get("files", {}).get(name)
        if not entry or "sha256" not in entry:
            raise ArtifactCorrupt(
                f"the manifest of {model} {version} records no sha256 for {name}; refusing to "
                f"read {self.uri(key)}. Publish a new version"
            )
        found = self._get(key)
        if found is None:
            raise ArtifactCorrupt(
                f"{self.uri(key)} is missing although the manifest of {model} {version} lists "
                f"it; roll back (bantay rollback --model {model}) and publish a new version"
            )
        data = found[0]
        actual = _sha256(data)
        if actual != entry["sha256"] or len(data) != entry.get("bytes", len(data)):
            raise ArtifactCorrupt(
                f"refusing to load {self.uri(key)}: its sha256 {actual[:16]}... ({len(data)} "
                f"bytes) does not match the manifest ({entry['sha256'][:16]}..., "
                f"{entry.get('bytes')} bytes); the object changed after it was published. "
                f"Roll back (bantay rollback --model {model}) and publish a new version"
            )
        return data

    def verify_version(
        self, model: str, version: str, expected_sha256: str | None = None
    ) -> dict[str, Any]:
        """Download every file of a version and check its sha256; returns the manifest.

        ``expected_sha256`` (the model file's hash recorded at publish, outside S3) anchors the
        manifest itself: a consistent rewrite of model and manifest is refused too."""
        manifest = self.read_manifest(model, version)
        recorded = manifest.get("files", {}).get(MODEL_FILE, {}).get("sha256")
        if expected_sha256 is not None and recorded != expected_sha256:
            raise ArtifactCorrupt(
                f"the manifest {self.uri(self.version_key(model, version, MANIFEST_FILE))} says "
                f"{MODEL_FILE} has sha256 {str(recorded)[:16]}..., but {expected_sha256[:16]}... "
                "was recorded when the version was published: model and manifest were rewritten "
                f"after publishing. Nothing was unpickled; roll back to another version and "
                "publish a new one"
            )
        missing = [n for n in ARTIFACT_FILES if n not in manifest.get("files", {})]
        if missing:
            raise ArtifactCorrupt(
                f"the manifest {self.uri(self.version_key(model, version, MANIFEST_FILE))} "
                f"lists no {missing}; publish a new version"
            )
        for name in manifest["files"]:
            self._read_verified(model, version, name, manifest)
        return manifest

    def read_pointer(self, model: str) -> PointerState:
        """The pointer with its ETag; a stored object that is not a valid pointer is reported
        (``corrupt``), not raised, so that a promotion can replace it conditionally."""
        _check_name("model", model)
        found = self._get(self.pointer_key(model))
        if found is None:
            return PointerState(None, None)
        body, etag = found
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            return PointerState(None, etag, f"not valid JSON ({str(exc)[:80]})")
        if not isinstance(parsed, dict) or not isinstance(parsed.get("version"), str):
            return PointerState(None, etag, "valid JSON but no 'version' string")
        return PointerState(parsed, etag)

    def _pointer_with_etag(self, model: str) -> tuple[dict[str, Any] | None, str | None]:
        state = self.read_pointer(model)
        if state.corrupt:
            raise ModelStoreError(
                f"{self.uri(self.pointer_key(model))} is {state.corrupt}; repair it by "
                f"promoting a known-good version (bantay promote --model {model} --to <version>)"
            )
        return state.pointer, state.etag

    def put_pointer(self, model: str, pointer: Mapping[str, Any], etag: str | None) -> str:
        """Write the pointer only if it is still the object with ``etag`` (None: only if there
        is none yet). Raises ``PointerChanged`` when another writer got there first."""
        try:
            return self._put(
                self.pointer_key(model),
                _dumps(pointer),
                content_type="application/json",
                if_match=etag,
            )
        except _PreconditionFailed:
            raise PointerChanged(f"{self.uri(self.pointer_key(model))} changed") from None

    def pointer(self, model: str) -> dict[str, Any] | None:
        """The production pointer of ``model``, or None if nothing was ever promoted."""
        return self._pointer_with_etag(model)[0]

    def require_pointer(self, model: str) -> dict[str, Any]:
        current = self.pointer(model)
        if current is not None:
            return current
        if not self._model_exists(model):
            raise self._unknown_model(model)
        raise NoProductionVersion(
            f"model {model!r} has no production version yet: "
            f"{self.uri(self.pointer_key(model))} does not exist. Promote one of "
            f"{self.list_versions(model)[-5:] or 'its versions'} "
            f"(bantay promote --model {model} --to <version>)"
        )

    # -- shadow deployment and reports ------------------------------------------------------

    def shadow_key(self, model: str) -> str:
        return f"{self.model_root(model)}shadow.json"

    def put_shadow(self, model: str, body: Mapping[str, Any]) -> None:
        """Write the shadow marker (policy and checks: ``bantay.serving.promotion``)."""
        self._put(
            self.shadow_key(model),
            json.dumps(dict(body)).encode(),
            content_type="application/json",
            overwrite=True,
        )

    def shadow(self, model: str) -> dict[str, Any] | None:
        found = self._get(self.shadow_key(model))
        return json.loads(found[0]) if found else None

    def clear_shadow(self, model: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.shadow_key(model))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, self.shadow_key(model)) from None

    def report_key(self, model: str, day: str, name: str) -> str:
        return f"{self.prefix}/reports/drift/{model}/{day}/{name}"

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
        return _sigv4(self.client).generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_seconds
        )

    def load_version(self, model: str, version: str) -> tuple[Any, dict[str, Any]]:
        """(model object, manifest) of a version; the sha256 is checked before unpickling."""
        import joblib

        cache_key = (model, version)
        with self._cache_lock:
            if cache_key in self._cache:
                self._cache.move_to_end(cache_key)
                return self._cache[cache_key]
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
        is downloaded, checked and unpickled only the first time per version.
        """
        current = self.require_pointer(model)
        version = current["version"]
        with self._cache_lock:
            cached = self._cache.get((model, version))
        manifest = cached[1] if cached else self.read_manifest(model, version)
        expected = manifest.get("files", {}).get(MODEL_FILE, {}).get("sha256")
        if current.get("sha256") != expected:
            raise ArtifactCorrupt(
                f"{self.uri(self.pointer_key(model))} names {version} with sha256 "
                f"{str(current.get('sha256'))[:16]}..., but its manifest says "
                f"{str(expected)[:16]}...; refusing to load. Re-promote a verified version "
                f"(bantay promote --model {model} --to <version>)"
            )
        return self.load_version(model, version)

    def read_reference(self, model: str, version: str) -> pd.DataFrame:
        """The drift reference sample stored with a version (sha256-checked)."""
        import pandas as pd

        manifest = self.read_manifest(model, version)
        data = self._read_verified(model, version, REFERENCE_FILE, manifest)
        return pd.read_parquet(io.BytesIO(data))

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    # -- publishing ------------------------------------------------------------------------

    def publish(
        self,
        model: str,
        version: str,
        model_obj: Any,
        manifest: Mapping[str, Any],
        reference: pd.DataFrame,
    ) -> dict[str, Any]:
        """Upload an immutable version: files first, ``manifest.json`` last. Returns the manifest.

        The stored manifest is ``manifest`` plus ``model``, ``version`` and ``files``
        (``{name: {sha256, bytes}}``). Re-publishing identical contents (a retried task) is a
        no-op; different contents under an existing version raise ``VersionExists``.
        """
        check_publish(model, version, manifest, reference)
        bodies = {MODEL_FILE: _dump_model(model_obj), REFERENCE_FILE: _dump_parquet(reference)}
        files = {name: {"sha256": _sha256(b), "bytes": len(b)} for name, b in bodies.items()}
        manifest_bytes = _dumps(
            {**dict(manifest), "model": model, "version": version, "files": files}
        )
        manifest_key = self.version_key(model, version, MANIFEST_FILE)

        existing = self._get(manifest_key)
        if existing is not None:
            return self._same_or_exists(model, version, existing[0], manifest_bytes)
        for name, body in bodies.items():
            self._put_immutable(model, version, name, body)
        try:
            self._put(manifest_key, manifest_bytes, content_type="application/json")
        except _PreconditionFailed:
            existing = self._get(manifest_key)
            return self._same_or_exists(
                model, version, existing[0] if existing else b"", manifest_bytes
            )
        log.info("published %s", self.uri(manifest_key))
        return json.loads(manifest_bytes)

    def _put_immutable(self, model: str, version: str, name: str, body: bytes) -> None:
        key = self.version_key(model, version, name)
        content_type = "application/octet-stream"
        try:
            self._put(key, body, content_type=content_type)
            return
        except _PreconditionFailed:
            pass
        existing = self._get(key)
        if existing is not None and _sha256(existing[0]) == _sha256(body):
            log.info("%s already uploaded with identical bytes (retried publish)", self.uri(key))
            return
        raise VersionExists(
            f"{self.uri(key)} already exists with different contents (left by an interrupted or "
            f"concurrent publish of {model} {version}); versions are immutable: publish under a "
            "new version id (bantay.stores.registry.new_version_id)"
        )

    def _same_or_exists(
        self, model: str, version: str, stored: bytes, wanted: bytes
    ) -> dict[str, Any]:
        key = self.version_key(model, version, MANIFEST_FILE)
        if stored == wanted:
            log.info("%s already published with identical contents; nothing to do", self.uri(key))
            return json.loads(stored)
        raise VersionExists(
            f"version {version!r} of model {model!r} already exists ({self.uri(key)}) with "
            "different contents, and versions are immutable; publish under a new version id "
            "(bantay.stores.registry.new_version_id)"
        )


def model_store_for(settings: Settings) -> ModelStore:
    """The model store of these settings (bucket, prefix, AWS connection)."""
    storage = settings.storage
    return ModelStore.from_connection(storage.bucket, storage.prefix, storage.aws_conn_id)
