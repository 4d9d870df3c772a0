"""The production online store: the same materialization into Redis (feature_store.redis.yaml)
gives the same online features as the embedded SQLite store, and neither store lets a backfill of
older days overwrite newer values (the Redis profile writes with ``skip_dedup``, which drops
Redis's own event-time check, so bantay's rule is all that guards it)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bantay import simulate as sim
from support.feast_profiles import feast_profile
from support.services import redis_address, redis_database

pytestmark = pytest.mark.integration

DAYS = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(4)]
SAMPLE = [100_001, 100_123, 100_456, 100_789]
VIEWS = ["learning_activity", "family_contact", "learner_profile"]


@pytest.fixture(scope="module")
def redis_db():
    with redis_database(7) as client:
        yield client


def _online(tmp_path, yaml: str, extra_env: dict[str, str]):
    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import apply, online_features
    from bantay.stores.feast_store import store as feature_store

    home = tmp_path / yaml.replace(".", "_")
    with feast_profile(home, tmp_path / "data", yaml, extra_env) as settings:
        apply(settings)
        enforce_for(
            DAYS,
            layout=settings.layout,
            features=settings.features,
            labels=label_sources(settings.models),
        )
        summary = materialize(
            DAYS,
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
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
    assert sorted(summary["materialized"]) == sorted(VIEWS)
    assert redis_db.dbsize() > 0  # the rows really are in Redis
    assert redis_frame.notna().all().all()
    cols = sorted(sqlite_frame.columns)
    # Same values; dtypes may differ by store (e.g. int64 vs Int64), which serving does not see.
    pd.testing.assert_frame_equal(redis_frame[cols], sqlite_frame[cols], check_dtype=False)


@pytest.mark.parametrize("yaml", ["feature_store.yaml", "feature_store.redis.yaml"])
def test_a_backfill_of_older_days_keeps_the_newer_online_values(tmp_path, redis_db, yaml):
    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import apply, online_features
    from bantay.stores.feast_store import store as feature_store

    redis_db.flushdb()
    sim.write_range(
        tmp_path / "data" / "raw", DAYS[0], len(DAYS), sim.Scenario(learners=800, seed=11)
    )
    env = {"BANTAY_FEAST_REDIS": f"{redis_address()},db=7"}

    def frame(settings):
        return online_features(settings, SAMPLE, "learner_risk_v1").set_index("learner_id")

    with feast_profile(tmp_path / "older", tmp_path / "data", "feature_store.yaml") as settings:
        apply(settings)
        enforce_for(
            DAYS,
            layout=settings.layout,
            features=settings.features,
            labels=label_sources(settings.models),
        )
        materialize(
            DAYS[:2],
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        older = frame(settings)
    with feast_profile(tmp_path / "store", tmp_path / "data", yaml, env) as settings:
        apply(settings)
        materialize(
            DAYS[-1:],
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        newest = frame(settings)
        cols = sorted(newest.columns)
        # The older days really hold other values, so writing them would show.
        assert not older[cols].equals(newest[cols])
        summary = materialize(
            DAYS[:2],
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        after = frame(settings)
    pd.testing.assert_frame_equal(after[cols], newest[cols])
    assert summary["materialized"] == []
    assert set(summary["skipped_newer_online"]) == set(VIEWS)
