"""Deleting a learner from Feast's online stores by Feast's own key format: SQLite rows deleted
and the file VACUUMed so not a byte of the key stays; Redis hashes deleted by the key Feast's
Redis store writes."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

from feast.infra.online_stores.redis import RedisOnlineStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value

from bantay.schema import ENTITY
from bantay.stores.online_erasure import entity_key, erase_redis, erase_sqlite, redis_key

GONE, KEPT = 100_042, 100_043


def _online_db(path, learners):
    """Two feature-view tables in the layout Feast's SQLite online store uses."""
    db = sqlite3.connect(path)
    for table in ("bantay_activity", "bantay_contact"):
        db.execute(
            f"CREATE TABLE {table} (entity_key BLOB, feature_name TEXT, value BLOB, "
            "vector_value BLOB, event_ts timestamp, created_ts timestamp, "
            "PRIMARY KEY(entity_key, feature_name))"
        )
        for learner in learners:
            for feature in ("a", "b"):
                db.execute(
                    f"INSERT INTO {table} VALUES (?, ?, ?, NULL, 0, 0)",
                    (entity_key(learner, 3), feature, b"\x01" * 16),
                )
    db.execute("CREATE TABLE feast_meta (name TEXT)")  # no entity_key: left alone
    db.commit()
    db.close()


def test_sqlite_rows_and_bytes_are_gone(tmp_path):
    path = tmp_path / "online_store.db"
    _online_db(path, [GONE, KEPT] + list(range(200_000, 200_300)))
    key = entity_key(GONE, 3)
    assert key in path.read_bytes()
    assert erase_sqlite(path, GONE, 3, dry_run=True) == {"bantay_activity": 2, "bantay_contact": 2}
    assert key in path.read_bytes()  # a dry run deletes nothing
    assert erase_sqlite(path, GONE, 3, dry_run=False) == {
        "bantay_activity": 2,
        "bantay_contact": 2,
    }
    assert key not in path.read_bytes()  # VACUUM: no free page still holds the rows
    db = sqlite3.connect(path)
    left = db.execute("SELECT COUNT(*) FROM bantay_activity WHERE entity_key = ?", (key,))
    kept = db.execute(
        "SELECT COUNT(*) FROM bantay_activity WHERE entity_key = ?", (entity_key(KEPT, 3),)
    )
    assert left.fetchone()[0] == 0 and kept.fetchone()[0] == 2
    db.close()
    assert erase_sqlite(path, GONE, 3, dry_run=False) == {}  # second run: nothing


def test_no_online_store_file_is_nothing_to_do(tmp_path):
    assert erase_sqlite(tmp_path / "absent.db", GONE, 3, dry_run=False) == {}


def test_redis_key_is_feasts_own():
    config = SimpleNamespace(project="bantay", entity_key_serialization_version=3)
    ek = EntityKey(join_keys=[ENTITY], entity_values=[Value(int64_val=GONE)])
    feast_keys = RedisOnlineStore()._generate_redis_keys_for_entities(config, [ek])
    assert feast_keys == [redis_key(GONE, 3, "bantay")]


class _FakeRedis:
    """A dict standing in for redis-py's hlen/delete (the boundary; real Redis runs in the
    integration tests)."""

    def __init__(self, hashes):
        self.hashes = hashes

    def hlen(self, key):
        return len(self.hashes.get(key, {}))

    def delete(self, key):
        self.hashes.pop(key, None)


def test_redis_hash_of_the_learner_is_deleted():
    gone, kept = redis_key(GONE, 3, "bantay"), redis_key(KEPT, 3, "bantay")
    client = _FakeRedis({gone: {"a": 1, "b": 2}, kept: {"a": 1}})
    assert erase_redis(client, GONE, 3, "bantay", dry_run=True) == {f"redis:{gone.hex()}": 2}
    assert gone in client.hashes
    erase_redis(client, GONE, 3, "bantay", dry_run=False)
    assert set(client.hashes) == {kept}
    assert erase_redis(client, GONE, 3, "bantay", dry_run=False) == {}
