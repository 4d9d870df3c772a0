"""Deleting one learner's rows from Feast's online store, which has no delete-by-key.

The keys are Feast's own: ``serialize_entity_key`` of the learner under the repo's
``entity_key_serialization_version``. SQLite (embedded): one table per feature view keyed on
``entity_key``; deleted rows stay readable in free pages, so the file is VACUUMed after a delete.
Redis (production): one hash per entity, its key the serialized entity key followed by the
project name (Feast's Redis key format); deleting it removes every feature view's values.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import redis
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value

from bantay.schema import ENTITY


def entity_key(learner: int, version: int) -> bytes:
    """The learner's entity key as Feast writes it to online stores."""
    key = EntityKey(join_keys=[ENTITY], entity_values=[Value(int64_val=int(learner))])
    return serialize_entity_key(key, entity_key_serialization_version=version)


def _keyed_tables(db: sqlite3.Connection) -> list[str]:
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return [
        n
        for n in names
        if any(c[1] == "entity_key" for c in db.execute(f'PRAGMA table_info("{n}")'))
    ]


def erase_sqlite(path: Path, learner: int, version: int, *, dry_run: bool) -> dict[str, int]:
    """Rows of ``learner`` per feature-view table of the SQLite online store at ``path``,
    deleted (and the file VACUUMed so their bytes are gone) unless ``dry_run``."""
    if not Path(path).is_file():
        return {}
    key = entity_key(learner, version)
    found: dict[str, int] = {}
    db = sqlite3.connect(path)
    try:
        for table in _keyed_tables(db):
            sql = f'SELECT COUNT(*) FROM "{table}" WHERE entity_key = ?'
            n = db.execute(sql, (key,)).fetchone()[0]
            if n:
                found[table] = n
                if not dry_run:
                    db.execute(f'DELETE FROM "{table}" WHERE entity_key = ?', (key,))
        db.commit()
        if found and not dry_run:
            db.execute("VACUUM")
    finally:
        db.close()
    return found


def redis_key(learner: int, version: int, project: str) -> bytes:
    """Feast's Redis key of one learner: serialized entity key + project name."""
    return entity_key(learner, version) + project.encode("utf-8")


def erase_redis(
    client: Any, learner: int, version: int, project: str, *, dry_run: bool
) -> dict[str, int]:
    """The learner's hash in the Redis online store (``client``: a redis-py client), deleted
    unless ``dry_run``; ``{key: fields}`` of what held the learner."""
    key = redis_key(learner, version, project)
    fields = client.hlen(key)
    if not fields:
        return {}
    if not dry_run:
        client.delete(key)
    return {f"redis:{key.hex()}": int(fields)}


def erase_online(config: Any, learner: int, *, dry_run: bool) -> dict[str, int]:
    """The learner out of the online store a Feast ``RepoConfig`` describes (SQLite or Redis)."""
    store = config.online_store
    version = config.entity_key_serialization_version
    kind = getattr(store, "type", "sqlite")
    if kind == "sqlite":
        path = Path(store.path)
        if not path.is_absolute():
            path = Path(config.repo_path or ".") / path
        return erase_sqlite(path, learner, version, dry_run=dry_run)
    if kind == "redis":
        host, _, rest = store.connection_string.partition(",")
        name, _, port = host.partition(":")
        options = dict(p.split("=", 1) for p in rest.split(",") if "=" in p)
        client = redis.Redis(
            host=name,
            port=int(port or 6379),
            db=int(options.get("db", 0)),
            password=options.get("password"),
        )
        try:
            return erase_redis(client, learner, version, config.project, dry_run=dry_run)
        finally:
            client.close()
    raise ValueError(
        f"online store type {kind!r} has no erasure here (only sqlite and redis); delete the "
        "learner's keys there by hand and record it"
    )
