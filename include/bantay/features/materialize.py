"""Materialization of an explicit window (never Feast's own watermark), so re-runs and backfills
are idempotent; the days a run covers and the partitions it waits for."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path

from bantay.layout import partition_dir
from bantay.schema import SOURCE_FEATURES
from bantay.settings import Settings
from bantay.stores.feast_store import store

log = logging.getLogger(__name__)


def missing_partitions(
    settings: Settings, days: Iterable[dt.date], sources: Iterable[str]
) -> list[Path]:
    """Partition folders with no parquet file yet, for the sensor; cheap listings only.

    Any ``*.parquet`` file counts as arrived (a writer may split a day into several files); the
    data contract then reads every file of the folder.
    """
    return [
        p
        for d in days
        for s in sources
        if not any((p := partition_dir(settings.raw_dir, s, d)).glob("*.parquet"))
    ]


def day_range(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise ValueError(f"end date {end} is before start date {start}; swap them")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def materialization_window(
    settings: Settings, days: list[dt.date]
) -> tuple[dt.datetime, dt.datetime]:
    """[first day - allowed lateness, last day end]: late rows of the day before are included."""
    lateness = dt.timedelta(days=settings.features.contract.max_lateness_days)
    start = dt.datetime.combine(min(days), dt.time(), dt.UTC) - lateness
    # Feast's SQL offline stores filter with BETWEEN (both ends inclusive): stop 1 us before midnight.
    end = dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time(), dt.UTC)
    return start, end - dt.timedelta(microseconds=1)


def materialize(
    settings: Settings, days: list[dt.date], *, views: Iterable[str] | None = None
) -> dict:
    """Materialize exactly the window of ``days`` into the online store.

    Feast's sources read only the accepted tree (``<data>/accepted/``), so only rows the data
    contract accepted can be materialized, whatever else sits in the raw tree.
    The online store holds the latest value per learner. A backfill of days older than what is
    already online would overwrite newer values with older ones on stores that do not compare
    event times (SQLite, and Redis with ``skip_dedup``, as the shipped Redis profiles write), so
    such views are skipped: the offline store (the accepted partitions) still serves those days
    to training. Re-running the newest window rewrites the same values.
    """
    fs = store(settings)
    start, end = materialization_window(settings, days)
    names = list(views or SOURCE_FEATURES)
    todo, skipped = [], {}
    for name in names:
        fv = fs.get_feature_view(name)
        latest = max((iv[1] for iv in fv.materialization_intervals), default=None)
        if latest is not None and end < latest:
            skipped[name] = latest.isoformat()
        else:
            todo.append(fv)
    if skipped:
        log.info("online store already newer than %s for %s; offline store only", end, skipped)
    if todo:
        log.info("materializing %s for [%s, %s)", [v.name for v in todo], start, end)
        fs.materialize(start_date=start, end_date=end, feature_views=[v.name for v in todo])
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "materialized": [v.name for v in todo],
        "skipped_newer_online": skipped,
    }
