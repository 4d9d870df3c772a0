"""The batch output with pseudonyms: what downstream systems read when learner ids must not
leave bantay (a model's ``output_ids: pseudonym``).

The prediction log keeps ``learner_id``: the drift check joins matured labels on it and an
erasure finds a learner's rows by it, so it stays inside bantay. Beside it scoring writes
``outputs/<model>/date=D/part-0.parquet`` with ``learner_pseudonym``
(:func:`bantay.features.tombstones.pseudonym`: HMAC-SHA256 of the id under the erasure key, 16
hex characters), the score, the version, the reasons and the time, and no id or feature value.
A downstream system that holds the key's pseudonyms of its own learners can join them; nobody
else can go back to the id. Re-running a day replaces its file; erasing a learner removes their
rows (matched by pseudonym); retention ages it with the prediction logs.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from bantay.features.tombstones import pseudonyms
from bantay.layout import Layout
from bantay.schema import ENTITY, PSEUDONYM, TIMESTAMP
from bantay.serving.experiment import SERVED_SCORE, SERVED_VERSION
from bantay.serving.reasons import REASON

# During an experiment, what staff see is the arm's score (served_*), kept beside production's.
OUTPUT_COLUMNS = ("score", "model_version", SERVED_SCORE, SERVED_VERSION)


def output_frame(predictions: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """The prediction log's rows as downstream may read them: pseudonym, time, score, version,
    reasons; never the id, a feature value or an attribution."""
    reasons = [c for c in predictions.columns if c.startswith(REASON.format(""))]
    keep = [c for c in (TIMESTAMP, *OUTPUT_COLUMNS, *reasons) if c in predictions.columns]
    out = predictions[keep].copy()
    out.insert(0, PSEUDONYM, pseudonyms(predictions[ENTITY].astype("int64").tolist(), key))
    return out.reset_index(drop=True)


def write_output(
    layout: Layout, model: str, day: dt.date, predictions: pd.DataFrame, key: bytes
) -> Path:
    """Write (replace) the day's pseudonymous output; its path."""
    path = layout.output_path(model, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    output_frame(predictions, key).to_parquet(tmp, index=False, coerce_timestamps="us")
    os.replace(tmp, path)
    return path
