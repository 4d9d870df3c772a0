"""The model a version publishes and its drift reference: the chosen trial refit on every row of
the training set, written into a folder. A training run and a reproduction of its version
(``bantay.training.reproduce``) go through these same functions, so equal inputs give equal bytes.

Deterministic by construction: the rows come in the order the temporal split sorts them (event
time, stably, from a training set sorted by time and learner), the estimators are seeded
(``bantay.training.pipeline``), the fit runs on one BLAS/OpenMP thread (a parallel reduction may
add in another order), and joblib writes equal fitted pipelines as equal bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from bantay.settings import ModelSettings
from bantay.training.pipeline import FeaturesLike, fit_final
from bantay.training.reference import build_reference
from bantay.training.split import Split

if TYPE_CHECKING:
    from feast import FeatureStore

MODEL_FILE, REFERENCE_FILE = "model.joblib", "reference.parquet"


def all_rows(split: Split) -> pd.DataFrame:
    """Every row of the training set, in the split's time order (train, valid, test)."""
    return pd.concat([split.train, split.valid, split.test], ignore_index=True)


def fit_published(
    trial: Any, everything: pd.DataFrame, features: FeaturesLike, *, label_col: str
) -> Pipeline:
    """``trial`` refit on ``everything``, on one thread so the result does not depend on the
    worker's cores."""
    with threadpool_limits(limits=1):
        return fit_final(trial, everything, features, label_col=label_col)


def write_published(
    trial: Any,
    everything: pd.DataFrame,
    features: FeaturesLike,
    window: dict[str, Any],
    *,
    model: ModelSettings,
    feast: FeatureStore,
    folder: Path,
) -> Pipeline:
    """Fit the published model and write it (``model.joblib``) and its drift reference over
    ``window`` (``reference.parquet``) into ``folder``; returns the fitted model."""
    final = fit_published(trial, everything, features, label_col=model.label)
    joblib.dump(final, folder / MODEL_FILE)
    reference = build_reference(final, everything, features, window, model=model, feast=feast)
    reference.to_parquet(folder / REFERENCE_FILE, index=False)
    return final
