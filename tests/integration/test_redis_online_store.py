"""The production online store: the same materialization into Redis (feature_store.redis.yaml)
gives the same online features as the embedded SQLite store."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bantay import simulate as sim
from feast_support import feast_profile
from fixtures_services import redis_address, redis_database

pytestmark = pytest.mark.integration

DAYS = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(4)]
SAMPLE = [100_001, 100_123, 100_456, 100_789]


@pytest.fixture(scope="module")
def redis_db():
    with redis_database(7) as client:
        yield client


def _online(tmp_path, yaml: str, extra_env: dict[str, str]):
    from bantay.features.contract import enforce_for
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import apply, online_features

    home = tmp_path / yaml.replace(".", "_")
    with feast_profile(home, tmp_path / "data", yaml, extra_env) as settings:
        apply(settings)
        enforce_for(settings, DAYS)
        summary = materialize(settings, DAYS)
        frame = online_features(settings, SAMPLE, "learner_risk_v1")
    return summary, frame.set_index("learner_id").sort_index()


def test_redis_and_sqlite_online_stores_agree(tmp_path, redis_db):
    sim.write_range(
        tmp_path / "data" / "raw",
        DAYS[0] - dt.timedelta(days=1),
        len(DAYS) + 1,
        sim.Scenario(learners=800, seed=9),
    )
    redis_conn = f"{redis_address()},db=7"
    _, sqlite_frame = _online(tmp_path, "feature_store.yaml", {})
    summary, redis_frame = _online(
        tmp_path, "feature_store.redis.yaml", {"BANTAY_FEAST_REDIS": redis_conn}
    )
    assert summary["materialized"] == ["learning_activity", "family_contact", "learner_profile"]
    assert redis_db.dbsize() > 0  # the rows really are in Redis
    assert redis_frame.notna().all().all()
    cols = sorted(sqlite_frame.columns)
    # Same values; dtypes may differ by store (e.g. int64 vs Int64), which serving does not see.
    pd.testing.assert_frame_equal(redis_frame[cols], sqlite_frame[cols], check_dtype=False)
