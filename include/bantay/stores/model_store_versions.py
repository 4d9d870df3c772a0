"""Immutable model versions in S3: publishing (files first, the manifest last) and reading
them back only after every byte matches the sha256 the manifest records."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bantay.stores.model_store_io import (
    ARTIFACT_FILES,
    MANIFEST_FILE,
    MODEL_FILE,
    REFERENCE_FILE,
    ArtifactCorrupt,
    ModelStoreError,
    UnknownModel,
    UnknownVersion,
    VersionExists,
    _dump_model,
    _dump_parquet,
    _dumps,
    _PreconditionFailed,
    _sha256,
    check_publish,
)
from bantay.stores.model_store_objects import S3Objects
from bantay.vocabulary import check_name

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


class VersionFiles(S3Objects):
    """Publish and read the files of immutable versions, checked against their manifest."""

    # -- reading and verification ----------------------------------------------------------

    def models(self) -> list[str]:
        """Names of every model with anything stored under this prefix."""
        prefixes = self._prefixes(f"{self.prefix}/models/")
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in prefixes)

    def _model_exists(self, model: str) -> bool:
        return bool(self._keys(self.model_root(model), first_only=True))

    def _unknown_model(self, model: str) -> UnknownModel:
        return UnknownModel(
            f"unknown model {model!r}: nothing is stored under "
            f"{self.uri(self.model_root(model))}; models here: {self.models() or 'none'}. "
            "Check the model name, bucket and prefix"
        )

    def list_versions(self, model: str) -> list[str]:
        """Complete versions of ``model`` (those with a manifest), oldest id first."""
        check_name("model", model)
        keys = self._keys(f"{self.model_root(model)}versions/")
        suffix = f"/{MANIFEST_FILE}"
        return sorted(k[: -len(suffix)].rsplit("/", 1)[-1] for k in keys if k.endswith(suffix))

    def _missing_version(self, model: str, version: str) -> ModelStoreError:
        partial = self._keys(f"{self.model_root(model)}versions/{version}/")
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
        check_name("model", model)
        check_name("version", version)
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
            "new version id (bantay.stores.registry_models.new_version_id)"
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
            "(bantay.stores.registry_models.new_version_id)"
        )
