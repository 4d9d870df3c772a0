"""The bulk writer's read: only the partitions that can hold the window, the window's rows (both
ends inclusive), the latest row per learner by event time then created time, as Feast keeps it."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64
from feast.value_type import ValueType

from bantay.features import online_write
from bantay.features.online_write import latest_rows, partition_files
from bantay.stores import feast_redis

UTC = dt.UTC


def _view(root) -> FeatureView:
    learner = Entity(name="learner", join_keys=["learner_id"], value_type=ValueType.INT64)
    source = FileSource(
        name="s",
        path=str(root / "feed" / "date=*" / "*.parquet"),
        timestamp_field="event_timestamp",
        created_timestamp_column="created_timestamp",
    )
    return FeatureView(
        name="feed",
        entities=[learner],
        schema=[Field(name="learner_id", dtype=Int64), Field(name="x", dtype=Float64)],
        source=source,
    )


def _write(root, day: str, rows: list[tuple]) -> None:
    folder = root / "feed" / f"date={day}"
    folder.mkdir(parents=True)
    ts = pa.timestamp("us", tz="UTC")
    table = pa.table(
        {
            "learner_id": pa.array([r[0] for r in rows], pa.int64()),
            "event_timestamp": pa.array([r[1] for r in rows], ts),
            "created_timestamp": pa.array([r[2] for r in rows], ts),
            "x": pa.array([r[3] for r in rows], pa.float64()),
        }
    )
    pq.write_table(table, folder / "part-0.parquet")


def test_latest_row_per_learner_inside_the_window(tmp_path):
    t = lambda d, h=0: dt.datetime(2026, 3, d, h, tzinfo=UTC)  # noqa: E731
    _write(tmp_path, "2026-03-01", [(1, t(1, 5), t(1, 23), 1.0), (4, t(1, 1), t(1, 23), 4.0)])
    _write(
        tmp_path,
        "2026-03-02",
        [
            (1, t(2, 5), t(2, 23), 2.0),  # newer event time wins
            (2, t(2, 5), t(2, 23), 21.0),  # same event time: the later created time wins,
            (2, t(2, 5), t(2, 22), 20.0),  # wherever it sits in the file
            (3, t(1, 3), t(2, 23), 30.0),  # a late row of the day before, still inside
        ],
    )
    _write(tmp_path, "2026-03-05", [(1, t(5, 5), t(5, 23), 5.0)])  # after the window
    view = _view(tmp_path)
    start, end = t(1), t(3) - dt.timedelta(microseconds=1)
    files = partition_files(view, start, end, lateness_days=1)
    assert [f.parent.name for f in files] == ["date=2026-03-01", "date=2026-03-02"]
    rows = latest_rows(view, t(1, 2), end, lateness_days=1)  # learner 4's only row is before
    got = dict(zip(rows["learner_id"].to_pylist(), rows["x"].to_pylist(), strict=True))
    assert got == {1: 2.0, 2: 21.0, 3: 30.0}


def test_no_partition_no_rows(tmp_path):
    view = _view(tmp_path)
    start = dt.datetime(2026, 3, 1, tzinfo=UTC)
    rows = latest_rows(view, start, start + dt.timedelta(days=1), lateness_days=1)
    assert rows.num_rows == 0


class _Drops:
    """Stands in for the Redis boundary (``feast_redis.send``): the first ``drops`` sends fail
    as a dropped connection does, the rest succeed; every call is recorded."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.calls: list[int] = []

    def __call__(self, client, commands, count) -> None:
        self.calls.append(count)
        if len(self.calls) <= self.drops:
            raise ConnectionError("Redis closed the connection after 0 of 3 replies")


def test_a_batch_cut_off_by_a_dropped_connection_is_sent_again(monkeypatch):
    fake = _Drops(drops=2)
    monkeypatch.setattr(feast_redis, "send", fake)
    monkeypatch.setattr(online_write.time, "sleep", lambda s: None)
    online_write._send(None, b"", 3, "learning_activity")
    assert fake.calls == [3, 3, 3]  # two drops, then the whole batch again, once


def test_a_connection_that_keeps_dropping_fails_the_write(monkeypatch):
    fake = _Drops(drops=online_write.SEND_ATTEMPTS)
    monkeypatch.setattr(feast_redis, "send", fake)
    monkeypatch.setattr(online_write.time, "sleep", lambda s: None)
    with pytest.raises(ConnectionError, match="closed the connection"):
        online_write._send(None, b"", 3, "learning_activity")
    assert len(fake.calls) == online_write.SEND_ATTEMPTS
