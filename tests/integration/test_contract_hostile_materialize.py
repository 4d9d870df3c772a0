"""Zero rows of a rejected delivery reach the online store, the offline store or a training set:
the real Feast repo (DuckDB offline, SQLite online), the real CLI, the real label reader."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest

from bantay import simulate as sim
from bantay.layout import partition_dir, partition_path
from bantay.simulate.catalogue import ACTIVITY_FEATURES, LABEL_SOURCE
from bantay.simulate.world import population

pytestmark = pytest.mark.integration

SCENARIO = sim.Scenario(learners=300, seed=29)
FIRST = dt.date(2026, 9, 1)
HISTORY = 7
DAY = FIRST + dt.timedelta(days=HISTORY)  # the day under attack
SAMPLE = [100_001, 100_002, 100_150]
ACT = "learning_activity"
MARK = 123.456  # a valid study_minutes value no simulated row has


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import materialize
    from bantay.settings import get_settings
    from bantay.stores.feast_store import apply
    from bantay.stores.feast_store import store as feature_store

    home = tmp_path_factory.mktemp("hostile_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BANTAY_HOME", str(home))
        mp.setenv("BANTAY_DATA_DIR", str(home / "data"))
        mp.setenv("BANTAY_FEAST_REGISTRY_URL", f"sqlite:///{home / 'feast_registry.db'}")
        mp.setenv("BANTAY_FEAST_ONLINE_PATH", str(home / "online_store.db"))
        get_settings.cache_clear()
        settings = get_settings()
        history = sim.write_range(settings.raw_dir, FIRST, HISTORY, SCENARIO)
        enforce_for(
            history,
            layout=settings.layout,
            features=settings.features,
            labels=label_sources(settings.models),
        )
        apply(settings)
        materialize(
            history,
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
        yield settings
    get_settings.cache_clear()


def online(settings) -> pd.DataFrame:
    from bantay.stores.feast_store import online_features

    return online_features(settings, SAMPLE, "learner_risk_v1").set_index("learner_id")


def offline(settings, day: dt.date) -> pd.DataFrame:
    """What a training set would get for the sample learners at the end of ``day``."""
    from bantay.stores.feast_store import store

    fs = store(settings)
    entity = pd.DataFrame(
        {
            "learner_id": SAMPLE,
            "event_timestamp": pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=23, minutes=59),
        }
    )
    return fs.get_historical_features(
        entity_df=entity, features=fs.get_feature_service("learner_risk_v1")
    ).to_df()


def attack(settings, mutate, day: dt.date = DAY, source: str = ACT, name="part-0.parquet"):
    sim.write_day(settings.raw_dir, day, SCENARIO)
    frame = mutate(sim.partition(source, day, SCENARIO))
    sim.write_table(frame, partition_dir(settings.raw_dir, source, day) / name)


def reset(settings, day: dt.date = DAY) -> None:
    for tree in (settings.raw_dir, settings.quarantine_dir, settings.data_dir / "accepted"):
        for source in (*settings.features.sources, LABEL_SOURCE):
            shutil.rmtree(partition_dir(tree, source, day), ignore_errors=True)


def marked(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame["learner_id"].isin(SAMPLE), "study_minutes"] = MARK
    return frame


def assert_nothing_reached_serving_or_training(settings, before: pd.DataFrame) -> None:
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import store as feature_store

    materialize(
        [DAY],
        feast=feature_store(settings),
        lateness_days=settings.features.contract.max_lateness_days,
    )  # even if someone materializes the day by hand
    after = online(settings)
    # The day's other sources passed and were accepted; the attacked one left no trace.
    cols = list(ACTIVITY_FEATURES)
    pd.testing.assert_frame_equal(after[cols], before[cols])
    assert not (after["study_minutes"] == MARK).any()
    hist = offline(settings, DAY)
    assert not (hist["study_minutes"] == MARK).any()
    assert not hist["attendance_rate"].isna().all()


def test_nan_column_reaches_neither_store(lake):
    from bantay.features.contract import ContractViolation, enforce_for, label_sources

    reset(lake)
    before = online(lake)
    attack(lake, lambda f: marked(f).assign(attendance_rate=np.nan))
    with pytest.raises(ContractViolation, match=r"\[nulls\] column 'attendance_rate'"):
        enforce_for(
            [DAY], layout=lake.layout, features=lake.features, labels=label_sources(lake.models)
        )
    assert_nothing_reached_serving_or_training(lake, before)


def test_second_file_in_the_folder_reaches_neither_store(lake):
    from bantay.features.contract import ContractViolation, enforce_for, label_sources

    reset(lake)
    before = online(lake)
    attack(
        lake,
        lambda f: marked(f.head(50)).assign(quiz_score_avg=500.0),
        name="part-1.parquet",
    )
    with pytest.raises(ContractViolation, match=r"\[range\] column 'quiz_score_avg'"):
        enforce_for(
            [DAY], layout=lake.layout, features=lake.features, labels=label_sources(lake.models)
        )
    assert_nothing_reached_serving_or_training(lake, before)


def test_late_rows_in_the_next_partition_wait_for_its_own_validation(lake):
    """Day D is materialized while D+1 (with late rows for D) is already there: D+1's rows
    stay invisible, and when D+1 is rejected they never appear."""
    from bantay.features.contract import ContractViolation, enforce_for, label_sources
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import store as feature_store

    reset(lake)
    nxt = DAY + dt.timedelta(days=1)
    reset(lake, nxt)
    sim.write_day(lake.raw_dir, DAY, SCENARIO)
    enforce_for(
        [DAY], layout=lake.layout, features=lake.features, labels=label_sources(lake.models)
    )
    late = sim.partition(ACT, nxt, SCENARIO).head(0)
    late = pd.concat(
        [
            late,
            sim.partition(ACT, DAY, SCENARIO)
            .loc[lambda f: f["learner_id"].isin(SAMPLE)]
            .assign(
                study_minutes=MARK,
                event_timestamp=pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=22),
            ),
        ],
        ignore_index=True,
    )
    sim.write_day(lake.raw_dir, nxt, SCENARIO)
    poisoned = pd.concat([sim.partition(ACT, nxt, SCENARIO), late], ignore_index=True)
    sim.write_table(poisoned.assign(attendance_rate=np.nan), partition_path(lake.raw_dir, ACT, nxt))
    materialize(
        [DAY], feast=feature_store(lake), lateness_days=lake.features.contract.max_lateness_days
    )
    assert not (online(lake)["study_minutes"] == MARK).any()
    with pytest.raises(ContractViolation):
        enforce_for(
            [nxt], layout=lake.layout, features=lake.features, labels=label_sources(lake.models)
        )
    materialize(
        [nxt], feast=feature_store(lake), lateness_days=lake.features.contract.max_lateness_days
    )
    assert not (online(lake)["study_minutes"] == MARK).any()
    assert not (offline(lake, nxt)["study_minutes"] == MARK).any()
    reset(lake, nxt)


def test_bad_labels_never_reach_a_training_set(lake):
    from bantay.features.contract import ContractViolation, enforce_for, label_sources
    from bantay.training.dataset import load_labels

    reset(lake)
    sim.write_day(lake.raw_dir, DAY, SCENARIO)
    pop = population(SCENARIO)
    bad = pd.DataFrame(
        {
            "learner_id": pop.learner_id[:100],
            "event_timestamp": pd.Timestamp(DAY - dt.timedelta(days=14), tz="UTC"),
            "at_risk": np.full(100, 7),
            "disengaged": np.zeros(100, dtype=int),
            "created_timestamp": pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=6),
        }
    ).astype({"event_timestamp": "datetime64[us, UTC]", "created_timestamp": "datetime64[us, UTC]"})
    sim.write_table(bad, partition_path(lake.raw_dir, LABEL_SOURCE, DAY))
    with pytest.raises(ContractViolation, match=r"\[range\] column 'at_risk'"):
        enforce_for(
            [DAY], layout=lake.layout, features=lake.features, labels=label_sources(lake.models)
        )
    as_of = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(), dt.UTC)
    try:
        frame = load_labels(lake.layout, lake.model("learner_risk"), as_of)
    except FileNotFoundError:
        frame = pd.DataFrame({"at_risk": []})
    assert not (frame["at_risk"] == 7).any()
    assert set(frame["at_risk"].unique()) <= {0, 1}


def test_cli_materialize_on_a_bad_day_is_one_message(lake, capsys):
    from bantay.cli import main

    reset(lake)
    attack(lake, lambda f: f.assign(study_minutes=f["study_minutes"] * 60))
    code = main(["features", "materialize", "--start", DAY.isoformat()])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("bantay: error: data contract failed")
    assert "[range] column 'study_minutes'" in err and "Traceback" not in err


def test_cli_materialize_on_a_missing_day_says_missing(lake, capsys):
    from bantay.cli import main

    reset(lake)
    code = main(["features", "materialize", "--start", DAY.isoformat()])
    err = capsys.readouterr().err
    assert code == 2 and f"{ACT} {DAY}: missing" in err
    assert "readable" not in err and "Traceback" not in err
