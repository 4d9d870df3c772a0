"""The S3 serving store: immutable model versions and a compare-and-swap production pointer.

Layout under ``<prefix>/models/<model>/`` (the storage contract in DESIGN.md)::

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

import argparse
import base64
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from bantay.connections import DEFAULT_AWS_CONN_ID

if TYPE_CHECKING:
    import pandas as pd
    from botocore.client import BaseClient

    from bantay.registry import Registry

log = logging.getLogger(__name__)

MODEL_FILE = "model.joblib"
REFERENCE_FILE = "reference.parquet"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "production.json"
ARTIFACT_FILES = (MODEL_FILE, REFERENCE_FILE)
PROMOTE, ROLLBACK = "promote", "rollback"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MISSING_KEY = frozenset({"NoSuchKey", "404", "NotFound"})
_PRECONDITION = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_DENIED = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "403"}
)


class ServingStoreError(Exception):
    """Base of every serving-store error; messages say what, where (s3 URI) and what to do."""


class NoProductionVersion(ServingStoreError):
    """The model has versions but none was ever promoted."""


class UnknownModel(ServingStoreError):
    """Nothing at all is stored for this model under the bucket/prefix."""


class UnknownVersion(ServingStoreError):
    """The version does not exist, or is incomplete (its manifest.json is missing)."""


class ArtifactCorrupt(ServingStoreError):
    """A stored file does not hash to the sha256 recorded for it; nothing was unpickled."""


class PromotionConflict(ServingStoreError):
    """The production pointer changed while promoting; another promotion won."""


class VersionExists(ServingStoreError):
    """The version already exists with other contents; versions are immutable."""


class BucketNotFound(ServingStoreError):
    """The configured bucket does not exist at this endpoint."""


class _PreconditionFailed(Exception):
    """Internal: a conditional put lost (HTTP 412/409)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    if hasattr(value, "__fspath__"):
        return os.fspath(value)
    raise TypeError(
        f"manifest value {value!r} of type {type(value).__name__} is not JSON-serialisable; "
        "convert it to str, int, float, bool, list or dict before publishing"
    )


def _dumps(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON (sorted keys), so the same content always gives the same bytes."""
    return (json.dumps(obj, sort_keys=True, indent=2, default=_json_default) + "\n").encode()


def _clean_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not prefix.strip("/"):
        raise ValueError(
            f"S3 prefix {prefix!r} is empty; give a relative key prefix such as 'bantay' "
            "(storage.prefix in bantay.yaml or --prefix)"
        )
    if prefix.startswith("/"):
        raise ValueError(
            f"S3 prefix {prefix!r} starts with '/'; S3 keys are relative: use {prefix.lstrip('/')!r}"
        )
    parts = prefix.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(
            f"S3 prefix {prefix!r} contains an empty, '.' or '..' segment; "
            "use plain segments such as 'bantay/prod'"
        )
    return "/".join(parts)


def _check_name(what: str, value: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{what} {value!r} is not a valid name: use letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (at most 128 characters)"
        )


def _dump_model(model_obj: Any) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(model_obj, buffer)
    return buffer.getvalue()


def _dump_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(
        buffer,
        index=False,
        engine="pyarrow",
        coerce_timestamps="us",
        allow_truncated_timestamps=True,
    )
    return buffer.getvalue()


class ServingStore:
    """Versions and the production pointer of models in one S3 bucket under one prefix.

    ``client`` is a boto3 S3 client (see ``bantay.connections.s3_client``). With a ``registry``,
    promotions are appended to its audit log and version statuses follow the pointer.
    Loaded models are cached per (model, version) in this instance (``cache_size`` entries).
    """

    def __init__(
        self,
        client: BaseClient,
        bucket: str,
        prefix: str,
        registry: Registry | None = None,
        *,
        cache_size: int = 4,
    ) -> None:
        if not isinstance(bucket, str) or not bucket.strip():
            raise ValueError(f"S3 bucket name {bucket!r} is empty; set storage.bucket or --bucket")
        self.client = client
        self.bucket = bucket
        self.prefix = _clean_prefix(prefix)
        self.registry = registry
        self._cache: OrderedDict[tuple[str, str], tuple[Any, dict[str, Any]]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    @classmethod
    def from_connection(
        cls,
        bucket: str,
        prefix: str,
        conn_id: str = DEFAULT_AWS_CONN_ID,
        registry: Registry | None = None,
    ) -> ServingStore:
        """A store whose client comes from Airflow connection ``conn_id`` (amazon provider)."""
        from bantay.connections import s3_client

        return cls(s3_client(conn_id), bucket, prefix, registry)

    def __repr__(self) -> str:
        return f"ServingStore(s3://{self.bucket}/{self.prefix}/)"

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

    def _error(self, exc: Exception, key: str) -> ServingStoreError:
        """Turn a boto error into one a person can act on (never includes credentials)."""
        if isinstance(exc, EndpointConnectionError):
            return ServingStoreError(
                f"cannot reach the S3 endpoint {self.client.meta.endpoint_url} for "
                f"{self.uri(key)}; check endpoint_url in the AWS connection and that the "
                "service is running"
            )
        if not isinstance(exc, ClientError):
            return ServingStoreError(f"S3 request for {self.uri(key)} failed: {exc}")
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code == "NoSuchBucket":
            return BucketNotFound(
                f"S3 bucket {self.bucket!r} does not exist at {self.client.meta.endpoint_url} "
                f"(while accessing {self.uri(key)}); check storage.bucket in bantay.yaml or "
                "--bucket, and the endpoint_url of the AWS connection"
            )
        if code in _DENIED:
            return ServingStoreError(
                f"S3 denied access to {self.uri(key)} ({code}); check the credentials and "
                "permissions of the AWS connection"
            )
        if code in ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"):
            return ServingStoreError(
                f"S3 rejected the upload of {self.uri(key)}: its checksum did not match "
                f"({code}); the bytes were damaged in transit, retry the publish"
            )
        return ServingStoreError(f"S3 error {code} on {self.uri(key)}: {message}")

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

    def _missing_version(self, model: str, version: str) -> ServingStoreError:
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

    def verify_version(self, model: str, version: str) -> dict[str, Any]:
        """Download every file of a version and check its sha256; returns the manifest."""
        manifest = self.read_manifest(model, version)
        missing = [n for n in ARTIFACT_FILES if n not in manifest.get("files", {})]
        if missing:
            raise ArtifactCorrupt(
                f"the manifest {self.uri(self.version_key(model, version, MANIFEST_FILE))} "
                f"lists no {missing}; publish a new version"
            )
        for name in manifest["files"]:
            self._read_verified(model, version, name, manifest)
        return manifest

    def _pointer_with_etag(self, model: str) -> tuple[dict[str, Any] | None, str | None]:
        _check_name("model", model)
        found = self._get(self.pointer_key(model))
        if found is None:
            return None, None
        body, etag = found
        try:
            return json.loads(body), etag
        except ValueError as exc:
            raise ServingStoreError(
                f"{self.uri(self.pointer_key(model))} is not valid JSON ({exc}); repair it by "
                f"promoting a known-good version (bantay promote --model {model} --to <version>)"
            ) from None

    def pointer(self, model: str) -> dict[str, Any] | None:
        """The production pointer of ``model``, or None if nothing was ever promoted."""
        return self._pointer_with_etag(model)[0]

    def _require_pointer(self, model: str) -> dict[str, Any]:
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

    def stage_shadow(self, model: str, version: str, actor: str, reason: str) -> dict[str, Any]:
        """Score ``version`` beside production (never instead of it) until cleared."""
        manifest = self.verify_version(model, version)
        body = {
            "model": model,
            "version": version,
            "sha256": manifest["files"][MODEL_FILE]["sha256"],
            "staged_at": dt.datetime.now(dt.UTC).isoformat(),
            "staged_by": actor,
            "reason": reason,
        }
        self._put(
            self.shadow_key(model),
            json.dumps(body).encode(),
            content_type="application/json",
            overwrite=True,
        )
        return body

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
        """A time-limited HTTPS link to an object of this bucket, for people without S3 access."""
        key = uri.removeprefix(f"s3://{self.bucket}/")
        return self.client.generate_presigned_url(
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
        current = self._require_pointer(model)
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
        import pandas as pd

        _check_name("model", model)
        _check_name("version", version)
        if not isinstance(reference, pd.DataFrame):
            raise TypeError(
                f"reference for {model} {version} must be a pandas DataFrame, "
                f"got {type(reference).__name__}"
            )
        for key, expected in (("model", model), ("version", version)):
            if key in manifest and manifest[key] != expected:
                raise ValueError(
                    f"manifest[{key!r}] is {manifest[key]!r} but publishing {key} {expected!r}; "
                    "leave it out (the store sets it) or make them agree"
                )
        if "files" in manifest:
            raise ValueError("manifest['files'] is set by the store; leave it out")

        bodies = {MODEL_FILE: _dump_model(model_obj), REFERENCE_FILE: _dump_parquet(reference)}
        files = {name: {"sha256": _sha256(b), "bytes": len(b)} for name, b in bodies.items()}
        final = {**dict(manifest), "model": model, "version": version, "files": files}
        manifest_bytes = _dumps(final)
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
            "new version id (bantay.registry.new_version_id)"
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
            "(bantay.registry.new_version_id)"
        )

    # -- promotion -------------------------------------------------------------------------

    def promote(
        self, model: str, version: str, actor: str, reason: str, kind: str = PROMOTE
    ) -> dict[str, Any]:
        """Point production at ``version`` by compare-and-swap; returns the new pointer.

        Checks first: the version is complete and every file matches its sha256; with a
        registry, its status allows serving (approved, production, or archived for rollback).
        Promoting the version that is already production changes nothing (retry-safe) but makes
        sure the registry agrees. Losing a race raises ``PromotionConflict``.
        """
        _check_name("model", model)
        _check_name("version", version)
        if kind not in (PROMOTE, ROLLBACK):
            raise ValueError(f"promotion kind {kind!r} is not one of {[PROMOTE, ROLLBACK]}")
        if not actor or not str(actor).strip():
            raise ValueError("promote needs an actor: a person's name or the DAG run id")
        if not reason or not str(reason).strip():
            raise ValueError("promote needs a reason: why this version, why now")
        self._check_registry_allows(model, version)
        manifest = self.verify_version(model, version)
        current, etag = self._pointer_with_etag(model)
        if current is not None and current.get("version") == version:
            log.info("%s %s is already production; pointer unchanged", model, version)
            self._sync_registry(model, current.get("previous"), version, actor, reason, kind)
            return current
        new_pointer = {
            "model": model,
            "version": version,
            "sha256": manifest["files"][MODEL_FILE]["sha256"],
            "promoted_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "promoted_by": actor,
            "reason": reason,
            "kind": kind,
            "previous": current.get("version") if current else None,
        }
        try:
            self._put(
                self.pointer_key(model),
                _dumps(new_pointer),
                content_type="application/json",
                if_match=etag,
            )
        except _PreconditionFailed:
            now = self.pointer(model) or {}
            raise PromotionConflict(
                f"promotion of {model} to {version} lost a race: "
                f"{self.uri(self.pointer_key(model))} changed while promoting. Production is "
                f"now {now.get('version', 'unknown')} (by {now.get('promoted_by', 'unknown')} at "
                f"{now.get('promoted_at', 'unknown')}). Check it and retry if still wanted"
            ) from None
        log.info(
            "%s %s: production %s -> %s by %s",
            kind,
            model,
            new_pointer["previous"],
            version,
            actor,
        )
        self._sync_registry(model, new_pointer["previous"], version, actor, reason, kind)
        return new_pointer

    def rollback(
        self,
        model: str,
        to_version: str | None = None,
        *,
        actor: str,
        reason: str,
    ) -> dict[str, Any]:
        """Point production back at ``to_version`` (default: the pointer's ``previous``).

        The target is verified like any promotion. Rolling back twice without ``to_version``
        toggles between the last two versions, because each swap records its ``previous``.
        """
        current = self._require_pointer(model)
        target = to_version or current.get("previous")
        if not target:
            raise ServingStoreError(
                f"model {model!r} has no previous production version recorded in "
                f"{self.uri(self.pointer_key(model))}; name one with --to (versions: "
                f"{self.list_versions(model)[-5:]})"
            )
        return self.promote(model, target, actor=actor, reason=reason, kind=ROLLBACK)

    def _check_registry_allows(self, model: str, version: str) -> None:
        if self.registry is None:
            return
        from bantay.registry import ModelStatus

        record = self.registry.get_version(model, version)
        servable = {ModelStatus.APPROVED, ModelStatus.PRODUCTION, ModelStatus.ARCHIVED}
        if record is not None and record.status not in servable:
            raise ServingStoreError(
                f"refusing to promote {model} {version}: its registry status is "
                f"{record.status.value!r}; only approved versions (or archived ones, to roll "
                "back) can serve. Approve it first"
            )

    def _sync_registry(
        self,
        model: str,
        previous: str | None,
        version: str,
        actor: str,
        reason: str,
        kind: str,
    ) -> None:
        """Audit the swap and make registry statuses follow the pointer (idempotent)."""
        if self.registry is None:
            return
        from bantay.registry import ModelStatus

        try:
            log_entries = self.registry.promotions(model)
            if not log_entries or log_entries[-1].to_version != version:
                self.registry.record_promotion(
                    model,
                    version,
                    from_version=previous,
                    actor=actor,
                    reason=reason,
                    kind=kind,
                )
            if self.registry.get_version(model, version) is not None:
                self.registry.set_status(model, version, ModelStatus.PRODUCTION)
            else:
                old = self.registry.production_version(model)
                if old is not None:
                    self.registry.set_status(model, old.version, ModelStatus.ARCHIVED)
        except Exception as exc:
            raise ServingStoreError(
                f"production of {model} now points at {version}, but updating the registry "
                f"failed ({type(exc).__name__}: {exc}); re-run the same promotion to reconcile "
                "(promoting the current production version only syncs the registry)"
            ) from exc


# ------------------------------------------------------------------------------------------
# CLI (wired into bantay.cli by the lead)
# ------------------------------------------------------------------------------------------


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``promote``, ``rollback`` and ``pointer`` on an argparse sub-parser set.

    Each sub-command sets ``func``; call ``sys.exit(args.func(args))``.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", required=True, help="model name, e.g. learner_risk")
    common.add_argument("--bucket", help="S3 bucket (default: storage.bucket from settings)")
    common.add_argument("--prefix", help="S3 key prefix (default: storage.prefix from settings)")
    common.add_argument(
        "--conn-id", help="Airflow AWS connection id (default: storage.aws_conn_id)"
    )
    changing = argparse.ArgumentParser(add_help=False)
    changing.add_argument("--reason", required=True, help="why; recorded in the audit log")
    changing.add_argument(
        "--actor",
        default=os.environ.get("USER") or "unknown",
        help="who is doing this (default: $USER)",
    )

    p = subparsers.add_parser(
        "promote",
        parents=[common, changing],
        help="point production at a verified version",
        description="Verify a version's sha256s, then swap the production pointer to it.",
    )
    p.add_argument("--to", required=True, help="version to promote")
    p.set_defaults(func=_cmd_promote)

    p = subparsers.add_parser(
        "rollback",
        parents=[common, changing],
        help="point production back at the previous (or a named) version",
        description="Verify the target, then swap the production pointer back to it.",
    )
    p.add_argument("--to", help="version to roll back to (default: the pointer's previous)")
    p.set_defaults(func=_cmd_rollback)

    p = subparsers.add_parser(
        "pointer", parents=[common], help="print the production pointer as JSON"
    )
    p.set_defaults(func=_cmd_pointer)

    p = subparsers.add_parser(
        "shadow",
        parents=[common, changing],
        help="score a version beside production (or --clear)",
        description="Stage a verified version as shadow: bantay_scoring scores it beside production.",
    )
    p.add_argument("--to", help="version to shadow")
    p.add_argument("--clear", action="store_true", help="stop shadow scoring")
    p.set_defaults(func=_cmd_shadow)


def _store_from_args(args: argparse.Namespace, with_registry: bool) -> ServingStore:
    bucket, prefix, conn_id = args.bucket, args.prefix, args.conn_id
    if bucket is None or prefix is None or conn_id is None:
        from bantay.config import get_settings

        storage = get_settings().storage
        bucket = bucket or storage.bucket
        prefix = prefix or storage.prefix
        conn_id = conn_id or storage.aws_conn_id
    registry = None
    if with_registry:
        from bantay.registry import Registry

        registry = Registry.from_connection()
        registry.upgrade()
    return ServingStore.from_connection(bucket, prefix, conn_id=conn_id, registry=registry)


def _run(action: Any) -> int:
    from bantay.registry import RegistryError

    try:
        result = action()
    except (ServingStoreError, RegistryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


def _cmd_promote(args: argparse.Namespace) -> int:
    return _run(
        lambda: _store_from_args(args, True).promote(
            args.model, args.to, actor=args.actor, reason=args.reason
        )
    )


def _cmd_rollback(args: argparse.Namespace) -> int:
    return _run(
        lambda: _store_from_args(args, True).rollback(
            args.model, args.to, actor=args.actor, reason=args.reason
        )
    )


def _cmd_pointer(args: argparse.Namespace) -> int:
    return _run(lambda: _store_from_args(args, False)._require_pointer(args.model))


def _cmd_shadow(args: argparse.Namespace) -> int:
    store = _store_from_args(args, False)
    if args.clear:
        return _run(lambda: store.clear_shadow(args.model) or {"shadow": None})
    if not args.to:
        print("error: give --to VERSION, or --clear", file=sys.stderr)
        return 2
    return _run(
        lambda: store.stage_shadow(args.model, args.to, actor=args.actor, reason=args.reason)
    )
