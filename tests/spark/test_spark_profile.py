"""The scale-out feature store profile (feature_store.spark.yaml: Spark offline store, Spark
materialization engine, Redis online store) gives the same point-in-time training set and the
same online features as the embedded DuckDB profile, on local Spark (``local[2]``).

Both profiles run bantay's own code unchanged (``bantay features apply``, ``materialize``,
``build_training_set``); only ``BANTAY_FEAST__STORE_YAML`` differs. ``make test-spark``.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from support.feast_profiles import feast_profile
from support.services import redis_address, redis_database

pytest.importorskip("pyspark", reason="the spark extra is not installed: run make test-spark")

pytestmark = pytest.mark.spark

START = dt.date(2026, 9, 1)
DAYS = 28
LEARNERS = 300
FIRST_ID = 100_001
REDIS_DB = 8  # dedicated to this test; flushed before and after
MODEL = "learner_risk"
AS_OF = dt.datetime.combine(START + dt.timedelta(days=DAYS), dt.time(), dt.UTC)


@pytest.fixture(scope="module")
def redis_db():
    with redis_database(REDIS_DB) as client:
        yield client


@pytest.fixture(scope="module")
def raw_data(tmp_path_factory) -> Path:
    """300 learners x 28 days of raw partitions, written by ``bantay simulate``."""
    data = tmp_path_factory.mktemp("spark-profile") / "data"
    bantay = Path(sys.executable).with_name("bantay")
    cmd = [str(bantay), "simulate", "--start", START.isoformat(), "--days", str(DAYS)]
    cmd += ["--learners", str(LEARNERS), "--seed", "11"]
    env = os.environ | {"BANTAY_DATA_DIR": str(data)}
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return data


def _profile(data: Path, store_yaml: str, extra_env: dict[str, str]) -> dict:
    """apply, materialize every day, build the training set, read every learner online."""
    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import apply, online_features, store
    from bantay.stores.feast_store import store as feature_store
    from bantay.training.dataset import build_training_set
    from bantay.training.run import RunContext

    home = data.parent / store_yaml.replace(".", "_")
    with feast_profile(home, data, store_yaml, extra_env) as settings:
        apply(settings)
        days = [START + dt.timedelta(days=i) for i in range(DAYS)]
        enforce_for(
            days,
            layout=settings.layout,
            features=settings.features,
            labels=label_sources(settings.models),
        )  # the data contract accepts the partitions Feast reads
        materialized = materialize(
            days,
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        ctx = RunContext(
            model=MODEL, run_id=f"equality-{home.name}", as_of=AS_OF.isoformat(), reason="test"
        )
        summary = build_training_set(
            ctx, model=settings.model(MODEL), layout=settings.layout, feast=store(settings)
        )
        service = settings.model(MODEL).feature_service
        online = online_features(settings, list(range(FIRST_ID, FIRST_ID + LEARNERS)), service)
        fs = store(settings)
        config = fs.config
        sources = {
            type(fs.get_data_source(f"{view}_source")).__name__
            for view in materialized["materialized"]
        }
    return {
        "materialized": materialized,
        "summary": summary,
        "training": pd.read_parquet(summary["path"]),
        "online": online.set_index("learner_id").sort_index(),
        "offline_store": config.offline_store.type,
        "batch_engine": config.batch_engine.type,
        "sources": sources,
    }


@pytest.fixture(scope="module")
def profiles(raw_data: Path, redis_db) -> dict[str, dict]:
    duckdb = _profile(raw_data, "feature_store.yaml", {})
    spark = _profile(
        raw_data,
        "feature_store.spark.yaml",
        {"BANTAY_FEAST_REDIS": f"{redis_address()},db={REDIS_DB}"},
    )
    return {"duckdb": duckdb, "spark": spark}


def _utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Spark hands timestamps to pandas as naive UTC wall-clock (session time zone UTC), DuckDB
    as tz-aware UTC: the same instants, compared as such."""
    frame = frame.copy()
    ts = frame["event_timestamp"]
    frame["event_timestamp"] = (
        ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")
    )
    return frame


def test_the_spark_profile_really_runs_on_spark(profiles) -> None:
    spark, duckdb = profiles["spark"], profiles["duckdb"]
    assert spark["offline_store"] == "spark" and duckdb["offline_store"] == "duckdb"
    assert spark["batch_engine"] == "spark.engine"
    assert spark["sources"] == {"SparkSource"} and duckdb["sources"] == {"FileSource"}
    assert spark["materialized"]["materialized"] == duckdb["materialized"]["materialized"]
    assert len(spark["materialized"]["materialized"]) == 3


def test_same_point_in_time_training_set(profiles) -> None:
    spark, duckdb = _utc(profiles["spark"]["training"]), _utc(profiles["duckdb"]["training"])
    assert list(spark.columns) == list(duckdb.columns)
    assert len(duckdb) > LEARNERS  # several weekly label dates
    # The point-in-time join really decided something: labels older than the first feature day
    # (or beyond a view's TTL) have no features, the later ones have them all.
    with_features = duckdb["attendance_rate"].notna()
    assert 0 < with_features.sum() < len(duckdb)
    key = ["event_timestamp", "learner_id"]
    spark = spark.sort_values(key).reset_index(drop=True)
    duckdb = duckdb.sort_values(key).reset_index(drop=True)
    # Same rows, same values; integer features come back as float (NaN where missing) from both.
    pd.testing.assert_frame_equal(spark, duckdb, check_dtype=False)
    for name in ("rows", "positives", "feature_views", "feature_service"):
        assert profiles["spark"]["summary"][name] == profiles["duckdb"]["summary"][name], name


def test_same_online_features_after_materialize(profiles, redis_db) -> None:
    spark, duckdb = profiles["spark"]["online"], profiles["duckdb"]["online"]
    assert redis_db.dbsize() > 0  # the Spark engine wrote to Redis
    assert len(duckdb) == LEARNERS and duckdb.notna().all().all()
    cols = sorted(duckdb.columns)
    pd.testing.assert_frame_equal(spark[cols], duckdb[cols], check_dtype=False)
