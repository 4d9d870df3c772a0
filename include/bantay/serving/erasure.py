"""Erasing one learner from what the serving store keeps: each published version's drift
reference. A version is write-once, so the reference is rewritten only as a recorded erasure
(``store.versions.rewrite_reference``): new file, new sha256 in the manifest, an ``erasures``
record naming the rewrite; the model file and its anchored sha256 are never touched, and the
version still verifies and loads."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from bantay.schema import ENTITY
from bantay.stores.model_store import REFERENCE_FILE, ModelStore
from bantay.stores.model_store.serialisation import dump_parquet


@dataclass(frozen=True)
class VersionErased:
    """A version whose reference held the learner: how many rows, and the rewrite (if done)."""

    model: str
    version: str
    rows: int
    uri: str
    sha256: str | None  # the rewritten reference's sha256 (None in a dry run)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _learner_rows(frame: Any, learner: int) -> Any:
    if ENTITY not in frame.columns:
        return None
    ids = frame[ENTITY].astype("string").str.strip()
    return ids == str(learner)


def erase_references(
    store: ModelStore, learner: int, subject: str, *, dry_run: bool
) -> list[VersionErased]:
    """Every version of every model whose reference saw ``learner``; rewritten unless
    ``dry_run``. ``subject`` (the keyed hash) names the erasure in the manifest's record."""
    found = []
    for model in store.versions.models():
        for version in store.versions.of(model):
            reference = store.versions.reference(model, version)
            rows = _learner_rows(reference, learner)
            if rows is None or not rows.any():
                continue
            uri = store.objects.uri(store.objects.version_key(model, version, REFERENCE_FILE))
            digest = None
            if not dry_run:
                body = dump_parquet(reference.loc[~rows.to_numpy(dtype=bool)])
                record = {
                    "at": dt.datetime.now(dt.UTC).isoformat(),
                    "subject": subject,
                    "rows_removed": int(rows.sum()),
                }
                manifest = store.versions.rewrite_reference(model, version, body, record)
                digest = manifest["files"][REFERENCE_FILE]["sha256"]
            found.append(VersionErased(model, version, int(rows.sum()), uri, digest))
    return found


def erase_baselines(
    store: ModelStore, registry: Any, learner: int, subject: str, *, dry_run: bool
) -> list[VersionErased]:
    """Re-baseline references that hold ``learner``: each is written again without the
    learner's rows (a new immutable file) and the old object deleted; when it was a version's
    current re-baseline, a new registry row (append-only) makes the rewritten file current.
    An older re-baseline's row keeps naming its deleted file, as history."""
    found = []
    for model in store.versions.models():
        records = registry.baselines.of(model)
        current = {r.version: r.id for r in records}  # the newest row of each version
        for record in records:
            frame = (
                store.baselines.read(record.reference_uri, record.sha256)
                if _exists(store, record.reference_uri)
                else None
            )
            rows = None if frame is None else _learner_rows(frame, learner)
            if rows is None or not rows.any():
                continue
            n, digest = int(rows.sum()), None
            if not dry_run:
                digest = _rebaseline(
                    store,
                    registry,
                    record,
                    frame.loc[~rows.to_numpy(dtype=bool)],
                    subject,
                    current[record.version] == record.id,
                )
            found.append(VersionErased(model, record.version, n, record.reference_uri, digest))
    return found


def _exists(store: ModelStore, uri: str) -> bool:
    key = uri.removeprefix(f"s3://{store.objects.bucket}/")
    return bool(store.objects.keys_under(key, first_only=True))


def _rebaseline(
    store: ModelStore, registry: Any, record: Any, frame: Any, subject: str, current: bool
) -> str:
    stamp = record.reference_uri.rsplit("/", 1)[-1].removesuffix(".parquet")
    written = store.baselines.put(record.model, record.version, f"{stamp}-erased", frame)
    if current:
        registry.baselines.record(
            record.model,
            record.version,
            reference_uri=written["uri"],
            sha256=written["sha256"],
            first_day=record.first_day,
            last_day=record.last_day,
            rows=written["rows"],
            actor=record.actor,
            reason=f"{record.reason} (a learner erased: erasure {subject[:12]})",
        )
    store.objects.delete(record.reference_uri.removeprefix(f"s3://{store.objects.bucket}/"))
    return written["sha256"]
