"""Immutable model versions in S3 (``store.versions``): publishing (files first, the manifest
last) and reading them back only after every byte matches the sha256 the manifest records.

The one change a version accepts after publishing is a recorded erasure of its drift reference
(a learner's rows removed): ``reference.parquet`` and its manifest entry are rewritten together
and the manifest's ``erasures`` list names the rewrite (old and new sha256). Verification accepts
the reference only when its bytes match the manifest entry and that entry is the newest recorded
rewrite's; the model file is never rewritten (its sha256 is anchored outside S3)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from bantay.stores.model_store.errors import (
    ArtifactCorrupt,
    ConditionalPutLost,
    ModelStoreError,
    UnknownModel,
    UnknownVersion,
    VersionExists,
)
from bantay.stores.model_store.objects import (
    ARTIFACT_FILES,
    MANIFEST_FILE,
    MODEL_FILE,
    REFERENCE_FILE,
    S3Objects,
)
from bantay.stores.model_store.serialisation import (
    canonical_json,
    dump_model,
    dump_parquet,
    load_parquet,
    sha256_hex,
)
from bantay.vocabulary import check_name

log = logging.getLogger(__name__)


class VersionFiles:
    """Publish and read the files of immutable versions, checked against their manifest."""

    def __init__(self, objects: S3Objects) -> None:
        self._objects = objects

    # -- reading and verification ----------------------------------------------------------

    def models(self) -> list[str]:
        """Names of every model with anything stored under this prefix."""
        prefixes = self._objects.prefixes_under(f"{self._objects.prefix}/models/")
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in prefixes)

    def exists(self, model: str) -> bool:
        """Whether anything at all is stored for ``model``."""
        return bool(self._objects.keys_under(self._objects.model_root(model), first_only=True))

    def unknown_model(self, model: str) -> UnknownModel:
        """The error for a model with nothing stored, naming the models that are."""
        return UnknownModel(
            f"unknown model {model!r}: nothing is stored under "
            f"{self._objects.uri(self._objects.model_root(model))}; models here: {self.models() or 'none'}. "
            "Check the model name, bucket and prefix"
        )

    def of(self, model: str) -> list[str]:
        """Complete versions of ``model`` (those with a manifest), oldest id first."""
        check_name("model", model)
        keys = self._objects.keys_under(f"{self._objects.model_root(model)}versions/")
        suffix = f"/{MANIFEST_FILE}"
        return sorted(k[: -len(suffix)].rsplit("/", 1)[-1] for k in keys if k.endswith(suffix))

    def _missing_version(self, model: str, version: str) -> ModelStoreError:
        partial = self._objects.keys_under(f"{self._objects.model_root(model)}versions/{version}/")
        if partial:
            names = sorted(k.rsplit("/", 1)[-1] for k in partial)
            return UnknownVersion(
                f"version {version!r} of model {model!r} is incomplete: "
                f"{self._objects.uri(self._objects.version_key(model, version, MANIFEST_FILE))} is missing "
                f"(found only {names}; a publish was interrupted). It cannot be loaded or "
                "promoted: publish it again, or publish a new version"
            )
        if not self.exists(model):
            return self.unknown_model(model)
        available = self.of(model)
        return UnknownVersion(
            f"unknown version {version!r} of model {model!r} under "
            f"{self._objects.uri(self._objects.model_root(model))}; available versions: "
            f"{available[-10:] or 'none'}"
        )

    def manifest(self, model: str, version: str) -> dict[str, Any]:
        """The manifest of a complete version (``UnknownVersion`` if missing or incomplete)."""
        check_name("model", model)
        check_name("version", version)
        found = self._objects.get(self._objects.version_key(model, version, MANIFEST_FILE))
        if found is None:
            raise self._missing_version(model, version)
        try:
            return json.loads(found[0])
        except ValueError as exc:
            raise ArtifactCorrupt(
                f"{self._objects.uri(self._objects.version_key(model, version, MANIFEST_FILE))} is not valid JSON "
                f"({exc}); the version cannot be trusted: publish a new version"
            ) from None

    def verified_bytes(
        self, model: str, version: str, name: str, manifest: dict[str, Any]
    ) -> bytes:
        """The bytes of one file of a version, after checking them against the manifest."""
        key = self._objects.version_key(model, version, name)
        entry = manifest.get("files", {}).get(name)
        if not entry or "sha256" not in entry:
            raise ArtifactCorrupt(
                f"the manifest of {model} {version} records no sha256 for {name}; refusing to "
                f"read {self._objects.uri(key)}. Publish a new version"
            )
        found = self._objects.get(key)
        if found is None:
            raise ArtifactCorrupt(
                f"{self._objects.uri(key)} is missing although the manifest of {model} {version} lists "
                f"it; roll back (bantay rollback --model {model}) and publish a new version"
            )
        data = found[0]
        actual = sha256_hex(data)
        if actual != entry["sha256"] or len(data) != entry.get("bytes", len(data)):
            raise ArtifactCorrupt(
                f"refusing to load {self._objects.uri(key)}: its sha256 {actual[:16]}... ({len(data)} "
                f"bytes) does not match the manifest ({entry['sha256'][:16]}..., "
                f"{entry.get('bytes')} bytes); the object changed after it was published. "
                f"Roll back (bantay rollback --model {model}) and publish a new version"
            )
        return data

    def verify(
        self, model: str, version: str, expected_sha256: str | None = None
    ) -> dict[str, Any]:
        """Download every file of a version and check its sha256; returns the manifest.

        ``expected_sha256`` (the model file's hash recorded at publish, outside S3) anchors the
        manifest itself: a consistent rewrite of model and manifest is refused too."""
        manifest = self.manifest(model, version)
        recorded = manifest.get("files", {}).get(MODEL_FILE, {}).get("sha256")
        if expected_sha256 is not None and recorded != expected_sha256:
            raise ArtifactCorrupt(
                f"the manifest {self._objects.uri(self._objects.version_key(model, version, MANIFEST_FILE))} says "
                f"{MODEL_FILE} has sha256 {str(recorded)[:16]}..., but {expected_sha256[:16]}... "
                "was recorded when the version was published: model and manifest were rewritten "
                f"after publishing. Nothing was unpickled; roll back to another version and "
                "publish a new one"
            )
        _check_erasures(
            self._objects.uri(self._objects.version_key(model, version, MANIFEST_FILE)), manifest
        )
        missing = [n for n in ARTIFACT_FILES if n not in manifest.get("files", {})]
        if missing:
            raise ArtifactCorrupt(
                f"the manifest {self._objects.uri(self._objects.version_key(model, version, MANIFEST_FILE))} "
                f"lists no {missing}; publish a new version"
            )
        for name in manifest["files"]:
            self.verified_bytes(model, version, name, manifest)
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
        bodies = {MODEL_FILE: dump_model(model_obj), REFERENCE_FILE: dump_parquet(reference)}
        files = {name: {"sha256": sha256_hex(b), "bytes": len(b)} for name, b in bodies.items()}
        manifest_bytes = canonical_json(
            {**dict(manifest), "model": model, "version": version, "files": files}
        )
        manifest_key = self._objects.version_key(model, version, MANIFEST_FILE)

        existing = self._objects.get(manifest_key)
        if existing is not None:
            return self._same_or_exists(model, version, existing[0], manifest_bytes)
        for name, body in bodies.items():
            self._put_immutable(model, version, name, body)
        try:
            self._objects.put(manifest_key, manifest_bytes, content_type="application/json")
        except ConditionalPutLost:
            existing = self._objects.get(manifest_key)
            return self._same_or_exists(
                model, version, existing[0] if existing else b"", manifest_bytes
            )
        log.info("published %s", self._objects.uri(manifest_key))
        return json.loads(manifest_bytes)

    def _put_immutable(self, model: str, version: str, name: str, body: bytes) -> None:
        key = self._objects.version_key(model, version, name)
        content_type = "application/octet-stream"
        try:
            self._objects.put(key, body, content_type=content_type)
            return
        except ConditionalPutLost:
            pass
        existing = self._objects.get(key)
        if existing is not None and sha256_hex(existing[0]) == sha256_hex(body):
            log.info(
                "%s already uploaded with identical bytes (retried publish)", self._objects.uri(key)
            )
            return
        raise VersionExists(
            f"{self._objects.uri(key)} already exists with different contents (left by an interrupted or "
            f"concurrent publish of {model} {version}); versions are immutable: publish under a "
            "new version id (bantay.stores.registry.new_version_id)"
        )

    def _same_or_exists(
        self, model: str, version: str, stored: bytes, wanted: bytes
    ) -> dict[str, Any]:
        key = self._objects.version_key(model, version, MANIFEST_FILE)
        if stored == wanted:
            log.info(
                "%s already published with identical contents; nothing to do",
                self._objects.uri(key),
            )
            return json.loads(stored)
        raise VersionExists(
            f"version {version!r} of model {model!r} already exists ({self._objects.uri(key)}) with "
            "different contents, and versions are immutable; publish under a new version id "
            "(bantay.stores.registry.new_version_id)"
        )

    def rewrite_reference(
        self, model: str, version: str, body: bytes, erasure: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Replace a version's drift reference by ``body`` as a recorded erasure: the file, then
        its manifest entry plus an ``erasures`` record (``erasure`` + old and new sha256). Both
        writes are conditional on the ETags read, so a concurrent change is refused, not lost.
        Returns the new manifest."""
        manifest_key = self._objects.version_key(model, version, MANIFEST_FILE)
        reference_key = self._objects.version_key(model, version, REFERENCE_FILE)
        stored, reference = self._objects.get(manifest_key), self._objects.get(reference_key)
        if stored is None or reference is None:
            raise self._missing_version(model, version)
        manifest = json.loads(stored[0])
        before = self.verified_bytes(model, version, REFERENCE_FILE, manifest)
        entry = {"sha256": sha256_hex(body), "bytes": len(body)}
        record = {
            **dict(erasure),
            "file": REFERENCE_FILE,
            "sha256_before": sha256_hex(before),
            "sha256": entry["sha256"],
        }
        manifest["files"] = {**manifest["files"], REFERENCE_FILE: entry}
        manifest["erasures"] = [*manifest.get("erasures", []), record]
        kind = "application/octet-stream"
        self._objects.put(reference_key, body, content_type=kind, if_match=reference[1])
        self._objects.put(
            manifest_key,
            canonical_json(manifest),
            content_type="application/json",
            if_match=stored[1],
        )
        log.info("rewrote %s as a recorded erasure", self._objects.uri(reference_key))
        return manifest

    def reference(self, model: str, version: str) -> pd.DataFrame:
        """The drift reference sample stored with a version (sha256-checked)."""
        manifest = self.manifest(model, version)
        return load_parquet(self.verified_bytes(model, version, REFERENCE_FILE, manifest))


def _check_erasures(where: str, manifest: Mapping[str, Any]) -> None:
    """Refuse a manifest whose erasure records do not account for its files: only the
    reference may have been rewritten, and its entry must be the newest rewrite's."""
    erasures = manifest.get("erasures") or []
    if not erasures:
        return
    files = manifest.get("files", {})
    wrong = [e.get("file") for e in erasures if e.get("file") != REFERENCE_FILE]
    newest = [e for e in erasures if e.get("file") == REFERENCE_FILE][-1:] if not wrong else []
    entry = files.get(REFERENCE_FILE, {}).get("sha256")
    if wrong or not newest or newest[0].get("sha256") != entry:
        raise ArtifactCorrupt(
            f"the manifest {where} records erasures that do not match its files (only "
            f"{REFERENCE_FILE} may be rewritten, and its entry must be the newest rewrite's); "
            "the version cannot be trusted: roll back and publish a new version"
        )


def check_publish(model: str, version: str, manifest: Mapping[str, Any], reference: Any) -> None:
    """Refuse publish inputs the store cannot keep consistent, before any upload."""
    check_name("model", model)
    check_name("version", version)
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
