"""Which version serves (``store.pointers``): the production pointer, replaced only by a
compare-and-swap on its ETag, the shadow marker of a version scored alongside it, and the
marker of a running randomised experiment (with every experiment's record kept after it)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bantay.stores.model_store.errors import (
    ConditionalPutLost,
    ModelStoreError,
    NoProductionVersion,
    PointerChanged,
)
from bantay.stores.model_store.objects import S3Objects
from bantay.stores.model_store.serialisation import canonical_json
from bantay.stores.model_store.versions import VersionFiles
from bantay.vocabulary import check_name


@dataclass(frozen=True)
class PointerState:
    """The production pointer as stored: parsed (or why it cannot be), and its ETag."""

    pointer: dict[str, Any] | None
    etag: str | None
    corrupt: str | None = None  # why the stored object is not a usable pointer


class ServingPointers:
    """The production pointer (compare-and-swap) and the shadow marker of each model; the
    versions part names what exists when nothing was promoted yet."""

    def __init__(self, objects: S3Objects, versions: VersionFiles) -> None:
        self._objects = objects
        self._versions = versions

    def read(self, model: str) -> PointerState:
        """The pointer with its ETag; a stored object that is not a valid pointer is reported
        (``corrupt``), not raised, so that a promotion can replace it conditionally."""
        check_name("model", model)
        found = self._objects.get(self._objects.pointer_key(model))
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
        state = self.read(model)
        if state.corrupt:
            raise ModelStoreError(
                f"{self._objects.uri(self._objects.pointer_key(model))} is {state.corrupt}; repair it by "
                f"promoting a known-good version (bantay promote --model {model} --to <version>)"
            )
        return state.pointer, state.etag

    def put(self, model: str, pointer: Mapping[str, Any], etag: str | None) -> str:
        """Write the pointer only if it is still the object with ``etag`` (None: only if there
        is none yet). Raises ``PointerChanged`` when another writer got there first."""
        try:
            return self._objects.put(
                self._objects.pointer_key(model),
                canonical_json(pointer),
                content_type="application/json",
                if_match=etag,
            )
        except ConditionalPutLost:
            raise PointerChanged(
                f"{self._objects.uri(self._objects.pointer_key(model))} changed"
            ) from None

    def current(self, model: str) -> dict[str, Any] | None:
        """The production pointer of ``model``, or None if nothing was ever promoted."""
        return self._pointer_with_etag(model)[0]

    def require(self, model: str) -> dict[str, Any]:
        """The production pointer of ``model``; ``UnknownModel`` or ``NoProductionVersion``
        (naming the versions to promote) when there is none."""
        current = self.current(model)
        if current is not None:
            return current
        if not self._versions.exists(model):
            raise self._versions.unknown_model(model)
        raise NoProductionVersion(
            f"model {model!r} has no production version yet: "
            f"{self._objects.uri(self._objects.pointer_key(model))} does not exist. Promote one of "
            f"{self._versions.of(model)[-5:] or 'its versions'} "
            f"(bantay promote --model {model} --to <version>)"
        )

    def put_shadow(self, model: str, body: Mapping[str, Any]) -> None:
        """Write the shadow marker (policy and checks: ``bantay.serving.promotion``)."""
        self._objects.put(
            self._objects.shadow_key(model),
            json.dumps(dict(body)).encode(),
            content_type="application/json",
            overwrite=True,
        )

    def shadow(self, model: str) -> dict[str, Any] | None:
        """The shadow marker of ``model`` (version, sha256, who staged it), or None."""
        check_name("model", model)
        return self._json_object(
            self._objects.shadow_key(model),
            "version",
            "a shadow marker",
            f"stage the shadow again (bantay shadow --model {model} --to <version>) or stop "
            f"shadow scoring (bantay shadow --model {model} --clear)",
        )

    def clear_shadow(self, model: str) -> None:
        """Stop shadow scoring of ``model`` (no marker is not an error)."""
        self._objects.delete(self._objects.shadow_key(model))

    def put_experiment(self, model: str, record: Mapping[str, Any], *, running: bool) -> None:
        """Keep ``record`` (policy: ``bantay.serving.experiment``) under its id; ``running``
        also makes it the experiment scoring follows, otherwise the marker is removed."""
        body = canonical_json(record)
        key = self._objects.experiment_record_key(model, str(record["id"]))
        self._objects.put(key, body, content_type="application/json", overwrite=True)
        if running:
            self._objects.put(
                self._objects.experiment_key(model),
                body,
                content_type="application/json",
                overwrite=True,
            )
        else:
            self._objects.delete(self._objects.experiment_key(model))

    def experiment(self, model: str) -> dict[str, Any] | None:
        """The running experiment of ``model``, or None."""
        check_name("model", model)
        return self._json_record(self._objects.experiment_key(model), model)

    def experiment_record(self, model: str, experiment_id: str) -> dict[str, Any] | None:
        """An experiment's record, running or stopped, or None."""
        check_name("model", model)
        return self._json_record(self._objects.experiment_record_key(model, experiment_id), model)

    def experiment_ids(self, model: str) -> list[str]:
        """Every experiment of ``model`` ever started, oldest first (ids sort by start time)."""
        check_name("model", model)
        root = self._objects.experiment_record_key(model, "x").rsplit("/", 1)[0] + "/"
        return sorted(
            k.rsplit("/", 1)[1].removesuffix(".json") for k in self._objects.keys_under(root)
        )

    def _json_record(self, key: str, model: str) -> dict[str, Any] | None:
        return self._json_object(
            key,
            "challenger",
            "an experiment record",
            f"stop it (bantay experiment stop {model} --reason ...) and start it again",
        )

    def _json_object(self, key: str, field: str, what: str, fix: str) -> dict[str, Any] | None:
        """The JSON object at ``key`` (None when absent); refused, naming ``fix``, when it is not
        an object with the string ``field``."""
        found = self._objects.get(key)
        if found is None:
            return None
        try:
            parsed = json.loads(found[0])
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not isinstance(parsed.get(field), str):
            raise ModelStoreError(
                f"{self._objects.uri(key)} is not {what} (JSON with a '{field}'); {fix}"
            )
        return parsed
