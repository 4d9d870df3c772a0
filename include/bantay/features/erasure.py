"""Erasing one learner from the files bantay keeps: the raw, accepted and quarantine trees, the
prediction logs, the pseudonymous batch outputs, the training runs' files and the e-mail outbox
(:mod:`bantay.layout`).

Every Parquet file that holds the learner's rows is rewritten without them (temp file + rename,
so a reader sees the old file or the new one); a quarantine ``reason.json`` that names the id has
it replaced by ``[erased]``; an outbox message that names it is removed (messages never should).
A tombstone (:mod:`bantay.features.tombstones`) keeps the learner out of later deliveries. A dry
run reads and counts, and writes nothing. Running it again finds nothing and touches nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bantay.features.tombstones import drop_rows, pseudonym
from bantay.layout import REASON_FILE, Layout
from bantay.schema import ENTITY, PSEUDONYM

ERASED = "[erased]"


@dataclass(frozen=True)
class Touched:
    """One file that held the learner: which store, where, how many rows (or mentions)."""

    store: str
    path: str
    rows: int
    action: str  # "rewritten", "redacted", "removed", or "would ..." in a dry run

    def to_dict(self) -> dict:
        return asdict(self)


def rows_of(learner: int) -> Callable[[pa.Array], pa.Array]:
    """A row mask for ``learner`` over an id column of any type a feed may carry."""

    def mask(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        if pa.types.is_integer(ids.type):
            value = pa.scalar(learner, pa.int64())
            return pc.fill_null(pc.equal(ids.cast(pa.int64()), value), False)
        as_text = pc.utf8_trim_whitespace(ids.cast(pa.string()))
        return pc.fill_null(pc.equal(as_text, str(learner)), False)

    return mask


def mentions(learner: int) -> re.Pattern[bytes]:
    """The id as a whole number in text (not part of a longer number)."""
    return re.compile(rb"(?<![0-9])" + str(learner).encode() + rb"(?![0-9])")


def _files(root: Path, pattern: str) -> Iterator[Path]:
    """Regular files under ``root`` (symlinks are neither followed nor written through)."""
    if root.is_dir() and not root.is_symlink():
        yield from (p for p in sorted(root.rglob(pattern)) if p.is_file() and not p.is_symlink())


def _count(path: Path, learner: int) -> int:
    if ENTITY not in pq.read_schema(path).names:
        return 0
    return pc.sum(rows_of(learner)(pq.read_table(path, columns=[ENTITY])[ENTITY])).as_py() or 0


def parquet_trees(layout: Layout) -> dict[str, Path]:
    """The stores kept as Parquet files, by name."""
    return {
        "raw": layout.raw,
        "accepted": layout.accepted,
        "quarantine": layout.quarantine,
        "predictions": layout.predictions,
        "runs": layout.runs,
    }


def _parquet_files(root: Path) -> Iterator[Path]:
    """Parquet files under ``root``, with the temp files an interrupted writer left behind
    (``.part-0.parquet.tmp``, ``part-0.tmp``): a later rename would bring their rows back."""
    for path in _files(root, "*"):
        name = path.name
        if name.endswith(".parquet") or (name.endswith(".tmp") and ".erasing" not in name):
            yield path


def erase_parquet(layout: Layout, learner: int, *, dry_run: bool) -> list[Touched]:
    """Every Parquet file of the lake, the prediction logs and the runs without ``learner``."""
    touched = []
    for store, root in parquet_trees(layout).items():
        for path in _parquet_files(root):
            try:
                found = _count(path, learner)
            except (OSError, pa.ArrowException):
                if path.suffix == ".tmp":
                    continue  # a half-written temp file that is not Parquet at all
                raise
            if found and not dry_run:
                found = drop_rows(path, rows_of(learner))
            if found:
                action = "would rewrite" if dry_run else "rewritten"
                touched.append(Touched(store, str(path), found, action))
    return touched


def erase_outputs(layout: Layout, learner: int, key: bytes, *, dry_run: bool) -> list[Touched]:
    """The pseudonymous batch outputs without ``learner`` (their rows matched by pseudonym)."""
    alias = pseudonym(learner, key)

    def mask(values: pa.Array | pa.ChunkedArray) -> pa.Array:
        return pc.fill_null(pc.equal(values.cast(pa.string()), alias), False)

    touched = []
    for path in _parquet_files(layout.outputs):
        try:
            if PSEUDONYM not in pq.read_schema(path).names:
                continue
            found = pc.sum(mask(pq.read_table(path, columns=[PSEUDONYM])[PSEUDONYM])).as_py()
        except (OSError, pa.ArrowException):
            if path.suffix == ".tmp":
                continue
            raise
        if found and not dry_run:
            found = drop_rows(path, mask, PSEUDONYM)
        if found:
            touched.append(Touched("outputs", str(path), found, _act("rewritten", dry_run)))
    return touched


def erase_text(layout: Layout, learner: int, *, dry_run: bool) -> list[Touched]:
    """Quarantine reasons lose the id; outbox messages that name it are removed."""
    pattern, touched = mentions(learner), []
    for path in _files(layout.quarantine, REASON_FILE):
        body = path.read_bytes()
        body, n = pattern.subn(ERASED.encode(), body)
        if n and not dry_run:
            tmp = path.with_name(f".{path.name}.erasing")
            tmp.write_bytes(body)
            os.replace(tmp, path)
        if n:
            touched.append(Touched("quarantine", str(path), n, _act("redacted", dry_run)))
    for path in _files(layout.outboxes, "*"):
        n = len(pattern.findall(path.read_bytes()))
        if n and not dry_run:
            path.unlink()
        if n:
            touched.append(Touched("outbox", str(path), n, _act("removed", dry_run)))
    return touched


def _act(action: str, dry_run: bool) -> str:
    return f"would be {action}" if dry_run else action


def erase_files(
    layout: Layout, learner: int, *, dry_run: bool = False, key: bytes | None = None
) -> list[Touched]:
    """The learner out of every file bantay keeps under its layout; what was (or would be)
    touched. ``key`` (the erasure key) finds their rows in the pseudonymous outputs."""
    outputs = erase_outputs(layout, learner, key, dry_run=dry_run) if key is not None else []
    return [
        *erase_parquet(layout, learner, dry_run=dry_run),
        *outputs,
        *erase_text(layout, learner, dry_run=dry_run),
    ]
