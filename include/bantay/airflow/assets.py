"""Airflow Assets that connect bantay's DAGs. Light: imported by DAG files at parse time.

The URIs use the ``x-bantay`` scheme: Airflow leaves ``x-`` schemes alone, whereas any other scheme
makes the first ``Asset`` in a process load every provider's URI normalizers (the amazon one
imports boto3), ~0.1-0.2 s on every DAG file parse. Assets are matched by name and URI, so the
scheme is part of their identity: change it only together with every producer and consumer.
"""

from __future__ import annotations

from airflow.sdk import Asset

SCHEME = "x-bantay"


def _asset(name: str) -> Asset:
    return Asset(name=name, uri=f"{SCHEME}://{name}", group="bantay")


def features_asset(project: str = "bantay") -> Asset:
    """Updated when the online store holds a new day of features."""
    return _asset(f"features/{project}")


def drift_asset(model: str) -> Asset:
    """An event here means: drift is real and no guard held; retrain ``model``."""
    return _asset(f"drift/{model}")


def predictions_asset(model: str) -> Asset:
    """Updated when ``bantay_scoring`` has written a day of ``model``'s prediction log."""
    return _asset(f"predictions/{model}")


def production_asset(model: str) -> Asset:
    """Updated when a new version of ``model`` is promoted (or rolled back) in serving."""
    return _asset(f"models/{model}/production")
