"""Which version serves: the production pointer, replaced only by a compare-and-swap on its
ETag, and the shadow marker of a version scored alongside it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bantay.stores.model_store_io import (
    ModelStoreError,
    NoProductionVersion,
    PointerChanged,
    PointerState,
    _dumps,
    _PreconditionFailed,
)
from bantay.stores.model_store_versions import VersionFiles
from bantay.vocabulary import check_name


class ServingPointers(VersionFiles):
    """The production pointer (compare-and-swap) and the shadow marker of each model."""

    def read_pointer(self, model: str) -> PointerState:
        """The pointer with its ETag; a stored object that is not a valid pointer is reported
        (``corrupt``), not raised, so that a promotion can replace it conditionally."""
        check_name("model", model)
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

    def put_shadow(self, model: str, body: Mapping[str, Any]) -> None:
        """Write the shadow marker (policy and checks: ``bantay.serving.promotion``)."""
        self._put(
            self.shadow_key(model),
            json.dumps(dict(body)).encode(),
            content_type="application/json",
            overwrite=True,
        )

    def shadow(self, model: str) -> dict[str, Any] | None:
        """The shadow marker of ``model`` (version, sha256, who staged it), or None."""
        check_name("model", model)
        found = self._get(self.shadow_key(model))
        if found is None:
            return None
        try:
            parsed = json.loads(found[0])
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not isinstance(parsed.get("version"), str):
            raise ModelStoreError(
                f"{self.uri(self.shadow_key(model))} is not a shadow marker (JSON with a "
                f"'version'); stage the shadow again (bantay shadow --model {model} --to "
                "<version>) or stop shadow scoring (bantay shadow --model "
                f"{model} --clear)"
            )
        return parsed

    def clear_shadow(self, model: str) -> None:
        self._delete(self.shadow_key(model))
