"""The production online store: the same materialization into Redis (feature_store.redis.yaml)
gives the same online features as the embedded SQLite store."""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pytest

from bantay import simulate as sim

pytestmark = pytest.mark.integration

DAYS = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(4)]
SAMPLE = [100_001, 100_123, 100_456, 100_789]


def _redis_url() -> str:
    return os.environ.get("BANTAY_TEST_REDIS", "127.0.0.1:6379")


@pytest.fixture(scope="module")
def redis_db():
    import redis

    host, port = _redis_url().split(":")
    client = redis.Redis(host=host, port=int(port), db=7)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(
            f"Redis is not reachable at {_redis_url()} ({exc}); start it (.ci/run does: redis-server "
            "--daemonize yes --bind 127.0.0.1 --port 6379) or set BANTAY_TEST_REDIS=host:port",
            pytrace=False,
        )
    client.flushdb()
    yield client
    client.flushdb()


def _online(tmp_path, yaml: str, extra_env: dict[str, str]):
    from bantay.config import get_settings
    from bantay.features import apply, materialize, online_features

    home = tmp_path / yaml.replace(".", "_")
    env = {
        "BANTAY_HOME": str(home),
        "BANTAY_DATA_DIR": str(tmp_path / "data"),
        "BANTAY_FEAST_REGISTRY_URL": f"sqlite:///{home / 'registry.db'}",
        "BANTAY_FEAST_ONLINE_PATH": str(home / "online.db"),
        "BANTAY_FEAST__STORE_YAML": yaml,
        **extra_env,
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        settings = get_settings()
        apply(settings)
        summary = materialize(settings, DAYS)
        frame = online_features(settings, SAMPLE, "learner_risk_v1")
    get_settings.cache_clear()
    return summary, frame.set_index("learner_id").sort_index()


def test_redis_and_sqlite_online_stores_agree(tmp_path, redis_db):
    sim.write_range(
        tmp_path / "data" / "raw",
        DAYS[0] - dt.timedelta(days=1),
        len(DAYS) + 1,
        sim.Scenario(learners=800, seed=9),
    )
    redis_conn = f"{_redis_url()},db=7"
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
