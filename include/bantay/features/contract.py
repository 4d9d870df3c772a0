"""The data contract: what a raw delivery must pass before any of its rows are used.

Upstream delivers into ``<data>/raw/<source>/date=D/`` (untrusted). Every file in that folder is
read (``bantay.features.delivery``) and checked (``bantay.features.rules``); a day that passes is written, as exactly the rows
that were checked, to ``<data>/accepted/<source>/date=D/part-0.parquet``, the only tree the Feast
sources and the label reader look at. A day that fails is moved whole to
``<data>/quarantine/<source>/date=D/attempt-N/`` beside a ``reason.json`` (a new folder per
attempt, so evidence is never overwritten), and removed from the accepted tree. The error a
person reads says which partition, which rule and column, what was found, and what to do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bantay.features.delivery import read_delivery, recent_history
from bantay.features.rules import (
    MAX_FUTURE_DAYS,
    RULES,
    Violation,
    bounded,
    check_table,
    null_counts,
)
from bantay.features.tombstones import Tombstones, scrub_folder
from bantay.layout import (
    REASON_FILE,
    Layout,
    accepted_root,
    attempt_dirs,
    new_attempt_dir,
    partition_dir,
    partition_path,
    staging_path,
)
from bantay.schema import ENTITY
from bantay.settings import ContractSettings, FeatureSettings, ModelSettings
from bantay.settings.feeds import FeedSettings, feed_named
from bantay.stores.connections import erasure_key

__all__ = [
    "RULES",
    "ContractResult",
    "ContractViolation",
    "Violation",
    "check_partition",
    "check_table",
    "enforce",
    "enforce_for",
    "label_sources",
    "quarantine",
]

log = logging.getLogger(__name__)

_ARROW = {"int64": pa.int64(), "float64": pa.float64(), "string": pa.string()}
_MAX_LISTED = 8  # violations per partition in a message


@dataclass
class ContractResult:
    source: str
    day: dt.date
    path: str
    rows: int
    violations: list[Violation] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    table: pa.Table | None = field(default=None, repr=False, compare=False)
    columns: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    erased: int = 0  # rows of erased learners dropped from the delivery (tombstones)
    # Missing values per column of an accepted partition (kept when its table is let go).
    nulls: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def missing(self) -> bool:
        return any(v.rule == "missing" for v in self.violations)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "date": self.day.isoformat(),
            "path": self.path,
            "rows": self.rows,
            "files": [bounded(f, 100) for f in self.files[:20]],
            "passed": self.passed,
            "erased_rows": self.erased,
            "violations": [asdict(v) for v in self.violations],
        }


class ContractViolation(RuntimeError):
    """One or more partitions broke the data contract (quarantined) or never arrived."""

    def __init__(self, results: list[ContractResult], quarantined: list[Path | None]):
        self.results = results
        self.passed: list[ContractResult] = []  # what the same run accepted (set by enforce)
        self.quarantined = quarantined
        lines = []
        for res, where in zip(results, quarantined, strict=True):
            if res.missing:
                lines.append(f"- {res.source} {res.day}: missing")
            else:
                lines.append(f"- {res.source} {res.day} ({res.rows} rows) moved to {where}:")
            shown = res.violations[:_MAX_LISTED]
            lines.extend(f"    {v.sentence()}" for v in shown)
            if len(res.violations) > len(shown):
                lines.append(f"    ... and {len(res.violations) - len(shown)} more in reason.json")
        super().__init__(
            "data contract failed; nothing from these partitions was materialized or trained on:\n"
            + "\n".join(lines)
            + "\nFix the upstream feed (or, where the feed is right and bantay's declaration of "
            "it is not, its columns under features.feeds in bantay.yaml), write a corrected "
            "partition to the raw location, then clear this task (each quarantined attempt and its reason.json stay for the "
            "post-mortem)."
        )


# -- checking ------------------------------------------------------------------------------


def _profile_ids(accepted: Path, population: str, day: dt.date, back: int = 7) -> pa.Array | None:
    """Learner ids of the newest accepted population snapshot on or before ``day``."""
    for i in range(back + 1):
        path = partition_path(accepted, population, day - dt.timedelta(days=i))
        if path.is_file():
            return pq.read_table(path, columns=[ENTITY])[ENTITY].combine_chunks()
    return None


def check_partition(
    raw_dir: Path,
    source: str | FeedSettings,
    day: dt.date,
    cfg: ContractSettings,
    *,
    history_dir: Path | None = None,
    profile_ids: pa.Array | None = None,
    previous_profile: pa.Array | None = None,
    as_of: dt.date | None = None,
    tombstones: Tombstones | None = None,
) -> ContractResult:
    """Read every file of one raw partition and check it. ``history_dir`` (default: the raw
    tree) holds the recent days the row count and frozen-column rules compare against.
    ``source`` is the feed's declaration (or the name of a default feed). Rows of learners in
    ``tombstones`` are removed from the delivery's files first and counted, never an error."""
    feed = feed_named(source)
    source, columns = feed.name, feed.dtypes()
    folder = partition_dir(raw_dir, source, day)
    if as_of is not None and (day - as_of).days > MAX_FUTURE_DAYS:
        found = f"a partition dated {day}, {(day - as_of).days} days after the run's date {as_of}"
        future = Violation("future", None, found, f"at most {MAX_FUTURE_DAYS} day(s) ahead")
        return ContractResult(source, day, str(folder), 0, [future], columns=columns)
    erased = scrub_folder(folder, tombstones) if tombstones else 0
    if erased:
        log.info("dropped %d row(s) of erased learners from %s %s", erased, source, day)
    table, problems, names = read_delivery(folder)
    if table is None:
        return ContractResult(
            source, day, str(folder), 0, problems, names, columns=columns, erased=erased
        )
    history = recent_history(history_dir or raw_dir, source, day, cfg.row_count_window_days)
    violations = check_table(
        table,
        feed,
        day,
        cfg,
        history=history,
        profile_ids=profile_ids,
        previous_profile=previous_profile,
    )
    return ContractResult(
        source, day, str(folder), table.num_rows, violations, names, table, columns, erased
    )


# -- outcomes ------------------------------------------------------------------------------


def _canonical(table: pa.Table, columns: dict[str, str]) -> pa.Table:
    """The checked rows in the contract's exact schema (int64, float64, string, us UTC)."""
    arrays = []
    for name, kind in columns.items():
        col = table[name]
        if kind == "timestamp":
            arrays.append(col.cast(pa.timestamp("us", "UTC"), safe=False))
        else:
            arrays.append(col.cast(_ARROW[kind]))
    return pa.table(arrays, names=list(columns))


def accept(result: ContractResult, accepted_dir: Path) -> Path:
    """Publish the rows that passed to the accepted tree, atomically (temp file + rename)."""
    if not result.passed or result.table is None:
        raise ValueError(f"{result.source} {result.day} did not pass the contract; not accepted")
    path = partition_path(accepted_dir, result.source, result.day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_path(accepted_dir, result.source, result.day)
    columns = result.columns or feed_named(result.source).dtypes()
    pq.write_table(_canonical(result.table, columns), tmp, coerce_timestamps="us")
    os.replace(tmp, path)
    return path


def withdraw(accepted_dir: Path, source: str, day: dt.date) -> None:
    """Take a day out of the accepted tree (a later delivery of it was rejected)."""
    folder = partition_dir(accepted_dir, source, day)
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)


def quarantine(
    result: ContractResult,
    quarantine_dir: Path,
    *,
    run_id: str | None = None,
    accepted_dir: Path | None = None,
) -> Path:
    """Move a failed delivery out of the raw tree into a new ``attempt-N`` folder, reason first.

    A symlinked folder is moved as the link (its target is never touched); so are symlinks
    inside. The day is also withdrawn from the accepted tree.
    """
    src = Path(result.path)
    dest = new_attempt_dir(quarantine_dir, result.source, result.day)
    reason = result.to_dict() | {
        "quarantined_at": dt.datetime.now(dt.UTC).isoformat(),
        "run_id": run_id,
        "original_path": str(src),
        "attempt": dest.name,
    }
    tmp = dest / f".{REASON_FILE}.tmp"
    tmp.write_text(json.dumps(reason, indent=2, sort_keys=True))
    os.replace(tmp, dest / REASON_FILE)
    if src.is_symlink():
        os.rename(src, dest / "partition-folder-symlink")
    elif src.is_dir():
        for entry in src.iterdir():
            os.rename(entry, dest / entry.name)
        with contextlib.suppress(OSError):
            src.rmdir()
    if accepted_dir is not None:
        withdraw(accepted_dir, result.source, result.day)
    log.warning(
        "quarantined %s %s to %s: %s",
        result.source,
        result.day,
        dest,
        "; ".join(v.sentence() for v in result.violations[:_MAX_LISTED]),
    )
    return dest


def _missing(result: ContractResult, quarantine_dir: Path) -> ContractResult:
    attempts = attempt_dirs(quarantine_dir, result.source, result.day)
    if attempts:
        v = result.violations[0]
        found = f"{v.found} (an earlier delivery was quarantined to {attempts[-1]})"
        result.violations[0] = Violation(v.rule, v.column, found, v.expected)
    return result


def enforce(
    raw_dir: Path,
    quarantine_dir: Path,
    sources: Sequence[str | FeedSettings],
    days: list[dt.date],
    cfg: ContractSettings,
    *,
    run_id: str | None = None,
    accepted_dir: Path | None = None,
    labels: Sequence[str | FeedSettings] = (),
    also: tuple[dt.date, ...] = (),
    as_of: dt.date | None = None,
    tombstones: Tombstones | None = None,
) -> list[ContractResult]:
    """Check every (source, day) and accept what passes; quarantine what fails and raise
    ``ContractViolation`` naming every failed or missing partition.

    ``sources`` (feed declarations, or names of default feeds) must all be delivered; the
    population feed among them is checked first, the others' ids against it. ``labels`` (label
    feeds) and every source on the days in ``also`` (earlier days inside the materialization
    window) are checked when delivered. A day whose raw folder is gone but which is already
    accepted stays accepted. ``as_of`` (the run's logical date) refuses partitions dated in the
    future. ``tombstones`` (erased learners) are dropped from every delivery before its check.
    """
    accepted = accepted_dir or accepted_root(Path(raw_dir).parent)
    required = [feed_named(s) for s in sources]
    names = {f.name for f in required}
    ordered = sorted(required, key=lambda f: (not f.population, f.name))
    seen = set(names)
    for feed in map(feed_named, labels):
        if feed.name not in seen:
            seen.add(feed.name)
            ordered.append(feed)
    population = next((f.name for f in ordered if f.population), None)
    results: list[ContractResult] = []
    failed: list[ContractResult] = []
    for day in sorted(set(days) | set(also)):
        for feed in ordered:
            raw_folder = partition_dir(raw_dir, feed.name, day)
            kept = partition_path(accepted, feed.name, day)
            if not os.path.lexists(raw_folder) and kept.is_file():
                rows = pq.ParquetFile(kept).metadata.num_rows
                results.append(ContractResult(feed.name, day, str(kept), rows))
                continue
            optional = day in also and day not in days or feed.name not in names
            if optional and not os.path.lexists(raw_folder):
                continue  # labels arrive when they mature; earlier days were checked by their run
            result = _check_against(
                raw_dir, accepted, feed, population, day, cfg, as_of, tombstones
            )
            results.append(result)
            if result.passed:
                accept(result, accepted)
                log.info("contract ok: %s %s (%d rows)", feed.name, day, result.rows)
                result.nulls = null_counts(result.table) if result.table is not None else {}
                result.table = None
            else:
                failed.append(result)
    if failed:
        refused = _refused(failed, quarantine_dir, accepted, run_id)
        refused.passed = [r for r in results if r.passed]
        raise refused
    return results


def _check_against(
    raw_dir: Path,
    accepted: Path,
    feed: FeedSettings,
    population: str | None,
    day: dt.date,
    cfg: ContractSettings,
    as_of: dt.date | None,
    tombstones: Tombstones | None = None,
) -> ContractResult:
    """One raw partition checked against the accepted tree: its recent days and the learners
    of the population feed (the population itself against its previous snapshot)."""
    ids = None if population is None or feed.population else _profile_ids(accepted, population, day)
    previous = (
        _profile_ids(accepted, feed.name, day - dt.timedelta(days=1)) if feed.population else None
    )
    return check_partition(
        raw_dir,
        feed,
        day,
        cfg,
        history_dir=accepted,
        profile_ids=ids,
        previous_profile=previous,
        as_of=as_of,
        tombstones=tombstones,
    )


def _refused(
    failed: list[ContractResult], quarantine_dir: Path, accepted: Path, run_id: str | None
) -> ContractViolation:
    """Quarantine every failed delivery (a missing one has nothing to move) and say so."""
    where: list[Path | None] = []
    for r in failed:
        if r.missing:
            where.append(None)
            _missing(r, quarantine_dir)
        else:
            where.append(quarantine(r, quarantine_dir, run_id=run_id, accepted_dir=accepted))
    return ContractViolation(failed, where)


def label_sources(models: Iterable[ModelSettings]) -> tuple[str, ...]:
    """Every model's label feed, once each: the label partitions the contract checks."""
    return tuple(dict.fromkeys(m.label_source for m in models))


def enforce_for(
    days: list[dt.date],
    *,
    layout: Layout,
    features: FeatureSettings,
    labels: Iterable[str],
    run_id: str | None = None,
    as_of: dt.date | None = None,
) -> list[ContractResult]:
    """``enforce`` as the features DAG and the CLI run it: every feature source of ``days``
    (``features.sources``, under ``features.contract``), the ``labels`` partitions (the models'
    label sources, :func:`label_sources`) when delivered, and every partition delivered for the
    earlier days that the materialization window reaches back into (allowed lateness). Erased
    learners (``layout.tombstones``) are dropped from every delivery."""
    lateness = features.contract.max_lateness_days
    first = min(days)
    earlier = tuple(first - dt.timedelta(days=i) for i in range(1, lateness + 1))
    return enforce(
        layout.raw,
        layout.quarantine,
        [features.feed(name) for name in features.sources or ()],
        days,
        features.contract,
        run_id=run_id,
        accepted_dir=layout.accepted,
        labels=[features.feed(name) for name in labels],
        also=earlier,
        as_of=as_of,
        tombstones=Tombstones.read(layout.tombstones, erasure_key),
    )
