"""Reading one raw delivery: every file of a day's folder as one table (or the violations that
prevent reading it), and what the source's recent days looked like (row counts, the columns that
varied), which the row-count and frozen-column rules compare against. The data contract
(:mod:`bantay.features.contract`) checks what this reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bantay.features.rules import History, Violation, bounded
from bantay.layout import partition_path


def read_delivery(folder: Path) -> tuple[pa.Table | None, list[Violation], list[str]]:
    """Every file of one delivery folder as one table, or the violations that prevent it."""
    if folder.is_symlink():
        return None, [Violation("files", None, "the partition folder is a symlink", "a folder")], []
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no partition folder"
        return (
            None,
            [Violation("missing", None, f"{what} at {folder}", "a delivered partition")],
            [],
        )
    entries = sorted(folder.iterdir())
    names = [e.name for e in entries]
    if not entries:
        return None, [Violation("missing", None, f"empty folder {folder}", "a parquet file")], names
    odd = [e for e in entries if e.is_symlink() or not e.is_file() or e.suffix != ".parquet"]
    if odd:
        kinds = sorted(
            {
                "symlink" if e.is_symlink() else "folder" if e.is_dir() else "non-parquet file"
                for e in odd
            }
        )
        found = f"{len(odd)} unexpected entries ({', '.join(kinds)})"
        return None, [Violation("files", None, found, "only regular *.parquet files")], names
    tables = []
    for entry in entries:
        try:
            tables.append(pq.read_table(entry))
        except (OSError, pa.ArrowException) as exc:
            reason = "permission denied" if isinstance(exc, PermissionError) else str(exc)
            found = f"{entry.name}: {bounded(reason, 160)}"
            return None, [Violation("readable", None, found, "a readable parquet file")], names
    if len(tables) == 1:
        return tables[0], [], names
    try:
        return pa.concat_tables(tables, promote_options="none"), [], names
    except pa.ArrowException:
        found = f"{len(tables)} files with different schemas"
        return None, [Violation("schema", None, found, "one schema for every file of a day")], names


def recent_history(root: Path, source: str, day: dt.date, window: int) -> History:
    """Row counts and the columns that varied on the last ``window`` days under ``root``."""
    history = History()
    for back in range(1, window + 1):
        path = partition_path(root, source, day - dt.timedelta(days=back))
        if not path.is_file():
            continue
        meta = pq.ParquetFile(path).metadata
        history.row_counts.append(meta.num_rows)
        for i in range(meta.num_columns):
            name = meta.schema.column(i).name
            for rg in range(meta.num_row_groups):
                stats = meta.row_group(rg).column(i).statistics
                if stats is not None and stats.has_min_max and stats.min != stats.max:
                    history.varying.add(name)
    return history
