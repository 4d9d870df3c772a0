"""Tombstones: erased learners stay erased. ``<data>/erasure/tombstones.txt`` (``Layout.tombstones``)
holds one keyed hash a line (HMAC-SHA256 of the id under the erasure key, never the id); the data
contract drops the rows of every tombstoned learner from a delivery before checking it, so
accepted partitions, materialization, backfills and training sets never see them again."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bantay.schema import ENTITY


def learner_id(text: str | int) -> int:
    """A learner id as the integer the feeds carry; ValueError naming the input otherwise."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = -1
    if value < 0 or str(value) != str(text).strip().lstrip("+"):
        raise ValueError(
            f"learner id {text!r} is not a non-negative whole number; give the id as the feeds "
            "carry it, e.g. 100042"
        )
    return value


def keyed_hash(learner: int, key: bytes) -> str:
    """HMAC-SHA256 of the id's decimal string: what tombstones and the audit row keep."""
    return hmac.new(key, str(int(learner)).encode(), hashlib.sha256).hexdigest()


def pseudonym(learner_id: str | int, key: bytes) -> str:
    """The id as it may leave bantay or be read by a person who may not see ids: HMAC-SHA256 of
    its decimal string under the erasure key, hex, truncated to 16 characters (64 bits)."""
    return hmac.new(key, str(learner_id).encode(), hashlib.sha256).hexdigest()[:16]


def pseudonyms(learners: Iterable[str | int], key: bytes) -> list[str]:
    """:func:`pseudonym` of every id of ``learners``, the key's part of the hash computed once
    and copied for each id (a nightly batch has hundreds of thousands)."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    out = []
    for learner in learners:
        one = keyed.copy()
        one.update(str(learner).encode())
        out.append(one.hexdigest()[:16])
    return out


@dataclass(frozen=True)
class Tombstones:
    """The keyed hashes of erased learners, and the key that recognises them."""

    hashes: frozenset[str]
    key: bytes | None

    @classmethod
    def read(cls, path: Path, key: Callable[[], bytes]) -> Tombstones:
        """The list at ``path`` (empty if none); the key is asked for only when it is needed."""
        if not Path(path).is_file():
            return cls(frozenset(), None)
        lines = Path(path).read_text().split()
        return cls(frozenset(lines), key() if lines else None)

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def holds(self, learner: object) -> bool:
        """Whether ``learner`` (an id as any feed carries it) is tombstoned."""
        try:
            number = int(str(learner))
        except ValueError:
            return False  # not an id at all: the contract's own rules judge it
        return bool(self.hashes) and keyed_hash(number, self.key or b"") in self.hashes

    def mask(self, ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        """True for the rows of tombstoned learners (each distinct id hashed once)."""
        distinct = pc.unique(ids).to_pylist()
        gone = [i for i in distinct if i is not None and self.holds(i)]
        return pc.fill_null(pc.is_in(ids, value_set=pa.array(gone, type=ids.type)), False)


def add(path: Path, digest: str) -> bool:
    """Append ``digest`` to the tombstone list (atomically); False when it was already there."""
    path = Path(path)
    present = path.read_text().split() if path.is_file() else []
    if digest in present:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(f"{d}\n" for d in [*present, digest]))
    os.replace(tmp, path)
    return True


def drop_rows(path: Path, rows: Callable[[pa.Array], pa.Array], column: str = ENTITY) -> int:
    """Rewrite one Parquet file without the rows ``rows`` marks in ``column`` (temp file +
    rename, schema and microsecond timestamps kept); the number removed. A file without that
    column is left."""
    path = Path(path)
    if column not in pq.read_schema(path).names:
        return 0
    table = pq.read_table(path)
    marked = rows(table[column])
    removed = pc.sum(marked).as_py() or 0
    if removed:
        tmp = path.with_name(f".{path.name}.erasing")
        kept = table.filter(pc.invert(marked))
        pq.write_table(kept, tmp, coerce_timestamps="us", allow_truncated_timestamps=True)
        os.replace(tmp, path)
    return removed


def scrub_folder(folder: Path, tombstones: Tombstones) -> int:
    """Remove tombstoned learners from every Parquet file of a delivery folder; rows removed."""
    folder = Path(folder)
    if not tombstones or folder.is_symlink() or not folder.is_dir():
        return 0
    removed = 0
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() or not entry.is_file() or entry.suffix != ".parquet":
            continue  # the contract refuses such a delivery; its target is never written
        try:
            removed += drop_rows(entry, tombstones.mask)
        except (OSError, pa.ArrowException):
            continue  # unreadable: the contract quarantines it with its reason
    return removed
