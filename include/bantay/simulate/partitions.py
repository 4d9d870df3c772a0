"""Seeded simulator of the learner early-warning data, with drift knobs of known ground truth.

Every date is generated on its own from ``(seed, date)``: writing one date never needs the days
before it, and writing a date twice gives identical bytes. Learner ids are pseudonymous integers.

Partitions: ``<raw_dir>/<source>/date=YYYY-MM-DD/part-0.parquet`` for the three feature sources
and for ``term_outcomes`` (labels). A label observed on day *d* matures ``label_delay_days`` later
and is written to that later day's partition, like a real term outcome feed.

This module turns the scenario into partitions and parquet files; see the package docstring for the
other modules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bantay.layout import partition_path
from bantay.simulate.catalogue import LABEL_SOURCE, SOURCES
from bantay.simulate.labels import label_partition
from bantay.simulate.scenario import Scenario
from bantay.simulate.world import feature_partition


def partition(source: str, day: dt.date, scenario: Scenario) -> pd.DataFrame:
    """The partition of ``source`` that arrives on ``day``."""
    if source == LABEL_SOURCE:
        return label_partition(day, scenario)
    return feature_partition(source, day, scenario)


def write_table(frame: pd.DataFrame, path: Path) -> str:
    """Write ``frame`` as parquet with deterministic bytes (microsecond timestamps, no pandas
    index metadata); atomically, via a temp file and rename. Returns the sha256 of the bytes."""
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression="snappy", coerce_timestamps="us", write_statistics=True)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.replace(path)
    return digest


def write_day(
    raw_dir: Path, day: dt.date, scenario: Scenario, sources: tuple[str, ...] = SOURCES
) -> dict[str, Path]:
    """Write every source's partition for ``day``; re-writing gives identical bytes."""
    written = {}
    for source in sources:
        path = partition_path(raw_dir, source, day)
        write_table(partition(source, day, scenario), path)
        written[source] = path
    return written


def write_range(raw_dir: Path, start: dt.date, days: int, scenario: Scenario) -> list[dt.date]:
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    for day in dates:
        write_day(raw_dir, day, scenario)
    return dates
