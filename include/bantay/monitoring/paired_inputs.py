"""What a shadow comparison reads from the lake: the prediction-log days a shadow scored, and
the labels matured by the day of the comparison."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq

from bantay.layout import Layout
from bantay.monitoring.paired import SHADOW_SCORE
from bantay.monitoring.window import matured_labels
from bantay.settings import ModelSettings


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


def shadow_inputs(
    layout: Layout, model: ModelSettings, as_of: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(shadow-scored log rows, matured labels) for a comparison on ``as_of``: the labels of the
    drift check's lookback, and the log days they (and the still-waiting days) describe."""
    lookback = model.drift.label_lookback_days
    log = shadow_log(layout, model, as_of, lookback + model.label_delay_days + 1)
    return log, matured_labels(layout, model, as_of)
