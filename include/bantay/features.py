"""Feast glue: environment for ``feature_store.yaml``, apply as a deploy step, and materialization
of an explicit window (never Feast's own watermark), so re-runs and backfills are idempotent."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from bantay.config import Settings, bantay_home
from bantay.schema import SOURCE_FEATURES

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

log = logging.getLogger(__name__)


def feast_env(settings: Settings) -> dict[str, str]:
    """The ``${ENV}`` values ``feature_store.yaml`` needs; set in ``os.environ`` unless already set.

    In the stack these come from the deployment (compose or Helm); locally they default to files
    under ``BANTAY_HOME``.
    """
    home = bantay_home()
    defaults = {
        "BANTAY_DATA_DIR": str(settings.data_dir),
        "BANTAY_FEAST_REGISTRY_URL": f"sqlite:///{home / 'feast_registry.db'}",
        "BANTAY_FEAST_ONLINE_PATH": str(home / "online_store.db"),
        "BANTAY_FEAST_REDIS": "127.0.0.1:6379",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    home.mkdir(parents=True, exist_ok=True)
    return {k: os.environ[k] for k in defaults}


def repo_path(settings: Settings) -> Path:
    path = settings.feast.repo_path
    if not path.is_absolute():
        # Relative to the project root (the parent of include/), not the worker's cwd.
        root = Path(__file__).resolve().parents[2]
        path = (root / path) if (root / path).is_dir() else path.resolve()
    if not (path / settings.feast.store_yaml).is_file():
        raise FileNotFoundError(
            f"feast.repo_path: no {settings.feast.store_yaml} in {path}; set feast.repo_path in "
            "bantay.yaml (or BANTAY_FEAST__REPO_PATH) to the feature_repo folder"
        )
    return path


def store(settings: Settings) -> FeatureStore:
    from feast import FeatureStore

    feast_env(settings)
    path = repo_path(settings)
    return FeatureStore(repo_path=str(path), fs_yaml_file=path / settings.feast.store_yaml)


def apply(settings: Settings) -> None:
    """``feast apply`` as a deploy step (never from the nightly DAG: apply can reset watermarks)."""
    env = os.environ | feast_env(settings)
    path = repo_path(settings)
    feast = Path(sys.executable).with_name("feast")
    # Sources are globs over daily partitions that may not exist yet at deploy time; the data
    # contract, not apply, is what checks the data.
    cmd = [
        str(feast),
        "--chdir",
        str(path),
        "--feature-store-yaml",
        settings.feast.store_yaml,
        "apply",
        "--skip-source-validation",
    ]
    log.info("running %s", " ".join(cmd))
    subprocess.run(cmd, env=env, check=True, cwd=path)


def partition_path(settings: Settings, source: str, day: dt.date) -> Path:
    return settings.raw_dir / source / f"date={day.isoformat()}" / "part-0.parquet"


def missing_partitions(
    settings: Settings, days: Iterable[dt.date], sources: Iterable[str]
) -> list[Path]:
    """Partitions not arrived yet, for the sensor; cheap stat calls only."""
    return [p for d in days for s in sources if not (p := partition_path(settings, s, d)).is_file()]


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

    The online store holds the latest value per learner. A backfill of days older than what is
    already online would overwrite newer values with older ones on stores that do not compare
    event times (SQLite), so such views are skipped: the offline store (the raw partitions) still
    serves those days to training. Re-running the newest window rewrites the same values.
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


def online_features(
    settings: Settings, learner_ids: list[int], feature_service: str
) -> pd.DataFrame:
    """Online features for ``learner_ids`` by feature service, as a DataFrame."""
    fs = store(settings)
    service = fs.get_feature_service(feature_service)
    rows = [{"learner_id": int(i)} for i in learner_ids]
    return fs.get_online_features(features=service, entity_rows=rows).to_df()
