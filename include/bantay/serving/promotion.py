"""The promotion policy: which version may serve, the compare-and-swap of the production pointer,
the audit log, and the registry following the pointer.

``ModelStore`` (S3) and ``Registry`` (SQL) are storage; the rules live here:

* A target is verified before the pointer moves: every file against its manifest, and the
  manifest against the model sha256 recorded in the registry at publish (so a consistent rewrite
  of model + manifest in the bucket is refused, for promotion, rollback and shadow alike).
* The pointer moves only by a conditional write on the ETag that was read; the loser of a race
  gets ``PromotionConflict`` naming who serves now. A corrupt ``production.json`` is replaced
  the same way (conditional on its ETag, ``previous: null``, audited).
* Every successful swap is audited once, keyed on the pointer's ``promoted_at``: re-running a
  promotion repairs a missing audit row and never adds a second one.
* Registry statuses follow the pointer as read under a registry lock, never the order in which
  promotions happened to write the registry.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bantay.stores.model_store import (
    MODEL_FILE,
    ArtifactCorrupt,
    ModelStore,
    ModelStoreError,
    PointerChanged,
    PromotionConflict,
)
from bantay.vocabulary import ModelStatus, PromotionKind, check_name

if TYPE_CHECKING:
    import pandas as pd

    from bantay.stores.registry import Registry

log = logging.getLogger(__name__)


SERVABLE = frozenset({ModelStatus.APPROVED, ModelStatus.PRODUCTION, ModelStatus.ARCHIVED})


def serving_refusal(record: Any, action: str = "promote") -> str | None:
    """Why the registered version ``record`` may not be put to serve (promoted, rolled back to,
    shadowed), in the registry's words; None when its status allows it."""
    if record.status in SERVABLE:
        return None
    why = ""
    if record.status == ModelStatus.REJECTED and record.rejection_reason:
        why = f" (the gate rejected it: {record.rejection_reason})"
    elif record.status == ModelStatus.CANDIDATE:
        why = " (it waits for a person's approval)"
    return (
        f"refusing to {action} {record.model} {record.version}: its registry status is "
        f"{record.status.value!r}{why}; only approved versions (or archived ones, to roll "
        "back or compare) can serve. Approve it first"
    )


class Promotion:
    """Promote, roll back and shadow versions of ``store``, audited in ``registry`` (optional:
    without one, only the S3 checks apply)."""

    def __init__(self, store: ModelStore, registry: Registry | None = None) -> None:
        self.store = store
        self.registry = registry

    # -- publishing and verification --------------------------------------------------------

    def publish(
        self,
        model: str,
        version: str,
        model_obj: Any,
        manifest: Mapping[str, Any],
        reference: pd.DataFrame,
    ) -> dict[str, Any]:
        """Publish an immutable version and record its model sha256 in the registry."""
        stored = self.store.versions.publish(model, version, model_obj, manifest, reference)
        if self.registry is not None:
            self.registry.versions.record_artifact(
                model, version, stored["files"][MODEL_FILE]["sha256"]
            )
        return stored

    def verified(self, model: str, version: str) -> dict[str, Any]:
        """The manifest of ``version`` after checking every file, anchored to the registry."""
        anchor = None
        if self.registry is not None:
            record = self.registry.versions.get(model, version)
            anchor = record.artifact_sha256 if record is not None else None
        if anchor is None:
            log.info(
                "%s %s has no sha256 recorded at publish; checked against its manifest",
                model,
                version,
            )
        return self.store.versions.verify(model, version, expected_sha256=anchor)

    def _check_registry_allows(self, model: str, version: str, action: str = "promote") -> None:
        if self.registry is None:
            return
        record = self.registry.versions.get(model, version)
        refused = serving_refusal(record, action) if record is not None else None
        if refused:
            raise ModelStoreError(refused)

    # -- the pointer --------------------------------------------------------------------------

    def promote(
        self,
        model: str,
        version: str,
        *,
        actor: str,
        reason: str,
        kind: str = PromotionKind.PROMOTE,
    ) -> dict[str, Any]:
        """Point production at ``version`` by compare-and-swap; returns the new pointer.

        Promoting the version that already serves changes nothing (retry-safe) but repairs a
        missing audit row and the registry. A corrupt pointer is replaced (``previous: null``).
        """
        self._check_request(model, version, actor=actor, reason=reason, kind=kind)
        self._check_registry_allows(model, version)
        manifest = self.verified(model, version)
        state = self.store.pointers.read(model)
        current = state.pointer
        if state.corrupt:
            log.warning(
                "%s is %s; replacing it (conditional on its ETag)",
                self.store.objects.uri(self.store.objects.pointer_key(model)),
                state.corrupt,
            )
        elif current is not None and current.get("version") == version:
            log.info("%s %s is already production; pointer unchanged", model, version)
            self._audit(current, actor=actor, reason=reason, kind=kind)
            self._follow(model)
            return current
        new_pointer = {
            "model": model,
            "version": version,
            "sha256": manifest["files"][MODEL_FILE]["sha256"],
            "promoted_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "promoted_by": actor,
            "reason": reason,
            "kind": kind,
            "previous": current.get("version") if current else None,
        }
        try:
            self.store.pointers.put(model, new_pointer, state.etag)
        except PointerChanged:
            now = self.store.pointers.read(model).pointer or {}
            raise PromotionConflict(
                f"promotion of {model} to {version} lost a race: "
                f"{self.store.objects.uri(self.store.objects.pointer_key(model))} changed while promoting. "
                f"Production is now {now.get('version', 'unknown')} (by "
                f"{now.get('promoted_by', 'unknown')} at {now.get('promoted_at', 'unknown')}). "
                "Check it and retry if still wanted"
            ) from None
        log.info(
            "%s %s: production %s -> %s by %s", kind, model, new_pointer["previous"], version, actor
        )
        self._audit(new_pointer, actor=actor, reason=reason, kind=kind)
        self._follow(model)
        return new_pointer

    @staticmethod
    def _check_request(model: str, version: str, *, actor: str, reason: str, kind: str) -> None:
        """Names, kind, actor and reason of a promotion, before anything is read or written."""
        check_name("model", model)
        check_name("version", version)
        if kind not in tuple(PromotionKind):
            raise ValueError(
                f"promotion kind {kind!r} is not one of {[k.value for k in PromotionKind]}"
            )
        if not actor or not str(actor).strip():
            raise ValueError("promote needs an actor: a person's name or the DAG run id")
        if not reason or not str(reason).strip():
            raise ValueError("promote needs a reason: why this version, why now")

    def rollback(
        self, model: str, to_version: str | None = None, *, actor: str, reason: str
    ) -> dict[str, Any]:
        """Point production back at ``to_version`` (default: the pointer's ``previous``),
        verified like any promotion (against the sha256 recorded at publish)."""
        state = self.store.pointers.read(model)
        if state.corrupt and not to_version:
            raise ModelStoreError(
                f"{self.store.objects.uri(self.store.objects.pointer_key(model))} is {state.corrupt}, so there "
                f"is no previous version to read; name the version to restore with --to "
                f"(versions: {self.store.versions.of(model)[-5:]})"
            )
        if state.pointer is None and not state.corrupt:
            self.store.pointers.require(model)  # raises: unknown model or nothing promoted yet
        target = to_version or (state.pointer or {}).get("previous")
        if not target:
            raise ModelStoreError(
                f"model {model!r} has no previous production version recorded in "
                f"{self.store.objects.uri(self.store.objects.pointer_key(model))}; name one with --to (versions: "
                f"{self.store.versions.of(model)[-5:]})"
            )
        return self.promote(model, target, actor=actor, reason=reason, kind=PromotionKind.ROLLBACK)

    def stage_shadow(self, model: str, version: str, *, actor: str, reason: str) -> dict[str, Any]:
        """Score ``version`` beside production (never instead of it), once its registry status
        allows it to serve and its files are verified."""
        check_name("model", model)
        check_name("version", version)
        self._check_registry_allows(model, version, "shadow")
        manifest = self.verified(model, version)
        body = {
            "model": model,
            "version": version,
            "sha256": manifest["files"][MODEL_FILE]["sha256"],
            "staged_at": dt.datetime.now(dt.UTC).isoformat(),
            "staged_by": actor,
            "reason": reason,
        }
        self.store.pointers.put_shadow(model, body)
        return body

    def stop_shadow(self, model: str, *, actor: str, reason: str) -> dict[str, Any] | None:
        """Stop scoring ``model``'s shadow; returns the marker that was staged (None: none was)."""
        check_name("model", model)
        staged = self.store.pointers.shadow(model)
        self.store.pointers.clear_shadow(model)
        if staged:
            log.info("%s: shadow %s stopped by %s: %s", model, staged.get("version"), actor, reason)
        return staged

    def load_shadow(self, model: str) -> tuple[Any, dict[str, Any], dict[str, Any]] | None:
        """(model object, manifest, marker) of the staged shadow, or None when none is staged.

        Checked at every load as a promotion is, since the marker and the registry can change
        after staging: the version must be in the registry with a status that may serve, and
        the sha256 the marker carries must be the one recorded at publish. Only then does the
        store verify the files against it and unpickle.
        """
        marker = self.store.pointers.shadow(model)
        if marker is None:
            return None
        version = marker["version"]
        if self.registry is not None:
            record = self.registry.versions.get(model, version)
            if record is None:
                raise ModelStoreError(
                    f"the shadow marker of {model} names {version}, which the registry does not "
                    f"know; refusing to load it. Stage a registered version (bantay shadow "
                    f"--model {model} --to <version>) or stop shadow scoring (--clear)"
                )
            self._check_registry_allows(model, version, "shadow")
            anchor = record.artifact_sha256
            if anchor is not None and marker.get("sha256") != anchor:
                raise ArtifactCorrupt(
                    f"the shadow marker of {model} names {version} with sha256 "
                    f"{str(marker.get('sha256'))[:16]}..., but the registry recorded "
                    f"{anchor[:16]}... when the version was published; refusing to load it. "
                    f"Stage it again (bantay shadow --model {model} --to {version}), which "
                    "verifies its files"
                )
        return self.store.load_shadow(model)

    # -- the registry ---------------------------------------------------------------------------

    def _audit(self, pointer: Mapping[str, Any], *, actor: str, reason: str, kind: str) -> None:
        """One audit row per swap, keyed on the pointer's time (idempotent on re-runs)."""
        if self.registry is None:
            return
        model, version = pointer["model"], pointer["version"]
        try:
            at = dt.datetime.fromisoformat(pointer["promoted_at"])
            if not self.registry.promotions.exists(model, version, at):
                self.registry.promotions.record(
                    model,
                    version,
                    from_version=pointer.get("previous"),
                    actor=pointer.get("promoted_by") or actor,
                    reason=pointer.get("reason") or reason,
                    kind=pointer.get("kind") or kind,
                    at=at,
                )
        except Exception as exc:
            raise self._registry_failed(model, version, exc) from exc

    def _follow(self, model: str) -> None:
        """Registry statuses follow the pointer as read under the registry's lock."""
        if self.registry is None:
            return
        try:
            self.registry.versions.follow_pointer(
                model, lambda: (self.store.pointers.read(model).pointer or {}).get("version")
            )
        except Exception as exc:
            raise self._registry_failed(model, None, exc) from exc

    def _registry_failed(self, model: str, version: str | None, exc: Exception) -> ModelStoreError:
        """One line: the pointer moved, which registry failed and why, and what to run."""
        where = f" at {self.registry.database.redacted_url}" if self.registry is not None else ""
        return ModelStoreError(
            f"production of {model} now points at {version or 'a new version'}, but updating "
            f"the registry{where} failed ({_first_line(exc)}); re-run the same promotion once "
            "the registry answers, to reconcile it (promoting the current production version "
            "only syncs the registry)"
        )


def _first_line(exc: BaseException) -> str:
    """The driver's own error, first line only: database drivers put hints, the statement and a
    link on further lines, and a person reads this error on one line."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).strip().splitlines() if line.strip()]
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
