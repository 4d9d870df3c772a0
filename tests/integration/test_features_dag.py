"""bantay_features for real: Airflow's dag.test() against the real Feast repo (DuckDB offline,
SQLite online, SQL registry) in this session's temporary BANTAY_HOME."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3

import pandas as pd
import pytest

from bantay import simulate as sim
from bantay.layout import partition_path
from bantay.settings import get_settings
from bantay.simulate.catalogue import SOURCE_FEATURES
from support.airflow_runs import run_dag, task_states

pytestmark = pytest.mark.integration

START = dt.date(2026, 9, 1)
DAYS = 8
SCENARIO = sim.Scenario(learners=1500, seed=5)
LAST = START + dt.timedelta(days=DAYS - 1)
SAMPLE = [100_001, 100_017, 100_250, 100_777, 101_499]


def _online_dump(view: str | None = None) -> str:
    """A digest of every row of every online table, or of ``view``'s (order-independent)."""
    import os

    con = sqlite3.connect(os.environ["BANTAY_FEAST_ONLINE_PATH"])
    try:
        tables = [
            r[0]
            for r in con.execute("select name from sqlite_master where type='table' order by name")
            if view is None or r[0].endswith(f"_{view}")
        ]
        digest = hashlib.sha256()
        for table in tables:
            for row in sorted(con.execute(f'select * from "{table}"').fetchall(), key=repr):
                digest.update(repr((table, row)).encode())
        return digest.hexdigest()
    finally:
        con.close()


def _expected_latest(raw_dir, source: str) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in sorted((raw_dir / source).glob("date=*/part-0.parquet"))]
    frame = pd.concat(frames).sort_values(["learner_id", "event_timestamp", "created_timestamp"])
    return frame.groupby("learner_id").tail(1).set_index("learner_id")


@pytest.fixture(scope="module")
def feature_history():
    from bantay.stores.feast_store import apply

    settings = get_settings()
    sim.write_range(settings.raw_dir, START - dt.timedelta(days=1), DAYS + 1, SCENARIO)
    apply(settings)
    run = run_dag(
        "bantay_features",
        dt.datetime.combine(LAST + dt.timedelta(days=1), dt.time(), dt.UTC),
        {"start_date": START.isoformat(), "end_date": LAST.isoformat()},
    )
    assert str(run.state) == "success", task_states(run)
    return settings


def _features_events(run_id: str) -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == "features/bantay", AssetEvent.source_run_id == run_id)
        ).all()
        return [(e.source_task_id, dict(e.extra or {})) for e in rows]


def test_the_features_asset_names_the_accepted_days_and_comes_from_the_contract(feature_history):
    run = run_dag(
        "bantay_features",
        dt.datetime.combine(LAST + dt.timedelta(days=1), dt.time(), dt.UTC),
        {"start_date": LAST.isoformat(), "end_date": LAST.isoformat()},
    )
    assert str(run.state) == "success", task_states(run)
    ((task, extra),) = _features_events(run.run_id)
    assert task == "release"
    assert extra["days"] == [LAST.isoformat()] and extra["rows"] > 0, extra
    assert extra["models"] == ["learner_risk"] and extra["held"] == {}, extra


def test_online_store_matches_the_simulators_latest_values(feature_history):
    from bantay.stores.feast_store import online_features

    settings = feature_history
    online = online_features(settings, SAMPLE, "learner_risk_v1").set_index("learner_id")
    for source, columns in SOURCE_FEATURES.items():
        expected = _expected_latest(settings.raw_dir, source)
        for learner in SAMPLE:
            for col in columns:
                want, got = expected.loc[learner, col], online.loc[learner, col]
                if isinstance(want, float):
                    assert got == pytest.approx(want), (source, learner, col)
                else:
                    assert got == want, (source, learner, col)


def test_same_date_again_gives_identical_online_store(feature_history):
    before = _online_dump()
    run = run_dag(
        "bantay_features",
        dt.datetime.combine(LAST + dt.timedelta(days=1), dt.time(), dt.UTC),
        {"start_date": LAST.isoformat(), "end_date": LAST.isoformat()},
    )
    assert str(run.state) == "success", task_states(run)
    assert _online_dump() == before


def test_quarantined_partition_leaves_its_online_view_unchanged(feature_history):
    settings = feature_history
    bad_day = LAST + dt.timedelta(days=1)
    broken = sim.Scenario(
        learners=1500, seed=5, broken=(sim.BrokenFeed("study_minutes", bad_day, "unit"),)
    )
    sim.write_day(settings.raw_dir, bad_day, broken)
    before = _online_dump("learning_activity")
    from support.smtp import running_smtp_server, smtp_conn_json

    with running_smtp_server() as smtp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_json(smtp.host, smtp.port))
        run = run_dag(
            "bantay_features",
            dt.datetime.combine(bad_day + dt.timedelta(days=1), dt.time(), dt.UTC),
        )
        mail = list(smtp.handler.messages)
    states = task_states(run)
    assert states["validate"] == "success", states  # the feeds that passed are accepted
    assert states["release"] == "skipped", states  # learner_risk reads learning_activity
    assert states["refuse"] == "failed", states
    assert _features_events(run.run_id) == [], "a quarantined day must not start scoring"
    # Nothing released, and still the held model's on-call are told what the contract found.
    (notice,) = [m for m in mail if b"QUARANTINE" in m.content]
    assert b"learner_risk held" in notice.content and b"study_minutes" in notice.content
    assert _online_dump("learning_activity") == before
    where = settings.quarantine_dir / "learning_activity" / f"date={bad_day.isoformat()}"
    where = where / "attempt-1"
    assert (where / "reason.json").is_file() and (where / "part-0.parquet").is_file()
    assert not partition_path(settings.raw_dir, "learning_activity", bad_day).exists()


TWO_MODELS = [
    {"name": "learner_risk", "recipients": ["risk-oncall@example.org"]},
    {
        "name": "learner_engagement",
        "feature_service": "learner_engagement_v1",
        "label": "disengaged",
        "slices": ["region", "grade_band"],
        "recipients": ["engagement-oncall@example.org"],
    },
]


def test_a_broken_feed_holds_only_the_models_that_read_it(feature_history, monkeypatch):
    """family_contact breaks: learner_risk (which reads it) is held and its on-call told by
    name; learner_engagement (activity and profile only) is released to scoring."""
    import json

    from support.smtp import running_smtp_server, smtp_conn_json

    settings = feature_history
    bad_day = LAST + dt.timedelta(days=2)
    broken = sim.Scenario(
        learners=1500,
        seed=5,
        broken=(sim.BrokenFeed("days_since_last_contact", bad_day, "nulls"),),
    )
    sim.write_day(settings.raw_dir, bad_day, broken)
    monkeypatch.setenv("BANTAY_MODELS", json.dumps(TWO_MODELS))
    get_settings.cache_clear()
    try:
        with running_smtp_server() as smtp:
            monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_json(smtp.host, smtp.port))
            run = run_dag(
                "bantay_features",
                dt.datetime.combine(bad_day + dt.timedelta(days=1), dt.time(), dt.UTC),
            )
            mail = list(smtp.handler.messages)
    finally:
        get_settings.cache_clear()
    states = task_states(run)
    assert states["release"] == "success" and states["refuse"] == "failed", states
    ((_, extra),) = _features_events(run.run_id)
    assert extra["models"] == ["learner_engagement"], extra
    assert (
        list(extra["held"]) == ["learner_risk"]
        and "family_contact" in extra["held"]["learner_risk"]
    )
    (message,) = [m for m in mail if b"QUARANTINE" in m.content]  # beside the failure e-mail
    assert "risk-oncall@example.org" in message.rcpt_tos
    assert "engagement-oncall@example.org" not in message.rcpt_tos
    assert b"QUARANTINE: learner_risk held" in message.content
