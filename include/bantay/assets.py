"""Airflow Assets that connect bantay's DAGs. Light: imported by DAG files at parse time."""

from __future__ import annotations

from airflow.sdk import Asset


def features_asset(project: str = "bantay") -> Asset:
    """Updated when the online store holds a new day of features."""
    return Asset(name=f"features/{project}", uri=f"bantay://features/{project}", group="bantay")


def drift_asset(model: str) -> Asset:
    """An event here means: drift is real and no guard held; retrain ``model``."""
    return Asset(name=f"drift/{model}", uri=f"bantay://drift/{model}", group="bantay")


def production_asset(model: str) -> Asset:
    """Updated when a new version of ``model`` is promoted (or rolled back) in serving."""
    return Asset(
        name=f"models/{model}/production", uri=f"bantay://models/{model}/production", group="bantay"
    )
