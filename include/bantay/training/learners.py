"""A version's training-set manifest: the learners it was fitted on, as keyed hashes (the
tombstones' HMAC-SHA256 under the erasure key, never the ids), kept in the registry
(``registry.training_sets``) so "which versions saw this learner" is one query for
``bantay erase``. Without an erasure key no id can be hashed: the version records that it has
no manifest, and an erasure treats it as one that may have seen any learner."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from bantay.features.tombstones import keyed_hash
from bantay.schema import ENTITY
from bantay.stores.connections import erasure_key

if TYPE_CHECKING:
    from bantay.stores.registry import Registry

log = logging.getLogger(__name__)

MANIFEST_TABLE = "training_learners"


def training_subjects(frame: pd.DataFrame, key: bytes) -> list[str]:
    """The keyed hash of every distinct learner in ``frame``, sorted."""
    if ENTITY not in frame.columns:
        raise ValueError(
            f"the training set has no {ENTITY!r} column; its learners cannot be recorded "
            "(every feed keys its rows on the learner)"
        )
    ids = pd.unique(frame[ENTITY].dropna())
    return sorted({keyed_hash(int(i), key) for i in ids})


def manifest_subjects(frame: pd.DataFrame) -> tuple[list[str] | None, dict[str, Any]]:
    """The subjects to record and the lineage entry that describes them; (None, why) when no
    erasure key is configured."""
    try:
        key = erasure_key()
    except ValueError as exc:
        log.warning("no training-set manifest for this version: %s", exc)
        return None, {"learners": None, "why": "no erasure key was configured"}
    subjects = training_subjects(frame, key)
    return subjects, {"learners": len(subjects), "where": MANIFEST_TABLE}


def record_manifest(
    registry: Registry, model: str, version: str, subjects: list[str] | None
) -> None:
    """Write the version's manifest (a re-run of the version replaces it)."""
    if subjects is not None:
        registry.training_sets.record(model, version, subjects)
