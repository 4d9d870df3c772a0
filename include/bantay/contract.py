"""The data contract: checks a raw partition must pass before any of its rows are materialized.

A partition that fails is moved, whole, to ``<data>/quarantine/<source>/date=<day>/`` beside a
machine-readable ``reason.json``, so the Feast source glob (``raw/<source>/date=*``) never sees it
and nothing of it reaches the online store. The error a person reads says which partition, which
rule, what was found, and what to do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import shutil
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bantay.config import ContractSettings
from bantay.schema import CREATED, ENTITY, RANGES, REGIONS, TIMESTAMP, source_columns

log = logging.getLogger(__name__)

RULES = ("readable", "schema", "nulls", "range", "duplicates", "timestamps", "row_count")

# Per-column null tolerance: profile columns must be complete, activity may have gaps.
_MAX_NULL_RATIO = {"grade_level": 0.0, "region": 0.0, "parent_abroad": 0.0}
_DEFAULT_MAX_NULL_RATIO = 0.02


@dataclass(frozen=True)
class Violation:
    rule: str
    column: str | None
    found: str
    expected: str

    def sentence(self) -> str:
        where = f" column {self.column!r}" if self.column else ""
        return f"[{self.rule}]{where}: found {self.found}; expected {self.expected}"


@dataclass
class ContractResult:
    source: str
    day: dt.date
    path: str
    rows: int
    violations: list[Violation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "date": self.day.isoformat(),
            "path": self.path,
            "rows": self.rows,
            "passed": self.passed,
            "violations": [asdict(v) for v in self.violations],
        }


class ContractViolation(RuntimeError):
    """One or more partitions broke the data contract and were quarantined."""

    def __init__(self, results: list[ContractResult], quarantined: list[Path]):
        self.results = results
        self.quarantined = quarantined
        lines = []
        for res, where in zip(results, quarantined, strict=True):
            lines.append(f"- {res.source} {res.day} ({res.rows} rows) moved to {where}:")
            lines.extend(f"    {v.sentence()}" for v in res.violations)
        super().__init__(
            "data contract failed; nothing from these partitions was materialized:\n"
            + "\n".join(lines)
            + "\nFix the upstream feed, write a corrected partition to the raw location, then "
            "clear this task (the quarantined copy and reason.json stay for the post-mortem)."
        )


def _arrow_kind(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_integer(t):
        return "int64"
    if pa.types.is_floating(t):
        return "float64"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return "string"
    return str(t)


def _recent_row_counts(raw_dir: Path, source: str, day: dt.date, window: int) -> list[int]:
    counts = []
    for back in range(1, window + 1):
        p = (
            raw_dir
            / source
            / f"date={(day - dt.timedelta(days=back)).isoformat()}"
            / "part-0.parquet"
        )
        if p.is_file():
            counts.append(pq.ParquetFile(p).metadata.num_rows)
    return counts


def check_table(
    table: pa.Table,
    source: str,
    day: dt.date,
    cfg: ContractSettings,
    recent_counts: list[int] | None = None,
) -> list[Violation]:
    """Every contract rule against one partition; returns all violations, not just the first."""
    out: list[Violation] = []
    expected = source_columns(source)
    actual = {name: _arrow_kind(table.schema.field(name).type) for name in table.column_names}
    missing = [c for c in expected if c not in actual]
    extra = [c for c in actual if c not in expected]
    wrong = [c for c in expected if c in actual and actual[c] != expected[c]]
    if missing:
        out.append(Violation("schema", None, f"missing columns {missing}", f"{list(expected)}"))
    if extra:
        out.append(Violation("schema", None, f"unexpected columns {extra}", f"{list(expected)}"))
    for c in wrong:
        out.append(Violation("schema", c, f"type {actual[c]}", f"type {expected[c]}"))
    if missing or wrong:
        return out  # value rules on the wrong schema would only add noise
    n = table.num_rows
    if n == 0:
        out.append(Violation("row_count", None, "0 rows", "a non-empty daily partition"))
        return out

    for col in expected:
        nulls = table[col].null_count
        limit = (
            0.0
            if col in (ENTITY, TIMESTAMP, CREATED)
            else _MAX_NULL_RATIO.get(col, _DEFAULT_MAX_NULL_RATIO)
        )
        if nulls / n > limit:
            out.append(
                Violation(
                    "nulls", col, f"{nulls / n:.1%} nulls ({nulls} of {n})", f"at most {limit:.1%}"
                )
            )

    for col, (lo, hi) in RANGES.items():
        if col not in expected:
            continue
        mm = pc.min_max(table[col])
        cmin, cmax = mm["min"].as_py(), mm["max"].as_py()
        if cmin is None:
            continue
        if cmin < lo or cmax > hi:
            bad = pc.sum(pc.or_(pc.less(table[col], lo), pc.greater(table[col], hi))).as_py()
            out.append(
                Violation(
                    "range",
                    col,
                    f"{bad} values outside, min {cmin:g} max {cmax:g}",
                    f"within [{lo:g}, {hi:g}]",
                )
            )
    if "region" in expected:
        seen = set(pc.unique(table["region"]).to_pylist()) - {None}
        unknown = sorted(seen - set(REGIONS))
        if unknown:
            out.append(
                Violation(
                    "range", "region", f"unknown categories {unknown}", f"one of {list(REGIONS)}"
                )
            )

    keys = (
        table.select([ENTITY, TIMESTAMP])
        .group_by([ENTITY, TIMESTAMP])
        .aggregate([([], "count_all")])
    )
    dupes = n - keys.num_rows
    if dupes / n > cfg.max_duplicate_ratio:
        out.append(
            Violation(
                "duplicates",
                f"{ENTITY}+{TIMESTAMP}",
                f"{dupes} duplicate keys",
                f"at most {cfg.max_duplicate_ratio:.1%}",
            )
        )

    start = dt.datetime.combine(day - dt.timedelta(days=cfg.max_lateness_days), dt.time(), dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
    ts = table[TIMESTAMP]
    if ts.type.tz is None:
        out.append(
            Violation("timestamps", TIMESTAMP, "naive timestamps", "UTC timestamps (tz-aware)")
        )
    else:
        mm = pc.min_max(ts)
        tmin, tmax = mm["min"].as_py(), mm["max"].as_py()
        if tmin < start or tmax >= end:
            out.append(
                Violation(
                    "timestamps",
                    TIMESTAMP,
                    f"range {tmin.isoformat()} .. {tmax.isoformat()}",
                    f"inside [{start.isoformat()}, {end.isoformat()}) (the interval plus "
                    f"{cfg.max_lateness_days} day(s) of allowed lateness)",
                )
            )

    if recent_counts:
        typical = statistics.median(recent_counts)
        ratio = n / typical if typical else float("inf")
        if not cfg.min_row_ratio <= ratio <= cfg.max_row_ratio:
            out.append(
                Violation(
                    "row_count",
                    None,
                    f"{n} rows, {ratio:.2f}x the median of the last {len(recent_counts)} days ({typical:g})",
                    f"between {cfg.min_row_ratio}x and {cfg.max_row_ratio}x",
                )
            )
    return out


def check_partition(
    raw_dir: Path, source: str, day: dt.date, cfg: ContractSettings
) -> ContractResult:
    """Read one raw partition and check it; an unreadable file is itself a violation."""
    path = raw_dir / source / f"date={day.isoformat()}" / "part-0.parquet"
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        return ContractResult(
            source,
            day,
            str(path),
            0,
            [Violation("readable", None, str(exc), "a readable parquet file")],
        )
    recent = _recent_row_counts(raw_dir, source, day, cfg.row_count_window_days)
    return ContractResult(
        source, day, str(path), table.num_rows, check_table(table, source, day, cfg, recent)
    )


def quarantine(result: ContractResult, quarantine_dir: Path, *, run_id: str | None = None) -> Path:
    """Move a failed partition out of the raw tree, with ``reason.json`` beside it.

    The reason is written first, then the file is moved with a rename, so a crash never leaves the
    partition in both places or in neither.
    """
    src = Path(result.path)
    dest_dir = quarantine_dir / result.source / f"date={result.day.isoformat()}"
    dest_dir.mkdir(parents=True, exist_ok=True)
    reason = result.to_dict() | {
        "quarantined_at": dt.datetime.now(dt.UTC).isoformat(),
        "run_id": run_id,
        "original_path": str(src),
    }
    (dest_dir / "reason.json").write_text(json.dumps(reason, indent=2, sort_keys=True))
    dest = dest_dir / src.name
    if src.exists():
        shutil.move(str(src), dest)
        with contextlib.suppress(OSError):
            src.parent.rmdir()
    log.warning(
        "quarantined %s %s: %s",
        result.source,
        result.day,
        "; ".join(v.sentence() for v in result.violations),
    )
    return dest_dir


def enforce(
    raw_dir: Path,
    quarantine_dir: Path,
    sources: tuple[str, ...],
    days: list[dt.date],
    cfg: ContractSettings,
    *,
    run_id: str | None = None,
) -> list[ContractResult]:
    """Check every (source, day); quarantine failures and raise ``ContractViolation`` if any."""
    results = [check_partition(raw_dir, s, d, cfg) for d in days for s in sources]
    failed = [r for r in results if not r.passed]
    for r in results:
        if r.passed:
            log.info("contract ok: %s %s (%d rows)", r.source, r.day, r.rows)
    if failed:
        where = [quarantine(r, quarantine_dir, run_id=run_id) for r in failed]
        raise ContractViolation(failed, where)
    return results
