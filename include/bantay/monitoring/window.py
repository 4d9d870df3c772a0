"""What a day's drift check reads from the lake: the prediction log of the window, the labels
that matured by the day, and the logged predictions those labels belong to."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from bantay.layout import PARTITION_FILE, PARTITION_GLOB, Layout, partition_day
from bantay.monitoring.frames import sample
from bantay.schema import ENTITY, TIMESTAMP
from bantay.serving.reasons import ATTRIBUTION, REASON
from bantay.settings import ModelSettings

# The column that says on which day a label matured (the accepted partition it arrived in).
MATURED = "_matured"


def read_log(path: Path, *, first_reason: bool = False, attributions: bool = True) -> pd.DataFrame:
    """One day of the prediction log without the columns the check never reads: the reasons'
    texts (the largest columns of the log; ``first_reason`` keeps the first, which the top
    reason's change compares) and, unless ``attributions``, every feature's attribution."""
    keep = REASON.format(1) if first_reason else None
    names = [
        c
        for c in pq.read_schema(path).names
        if (not c.startswith(REASON.format("")) or c == keep)
        and (attributions or not c.startswith(ATTRIBUTION.format("")))
    ]
    return pd.read_parquet(path, columns=names)


def current_window(layout: Layout, model: ModelSettings, day: dt.date) -> pd.DataFrame:
    """The prediction log of the ``window_days`` days ending on ``day``, as :func:`read_log`
    reads it (the first reason on ``day`` and the day before only)."""
    days = model.drift.window_days
    paths = [layout.prediction_path(model.name, day - dt.timedelta(days=i)) for i in range(days)]
    if not any(p.is_file() for p in paths):
        raise FileNotFoundError(
            f"no prediction log for {model.name} on {day} ({paths[0]}); bantay_scoring has not "
            "run for that day: run it (trigger bantay_scoring with date) and then re-run this task"
        )
    frames = [read_log(p, first_reason=i < 2) for i, p in enumerate(paths) if p.is_file()]
    return pd.concat(frames, ignore_index=True)


def matured_labels(
    layout: Layout, model: ModelSettings, day: dt.date, first: dt.date | None = None
) -> pd.DataFrame:
    """Labels that matured by ``day`` within the lookback (or from ``first`` on), with the day
    each one matured (from the accepted tree: only label partitions the data contract passed)."""
    root = layout.accepted / model.label_source
    first = first or day - dt.timedelta(days=model.drift.label_lookback_days)
    parts = []
    for path in sorted(root.glob(f"{PARTITION_GLOB}/{PARTITION_FILE}")):
        matured = partition_day(path.parent)
        if first <= matured <= day:
            frame = pd.read_parquet(path, columns=[ENTITY, TIMESTAMP, model.label])
            parts.append(frame.assign(**{MATURED: pd.Timestamp(matured)}))
    if not parts:
        return pd.DataFrame(columns=[ENTITY, TIMESTAMP, model.label, MATURED])
    return pd.concat(parts, ignore_index=True)


def labelled_predictions(
    layout: Layout, model: ModelSettings, labels: pd.DataFrame
) -> pd.DataFrame | None:
    """Every prediction-log row with a matured label, whichever version scored it (its
    ``model_version`` stays a column); at most ``sample_size`` rows per labelled day.

    Labels mature weeks after the day they describe and versions are promoted more often, so
    keeping only the production version's own rows would leave nothing to judge; the logged
    features let :func:`bantay.monitoring.backtest.backtest` score every row with the
    production version instead.
    """
    if labels.empty:
        return None
    right = labels[[ENTITY, TIMESTAMP, model.label]].drop_duplicates(
        [ENTITY, TIMESTAMP], keep="last"
    )
    parts = []
    for observed in sorted(pd.to_datetime(right[TIMESTAMP], utc=True).dt.date.unique()):
        path = layout.prediction_path(model.name, observed)
        if not path.is_file():
            continue
        log_day = read_log(path, attributions=False).drop(columns=[model.label], errors="ignore")
        joined = log_day.merge(right, on=[ENTITY, TIMESTAMP], how="inner")
        del log_day  # one day's full log in memory at a time
        if len(joined):
            parts.append(sample(joined, model.drift.sample_size, model.drift.seed))
    if not parts:
        return None
    return pd.concat(parts, ignore_index=True)
