"""Serving's task bodies with the collaborators the scoring DAG's tasks hand in
(``bantay.airflow.edge.for_model``): for tests that score without Airflow's scheduler."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bantay.airflow.edge import for_model
from bantay.serving.scoring import score_day
from bantay.settings import Settings
from bantay.stores.feast_store import store as feature_store


def score(settings: Settings, model: str, day: dt.date) -> dict[str, Any]:
    """``score_day`` of ``model`` for ``day``, as the scoring DAG's task calls it."""
    res = for_model(model, settings)
    return score_day(
        day,
        model=res.model,
        layout=res.layout,
        store=res.store,
        registry=res.registry,
        feast=feature_store(settings),
    )
