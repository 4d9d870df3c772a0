"""A lake holding a shadow's nightly scores and the labels that matured since: prediction-log
partitions with ``shadow_score`` and accepted ``term_outcomes`` partitions, written where the
pipeline writes them, for the shadow comparison's tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from bantay.layout import Layout, partition_path

MODEL = "learner_risk"
DELAY = 14


def stamp(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(23, 59), dt.UTC))


def write_shadow_days(
    data: Path, days: list[dt.date], learners: int = 800, shadow_gain: float = 1.0, seed: int = 0
) -> None:
    """Each day scored by production p1 and shadow s1 (``shadow_gain`` more signal), and its
    label partition arriving ``DELAY`` days later in the accepted tree."""
    layout = Layout(home=data, data=data)
    rng = np.random.default_rng(seed)
    for day in days:
        y = (rng.random(learners) < 0.3).astype(np.int64)
        log = pd.DataFrame(
            {
                "learner_id": np.arange(100_001, 100_001 + learners, dtype=np.int64),
                "event_timestamp": stamp(day),
                "region": np.where(np.arange(learners) % 2 == 0, "ncr", "luzon"),
                "grade_level": (np.arange(learners) % 12 + 1).astype(np.int64),
                "parent_abroad": (np.arange(learners) % 3 == 0).astype(np.int64),
                "score": 1 / (1 + np.exp(-(y + rng.normal(0, 1, learners)))),
                "model_version": "p1",
                "shadow_score": 1
                / (1 + np.exp(-((1 + shadow_gain) * y + rng.normal(0, 1, learners)))),
                "shadow_version": "s1",
            }
        )
        path = layout.prediction_path(MODEL, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(path, index=False)
        labels = log[["learner_id", "event_timestamp"]].assign(at_risk=y)
        label_path = partition_path(
            layout.accepted, "term_outcomes", day + dt.timedelta(days=DELAY)
        )
        label_path.parent.mkdir(parents=True, exist_ok=True)
        labels.to_parquet(label_path, index=False)
