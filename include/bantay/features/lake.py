"""What the lake holds, by source and day: listings and file tests over the trees
:mod:`bantay.layout` names, no parquet opened. The training window check (:mod:`readiness`)
decides over this snapshot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bantay.layout import (
    PARTITION_FILE,
    PARTITION_GLOB,
    REASON_FILE,
    accepted_root,
    attempt_dirs,
    partition_day,
    partition_dir,
    quarantine_root,
    raw_root,
    staging_path,
)


@dataclass(frozen=True)
class SourceDays:
    """What the lake holds for one source, by day: a snapshot of the trees bantay.layout names."""

    accepted: frozenset[dt.date] = frozenset()
    quarantined: frozenset[dt.date] = frozenset()  # an attempt with its reason.json
    delivered: frozenset[dt.date] = frozenset()  # a raw folder with a parquet file
    writing: frozenset[dt.date] = frozenset()  # the contract's staging file in accepted/

    @property
    def decided(self) -> frozenset[dt.date]:
        return self.accepted | self.quarantined


def dated_folders(root: Path, source: str, first: dt.date) -> list[tuple[dt.date, Path]]:
    """``date=D`` folders of one source from ``first`` on; other names are not partitions."""
    found = []
    for folder in (Path(root) / source).glob(PARTITION_GLOB):
        try:
            day = partition_day(folder)
        except ValueError:
            continue
        if day >= first and folder.is_dir():
            found.append((day, folder))
    return found


def scan(data_dir: Path, sources: Iterable[str], days: Sequence[dt.date]) -> dict[str, SourceDays]:
    """What the lake holds for ``sources``: accepted and quarantined days from the window's
    first day on (later days decide whether a never-delivered day is closed), raw deliveries
    and staging files on the window's days. Listings and file tests only; no parquet is read."""
    accepted, quarantine, raw = (
        accepted_root(data_dir),
        quarantine_root(data_dir),
        raw_root(data_dir),
    )
    first = min(days)
    out = {}
    for source in dict.fromkeys(sources):
        kept = {
            d for d, f in dated_folders(accepted, source, first) if (f / PARTITION_FILE).is_file()
        }
        held = {
            d
            for d, _ in dated_folders(quarantine, source, first)
            if any((a / REASON_FILE).is_file() for a in attempt_dirs(quarantine, source, d))
        }
        delivered = {d for d in days if any(partition_dir(raw, source, d).glob("*.parquet"))}
        writing = {d for d in days if staging_path(accepted, source, d).exists()}
        out[source] = SourceDays(
            frozenset(kept), frozenset(held), frozenset(delivered), frozenset(writing)
        )
    return out
