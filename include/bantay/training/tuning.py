"""Tuning: the model's search space as trials, and one trial fitted on train and scored on
validation (one mapped task each in the training DAG)."""

from __future__ import annotations

import logging
from typing import Any

from threadpoolctl import threadpool_limits

from bantay.settings import ModelSettings
from bantay.settings.search_space import expand_search_space
from bantay.training.dataset import load_split
from bantay.training.pipeline import fit_and_score

log = logging.getLogger(__name__)


def trials(model: ModelSettings) -> list[dict[str, Any]]:
    """Every setting of the model's search space, JSON-able (one mapped tune task each)."""
    return [dict(t) for t in expand_search_space(model.search_space)]


def tune_one(
    training: dict[str, Any], trial: dict[str, Any], *, model: ModelSettings
) -> dict[str, Any]:
    """Fit ``trial`` on the train part of the training set and score it on the validation part."""
    split = load_split(model, training["path"])
    # Mapped trials share a worker's cores: one thread each beats oversubscribed BLAS/OpenMP.
    with threadpool_limits(limits=1):
        result = fit_and_score(
            trial, split.train, split.valid, training["features"], label_col=model.label
        )
    log.info("trial %s: %s", trial.get("trial_id"), result.to_dict())
    return result.to_dict()
