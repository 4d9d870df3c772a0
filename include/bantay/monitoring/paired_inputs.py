"""What a shadow comparison reads: the prediction-log days a shadow scored, the labels matured
by the day of the comparison, and each scoring version's decision threshold from the registry."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow.parquet as pq

from bantay.layout import Layout
from bantay.monitoring.paired import (
    SHADOW_SCORE,
    SHADOW_VERSION,
    PairedComparison,
    PairedDataError,
    compare_shadow,
    version_threshold,
)
from bantay.monitoring.window import matured_labels
from bantay.settings import ModelSettings

if TYPE_CHECKING:
    from bantay.stores.registry import Registry


def shadow_log(layout: Layout, model: ModelSettings, as_of: dt.date, days: int) -> pd.DataFrame:
    """The shadow-scored rows of the ``days`` prediction-log days ending on ``as_of``."""
    parts = []
    for i in range(days):
        path = layout.prediction_path(model.name, as_of - dt.timedelta(days=i))
        if not path.is_file() or SHADOW_SCORE not in pq.read_schema(path).names:
            continue
        frame = pd.read_parquet(path)
        frame = frame[frame[SHADOW_SCORE].notna()]
        if len(frame):
            parts.append(frame)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def thresholds_of(registry: Registry, model: str, log: pd.DataFrame) -> dict[str, float]:
    """The decision threshold of every version that scored ``log`` (production or shadow)."""
    versions = set(log["model_version"].dropna().astype(str)) | set(
        log[SHADOW_VERSION].dropna().astype(str)
    )
    out = {}
    for version in sorted(versions):
        record = registry.versions.get(model, version)
        out[version] = version_threshold(record.metrics if record else None)
    return out


def shadow_report(
    model: ModelSettings,
    layout: Layout,
    registry: Registry,
    as_of: dt.date,
    *,
    alpha: float = 0.05,
    bootstrap: int = 1000,
    acting_capacity: int | None = None,
) -> PairedComparison:
    """Production against the staged shadow on the labels matured by ``as_of``: the learners
    of the drift check's label lookback (and the days still waiting for their labels).
    ``acting_capacity``: the most flags staff act on a day, to judge below the acting cut."""
    days = model.drift.label_lookback_days + model.label_delay_days + 1
    log = shadow_log(layout, model, as_of, days)
    if log.empty:
        first = as_of - dt.timedelta(days=days - 1)
        raise PairedDataError(
            f"no shadow has scored {model.name} from {first} to {as_of} "
            f"({layout.predictions / model.name}); stage one with 'bantay shadow --model "
            f"{model.name} --to VERSION' and let bantay_scoring run; labels then mature "
            f"{model.label_delay_days} days after each scored day"
        )
    return compare_shadow(
        log,
        matured_labels(layout, model, as_of),
        model=model.name,
        label=model.label,
        as_of=as_of,
        label_delay_days=model.label_delay_days,
        thresholds=thresholds_of(registry, model.name, log),
        slices=model.slices,
        alpha=alpha,
        bootstrap=bootstrap,
        acting_capacity=acting_capacity,
    )
