"""Erasing a learner from the production online store: Feast materializes into Redis
(feature_store.redis.yaml), then the learner's hash is deleted by Feast's own key format; no key
or value left in the Redis database holds the id's bytes, other learners keep their features,
and a second erasure finds nothing."""

from __future__ import annotations

import datetime as dt
import struct

import pytest

from bantay import simulate as sim
from support.feast_profiles import feast_profile
from support.services import redis_address, redis_database

pytestmark = pytest.mark.integration

DAYS = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(3)]
REDIS_DB = 9  # this module's own database
GONE, KEPT = 100_123, 100_124


def _all_bytes(client) -> bytes:
    """Every key and every field and value of every hash in the database."""
    parts = []
    for key in client.scan_iter(count=1000):
        parts.append(key)
        for field, value in client.hgetall(key).items():
            parts.extend((field, value))
    return b"\x00".join(parts)


def test_the_learners_redis_hash_is_gone(tmp_path):
    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import apply, online_features
    from bantay.stores.feast_store import store as feature_store
    from bantay.stores.online_erasure import erase_online

    sim.write_range(tmp_path / "data" / "raw", DAYS[0], len(DAYS), sim.Scenario(learners=300))
    env = {"BANTAY_FEAST_REDIS": f"{redis_address()},db={REDIS_DB}"}
    with (
        redis_database(REDIS_DB) as client,
        feast_profile(tmp_path / "home", tmp_path / "data", "feature_store.redis.yaml", env) as s,
    ):
        apply(s)
        layout, labels = s.layout, label_sources(s.models)
        enforce_for(DAYS, layout=layout, features=s.features, labels=labels)
        materialize(DAYS, feast=feature_store(s), lateness_days=1)
        packed = struct.pack("<q", GONE)
        assert packed in _all_bytes(client)
        config = feature_store(s).config
        assert erase_online(config, GONE, dry_run=True)
        assert packed in _all_bytes(client)  # a dry run deletes nothing
        found = erase_online(config, GONE, dry_run=False)
        assert len(found) == 1 and next(iter(found.values())) >= 3  # every view's fields
        assert packed not in _all_bytes(client)
        frame = online_features(s, [GONE, KEPT], "learner_risk_v1").set_index("learner_id")
        assert frame.loc[GONE].isna().all()
        assert frame.loc[KEPT].notna().all()
        assert erase_online(config, GONE, dry_run=False) == {}
