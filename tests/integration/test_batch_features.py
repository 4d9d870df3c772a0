"""Scoring's batch read of a day's features (the accepted partitions, as of the day) gives the same
features as Feast's online store after the nightly materializations; and its as-of rules on a
hand-made partition tree (TTL, late rows, older partitions, created-time ties)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bantay import simulate as sim

pytestmark = pytest.mark.integration

FIRST = dt.date(2026, 9, 1)
DAYS = 20


@pytest.fixture
def feast_home(tmp_path, monkeypatch):
    from bantay.settings import get_settings

    home = tmp_path / "home"
    for key, value in {
        "BANTAY_HOME": str(home),
        "BANTAY_DATA_DIR": str(tmp_path / "data"),
        "BANTAY_FEAST_REGISTRY_URL": f"sqlite:///{home / 'registry.db'}",
        "BANTAY_FEAST_ONLINE_PATH": str(home / "online.db"),
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_batch_read_equals_the_online_store_after_nightly_materialization(feast_home):
    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import materialize
    from bantay.serving.batch_features import batch_features
    from bantay.serving.scoring import active_learners
    from bantay.settings import get_settings
    from bantay.stores.feast_store import apply, online_features
    from bantay.stores.feast_store import store as feature_store

    # One day more than is materialized: its partition holds late rows of the scored day.
    sim.write_range(
        feast_home / "data" / "raw",
        FIRST,
        DAYS + 1,
        sim.Scenario(learners=600, seed=5, missing_day_rate=0.2, late_row_rate=0.05),
    )
    settings = get_settings()
    apply(settings)
    days = [FIRST + dt.timedelta(days=i) for i in range(DAYS)]
    enforce_for(
        [*days, days[-1] + dt.timedelta(days=1)],
        layout=settings.layout,
        features=settings.features,
        labels=label_sources(settings.models),
    )  # the accepted tree
    materialize(
        days[:-3],
        feast=feature_store(settings),
        lateness_days=settings.features.contract.max_lateness_days,
    )  # the backfill, then nightly runs
    for day in days[-3:]:
        materialize(
            [day],
            feast=feature_store(settings),
            lateness_days=settings.features.contract.max_lateness_days,
        )
    day = days[-1]
    learners = active_learners(settings.layout, day, settings.features.population)
    online = online_features(settings, learners.tolist(), "learner_risk_v1")
    batch = batch_features(feature_store(settings), "learner_risk_v1", learners, day)
    assert len(batch) == len(learners) == len(online)
    online = online.set_index("learner_id").sort_index()
    batch = batch.set_index("learner_id").sort_index()
    assert batch.notna().all().all()
    cols = sorted(online.columns)
    assert sorted(batch.columns) == cols
    pd.testing.assert_frame_equal(batch[cols], online[cols], check_dtype=False)


def _partition(root, day: dt.date, rows: list[tuple[int, str, str, float]]) -> None:
    folder = root / f"date={day.isoformat()}"
    folder.mkdir(parents=True)
    frame = pd.DataFrame(rows, columns=["learner_id", "event_timestamp", "created", "value"])
    for col in ("event_timestamp", "created"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[us, UTC]")
    frame.to_parquet(folder / "part-0.parquet", index=False)


def test_as_of_rules_on_a_hand_made_partition_tree(tmp_path):
    import duckdb

    from bantay.serving.batch_features import view_as_of

    root = tmp_path / "activity"
    day = dt.date(2026, 10, 31)
    _partition(root, dt.date(2026, 10, 1), [(4, "2026-10-01T08:00", "2026-10-01T09:00", 4.0)])
    _partition(
        root,
        dt.date(2026, 10, 10),
        [
            (2, "2026-10-10T08:00", "2026-10-10T09:00", 2.0),  # only in an older chunk
            (5, "2026-10-10T08:00", "2026-10-10T09:00", 5.0),
            (5, "2026-10-10T08:00", "2026-10-10T10:00", 5.5),  # same time, created later: wins
        ],
    )
    _partition(
        root,
        day,
        [
            (1, "2026-10-31T08:00", "2026-10-31T09:00", 1.0),
            (3, "2026-10-31T06:00", "2026-10-31T07:00", 3.0),
        ],
    )
    _partition(
        root,
        day + dt.timedelta(days=1),
        [
            (3, "2026-10-31T20:00", "2026-11-01T01:00", 3.5),  # late row of the day: counts
            (1, "2026-11-01T08:00", "2026-11-01T09:00", 99.0),  # the next day: never
        ],
    )
    view = SimpleNamespace(
        ttl=dt.timedelta(days=25),
        batch_source=SimpleNamespace(
            path=str(root / "date=*" / "*.parquet"),
            timestamp_field="event_timestamp",
            created_timestamp_column="created",
        ),
    )
    fs = SimpleNamespace(get_feature_view=lambda name: view)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    got = view_as_of(con, fs, "activity", ["value"], np.array([1, 2, 3, 4, 5, 6]), day)
    values = dict(zip(got["learner_id"], got["value"], strict=True))
    # 4 is older than the TTL, 6 has no row at all: neither has a value (NaN after the merge).
    assert values == {1: 1.0, 2: 2.0, 3: 3.5, 5: 5.5}
