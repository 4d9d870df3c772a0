"""bantay's own online write into Redis (features/online_write.py) leaves Redis byte for byte as
Feast's materialization leaves it, night after night: the same keys, fields and values, so Feast's
``get_online_features`` reads the same values and event times from both. Older windows still
never overwrite newer ones, and a tombstoned learner is never written."""

from __future__ import annotations

import datetime as dt

import pytest

from bantay import simulate as sim
from support.feast_profiles import feast_profile
from support.services import redis_address, redis_database

pytestmark = pytest.mark.integration

DAYS = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(4)]
FEAST_DB, BANTAY_DB = 12, 13  # this module's own databases
YAML = "feature_store.redis.yaml"


@pytest.fixture(scope="module")
def dbs():
    with redis_database(FEAST_DB) as theirs, redis_database(BANTAY_DB) as ours:
        yield theirs, ours


def _dump(client) -> dict[bytes, dict[bytes, bytes]]:
    return {key: client.hgetall(key) for key in client.scan_iter(count=1000)}


def _online(settings, ids: list[int]) -> dict:
    from bantay.stores.feast_store import store

    fs = store(settings)
    rows = [{"learner_id": i} for i in ids]
    service = fs.get_feature_service("learner_risk_v1")
    return fs.get_online_features(features=service, entity_rows=rows).to_dict(
        include_event_timestamps=True
    )


def _materialize(settings, days, **kwargs) -> dict:
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import store

    return materialize(
        days,
        feast=store(settings),
        lateness_days=settings.features.contract.max_lateness_days,
        **kwargs,
    )


def test_each_night_redis_holds_what_feast_would_have_written(tmp_path, dbs):
    from bantay.features.contract import enforce_for, label_sources
    from bantay.stores.feast_store import apply

    theirs, ours = dbs
    sim.write_range(tmp_path / "data" / "raw", DAYS[0], len(DAYS), sim.Scenario(learners=600))
    profiles = {
        False: (tmp_path / "feast", FEAST_DB),
        True: (tmp_path / "bantay", BANTAY_DB),
    }
    ids = list(range(100_000, 100_600, 7))
    for n, day in enumerate(DAYS):
        seen = {}
        for bulk, (home, db) in profiles.items():
            env = {"BANTAY_FEAST_REDIS": f"{redis_address()},db={db}"}
            with feast_profile(home, tmp_path / "data", YAML, env) as settings:
                if n == 0:
                    apply(settings)
                    enforce_for(
                        DAYS,
                        layout=settings.layout,
                        features=settings.features,
                        labels=label_sources(settings.models),
                    )
                summary = _materialize(settings, [day], bulk=bulk)
                seen[bulk] = (summary, _online(settings, ids))
        assert set(seen[True][0]["written_in_bulk"]) == set(seen[True][0]["materialized"])
        assert seen[False][0]["written_in_bulk"] == {}
        assert ours.dbsize() == theirs.dbsize() > 0
        assert _dump(ours) == _dump(theirs), f"Redis differs after {day}"
        assert seen[True][1] == seen[False][1]
    # The event times Feast reads back are the last night's (fresh), not an older night's.
    stamps = [
        v for name, v in seen[True][1].items() if name.endswith("__ts") and "learner_id" not in name
    ]
    newest = [dt.datetime.fromtimestamp(max(v), dt.UTC).date() for v in stamps]  # epoch seconds
    assert newest and all(d >= DAYS[-2] for d in newest)

    # A backfill of older days is refused on both paths and changes nothing.
    before = _dump(ours)
    env = {"BANTAY_FEAST_REDIS": f"{redis_address()},db={BANTAY_DB}"}
    with feast_profile(profiles[True][0], tmp_path / "data", YAML, env) as settings:
        summary = _materialize(settings, DAYS[:2])
    assert summary["materialized"] == [] and summary["written_in_bulk"] == {}
    assert _dump(ours) == before


def test_a_tombstoned_learner_is_never_written(tmp_path, dbs):
    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import materialization_window
    from bantay.features.online_write import latest_rows
    from bantay.features.tombstones import Tombstones, keyed_hash
    from bantay.stores import feast_redis
    from bantay.stores.feast_store import apply, store

    _, ours = dbs
    ours.flushdb()
    sim.write_range(tmp_path / "data" / "raw", DAYS[0], 2, sim.Scenario(learners=300))
    key = b"k" * 32
    env = {"BANTAY_FEAST_REDIS": f"{redis_address()},db={BANTAY_DB}"}
    with feast_profile(tmp_path / "home", tmp_path / "data", YAML, env) as settings:
        apply(settings)
        enforce_for(
            DAYS[:2],
            layout=settings.layout,
            features=settings.features,
            labels=label_sources(settings.models),
        )
        fs = store(settings)
        view = fs.get_feature_view("learning_activity")
        lateness = settings.features.contract.max_lateness_days
        window = materialization_window([DAYS[1]], lateness)
        present = latest_rows(view, *window, lateness)["learner_id"].to_pylist()
        erased = present[:3]
        tombstones = Tombstones(frozenset(keyed_hash(i, key) for i in erased), key)
        summary = _materialize(settings, [DAYS[1]], tombstones=tombstones)
        assert summary["written_in_bulk"]["learning_activity"] == len(present) - 3
        keys = feast_redis.split(
            *feast_redis.pack(feast_redis.entity_keys(present, "learner_id", fs.project))
        )
        assert not any(ours.exists(k) for k in keys[:3])
        assert all(ours.exists(k) for k in keys[3:])
