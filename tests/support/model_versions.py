"""Model versions for the serving-store tests: a tiny fitted model, its manifest, a registry and
a store over the local S3 endpoint, and one way to register and publish a version."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from bantay.serving.promotion import Promotion
from bantay.stores.model_store import ModelStore
from bantay.stores.registry import Registry
from support.services import s3_hook_over

MODEL = "learner_risk"
PREFIX = "bantay/test"
FEATURES = ["attendance_rate", "quiz_score_avg", "days_since_last_contact"]


def tiny_model(seed: int) -> tuple[LogisticRegression, pd.DataFrame]:
    """A LogisticRegression fit on 50 rows, and those rows as the drift reference."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(50, len(FEATURES)))
    y = (x[:, 0] + rng.normal(scale=0.5, size=50) > 0).astype(int)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["event_timestamp"] = pd.date_range("2026-11-01", periods=50, freq="h", tz="UTC")
    return LogisticRegression().fit(x, y), frame


def manifest_for(version: str) -> dict[str, Any]:
    return {
        "metrics": {"roc_auc": np.float64(0.81)},  # numpy scalars are accepted
        "params": {"C": 1.0},
        "features": FEATURES,
        "lineage": {"airflow_run_id": f"manual__{version}", "feature_service": "learner_risk_v1"},
    }


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.upgrade()
    yield reg
    reg.dispose()


@pytest.fixture
def store(s3_bucket):
    client, bucket = s3_bucket
    return ModelStore(s3_hook_over(client), bucket, PREFIX)


@pytest.fixture
def promo(store, registry):
    return Promotion(store, registry)


def publish(
    target: Promotion | ModelStore, version: str, seed: int, approve: bool = True
) -> dict[str, Any]:
    """Register (with a registry) and publish; through ``Promotion`` the sha256 is recorded."""
    model, reference = tiny_model(seed)
    registry = getattr(target, "registry", None)
    if registry is not None:
        registry.versions.upsert(MODEL, version, status="approved" if approve else "candidate")
    publisher = target if isinstance(target, Promotion) else target.versions
    return publisher.publish(MODEL, version, model, manifest_for(version), reference)
