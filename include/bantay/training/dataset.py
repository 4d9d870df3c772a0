"""The training set of a run: matured labels from the accepted tree as the entity frame,
features from Feast's point-in-time join by the model's feature service, and its temporal split.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.dataset as ds

from bantay.layout import PARTITION_FILE, PARTITION_GLOB, Layout
from bantay.schema import ENTITY, TIMESTAMP
from bantay.settings import ModelSettings
from bantay.training.run import RunContext, run_dir
from bantay.training.split import Split, temporal_split

if TYPE_CHECKING:
    from feast import FeatureService, FeatureStore

log = logging.getLogger(__name__)


def load_labels(layout: Layout, model: ModelSettings, as_of: dt.datetime) -> pd.DataFrame:
    """Labels that had matured by ``as_of`` (partition date <= as_of), inside the training window.

    Read from the accepted tree only: label partitions the data contract passed."""
    root = layout.accepted / model.label_source
    cutoff = as_of.date()
    first = cutoff - dt.timedelta(days=model.training_window_days)
    files = [
        p
        for p in sorted(root.glob(f"{PARTITION_GLOB}/{PARTITION_FILE}"))
        if first <= dt.date.fromisoformat(p.parent.name.split("=", 1)[1]) <= cutoff
    ]
    if not files:
        raise FileNotFoundError(
            f"no accepted labels for model {model.name!r} under {root} between {first} and "
            f"{cutoff}; run bantay_features for those days (it validates the label feed), check "
            "the feed and quarantine/, or widen training_window_days"
        )
    frame = ds.dataset([str(p) for p in files], format="parquet").to_table().to_pandas()
    frame = frame[frame[TIMESTAMP] < pd.Timestamp(as_of)]
    return frame[[ENTITY, TIMESTAMP, model.label]].drop_duplicates([ENTITY, TIMESTAMP], keep="last")


def build_training_set(
    ctx: RunContext, *, model: ModelSettings, layout: Layout, feast: FeatureStore
) -> dict[str, Any]:
    """Labels as the entity frame, features from Feast's point-in-time join by feature service;
    written to the run's folder, summarised for the next tasks."""
    labels = load_labels(layout, model, dt.datetime.fromisoformat(ctx.as_of))
    service = feast.get_feature_service(model.feature_service)
    frame = feast.get_historical_features(entity_df=labels, features=service).to_df()
    frame = frame.sort_values([TIMESTAMP, ENTITY]).reset_index(drop=True)
    path = run_dir(layout, ctx) / "training.parquet"
    frame.to_parquet(path, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
    views = sorted({p.name for p in service.feature_view_projections})
    features = service_features(service, model.categorical)
    summary = {
        "path": str(path),
        "rows": len(frame),
        "positives": int(frame[model.label].sum()),
        "window": [str(frame[TIMESTAMP].min()), str(frame[TIMESTAMP].max())],
        "feature_service": model.feature_service,
        "feature_views": views,
        "features": features,
    }
    log.info("training set: %s", summary)
    return summary


def service_features(
    service: FeatureService, categorical_columns: Collection[str]
) -> dict[str, list[str]]:
    """The model's features from its Feast FeatureService, split by kind (for pipelines): the
    categorical ones are those its feeds declare categorical (``ModelSettings.categorical``)."""
    names = [f.name for p in service.feature_view_projections for f in p.features]
    categorical = [n for n in names if n in categorical_columns]
    return {"numerical": [n for n in names if n not in categorical], "categorical": categorical}


def load_split(model: ModelSettings, path: str) -> Split:
    """The training set at ``path`` split in time by the model's fractions."""
    return temporal_split(
        pd.read_parquet(path), fractions=tuple(model.split), label_col=model.label
    )
