"""Erasing one learner from the drift check's evidence samples.

What the drift check keeps in S3 per day (``reports/drift/<model>/<day>/``): ``report.html`` and
``report.json`` (Evidently's summaries: distributions, statistics, no row and no id) and
``check.json``, the e-mail's parts and the evidence charts' samples: the values of up to three
evidence columns for up to 5,000 reference rows and 5,000 rows of the day, without ids, numbers
at chart precision (4 significant digits). Those samples are rows of learners: an erasure removes
the learner's, matched by value on the sample's columns, one sample row per row of theirs (a
row of theirs in the prediction log for the current sample, in a version's reference or
re-baseline for the reference sample). Another learner's identical row may be the one removed;
the sample then holds exactly what it would have held without the learner.

It runs before the prediction logs and references lose the learner's rows: they are what
recognises them.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds

from bantay.layout import Layout
from bantay.monitoring.day_check import CHECK_FILE
from bantay.schema import ENTITY
from bantay.stores.model_store import ArtifactCorrupt, ModelStore

SAMPLES = ("reference", "current")


@dataclass(frozen=True)
class SampleErased:
    """A day's check.json whose samples held the learner's rows."""

    model: str
    day: str
    rows: int
    uri: str


def normal(value: Any) -> Any:
    """A sample value as check.json writes it: numbers at chart precision, the rest as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) or hasattr(value, "dtype"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        return float(f"{number:.4g}") if math.isfinite(number) else None
    return str(value)


def _learner_frame(frame: pd.DataFrame, learner: int) -> pd.DataFrame:
    if ENTITY not in frame.columns:
        return frame.iloc[0:0]
    return frame[frame[ENTITY].astype("string").str.strip() == str(learner)]


def prediction_rows(layout: Layout, model: str, learner: int) -> pd.DataFrame:
    """The learner's rows in every day of a model's prediction log."""
    root = layout.predictions / model
    if not root.is_dir():
        return pd.DataFrame()
    data = ds.dataset(root, format="parquet", partitioning="hive", exclude_invalid_files=True)
    if ENTITY not in data.schema.names:
        return pd.DataFrame()
    ids = ds.field(ENTITY)
    kind = data.schema.field(ENTITY).type
    value = learner if str(kind).startswith(("int", "uint")) else str(learner)
    return data.to_table(filter=pc.equal(ids, value)).to_pandas()


def _of_day(rows: pd.DataFrame, day: str) -> pd.DataFrame:
    """The rows of one day's prediction log (its ``date`` partition)."""
    if rows.empty or "date" not in rows.columns:
        return rows
    return rows[rows["date"].astype(str) == day]


def reference_rows(store: ModelStore, registry: Any, model: str, learner: int) -> pd.DataFrame:
    """The learner's rows in every version's reference and re-baseline of ``model``."""
    frames = [
        _learner_frame(store.versions.reference(model, v), learner)
        for v in store.versions.of(model)
    ]
    for record in registry.baselines.of(model):
        try:
            frame = store.baselines.read(record.reference_uri, record.sha256)
        except ArtifactCorrupt:
            continue  # a deleted older re-baseline: nothing left to recognise
        frames.append(_learner_frame(frame, learner))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def drop_from_sample(sample: dict[str, list[Any]], rows: pd.DataFrame) -> int:
    """Remove from a column-wise sample one row per row of ``rows`` with equal values in every
    sample column; the number removed (``sample`` is changed in place)."""
    columns = [c for c in sample if c in rows.columns]
    if not columns or len(columns) != len(sample) or rows.empty:
        return 0
    wanted = Counter(tuple(normal(v) for v in row) for row in rows[columns].itertuples(False))
    keep, removed = [], 0
    n = len(next(iter(sample.values()))) if sample else 0
    for i in range(n):
        key = tuple(normal(sample[c][i]) for c in columns)
        if wanted.get(key):
            wanted[key] -= 1
            removed += 1
        else:
            keep.append(i)
    if removed:
        for column in sample:
            sample[column] = [sample[column][i] for i in keep]
    return removed


def erase_samples(
    store: ModelStore,
    registry: Any,
    layout: Layout,
    models: list[str],
    learner: int,
    *,
    dry_run: bool,
) -> list[SampleErased]:
    """Every day's evidence samples (check.json) without the learner's rows; rewritten unless
    ``dry_run``. Run it before the prediction logs and references are erased."""
    found = []
    objects = store.objects
    for model in models:
        rows = {
            "current": prediction_rows(layout, model, learner),
            "reference": reference_rows(store, registry, model, learner)
            if model in store.versions.models()
            else pd.DataFrame(),
        }
        if rows["current"].empty and rows["reference"].empty:
            continue
        prefix = f"{objects.prefix}/reports/drift/{model}/"
        for key in objects.keys_under(prefix):
            if not key.endswith(f"/{CHECK_FILE}"):
                continue
            got = objects.get(key)
            if got is None:
                continue
            data = json.loads(got[0])
            evidence = data.get("evidence") or {}
            day = key.rsplit("/", 2)[1]
            of_day = {"current": _of_day(rows["current"], day), "reference": rows["reference"]}
            removed = sum(drop_from_sample(evidence.get(s) or {}, of_day[s]) for s in SAMPLES)
            if not removed:
                continue
            if not dry_run:
                body = json.dumps(data).encode()
                store.reports.put(model, day, CHECK_FILE, body, "application/json")
            found.append(SampleErased(model, day, removed, objects.uri(key)))
    return found
