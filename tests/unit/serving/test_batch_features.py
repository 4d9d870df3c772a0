"""The ``observed`` marker of the batch feature read: a learner's row on the scored day is its own
only when every feature view has a row of that learner dated that day; values carried forward
from an earlier day (as-of reads over a learner's absent days) are marked, so the drift check can
leave them out."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bantay.serving.batch_features import OBSERVED, batch_features

DAY = dt.date(2026, 10, 31)


def _partition(root, day: dt.date, rows: list[tuple[int, str, float]]) -> None:
    """One day's file of the feed at ``root``, whose feature column is named like the folder."""
    folder = root / f"date={day.isoformat()}"
    folder.mkdir(parents=True)
    frame = pd.DataFrame(rows, columns=["learner_id", "event_timestamp", root.name])
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True).astype(
        "datetime64[us, UTC]"
    )
    frame["created"] = frame["event_timestamp"]
    frame.to_parquet(folder / "part-0.parquet", index=False)


def _view(root) -> SimpleNamespace:
    return SimpleNamespace(
        ttl=dt.timedelta(days=14),
        batch_source=SimpleNamespace(
            path=str(root / "date=*" / "*.parquet"),
            timestamp_field="event_timestamp",
            created_timestamp_column="created",
        ),
    )


@pytest.fixture
def two_views(tmp_path):
    """A feature store over two daily feeds; learner 1 is in both on DAY, 2 only in one, 3 in
    neither (carried), 4 only in a late row of DAY delivered the next day, 5 never seen."""
    activity, contact = tmp_path / "activity_value", tmp_path / "contact_value"
    before = DAY - dt.timedelta(days=1)
    _partition(activity, before, [(i, "2026-10-30T08:00", 10.0 + i) for i in (1, 2, 3, 4)])
    _partition(contact, before, [(i, "2026-10-30T08:00", 20.0 + i) for i in (1, 2, 3, 4)])
    _partition(activity, DAY, [(1, "2026-10-31T08:00", 1.0), (2, "2026-10-31T08:00", 2.0)])
    _partition(contact, DAY, [(1, "2026-10-31T09:00", 1.5), (4, "2026-10-31T09:00", 4.5)])
    _partition(
        activity,
        DAY + dt.timedelta(days=1),
        [(4, "2026-10-31T20:00", 4.0), (1, "2026-11-01T08:00", 99.0)],
    )
    views = {"activity": _view(activity), "contact": _view(contact)}
    service = SimpleNamespace(
        feature_view_projections=[
            SimpleNamespace(name=name, features=[SimpleNamespace(name=f"{name}_value")])
            for name in views
        ]
    )
    return SimpleNamespace(
        get_feature_service=lambda name: service, get_feature_view=lambda name: views[name]
    )


def test_only_learners_with_their_own_row_in_every_view_that_day_are_observed(two_views):
    learners = np.array([5, 4, 3, 2, 1])

    frame = batch_features(two_views, "svc", learners, DAY, observed=True)

    assert frame["learner_id"].tolist() == learners.tolist()
    marked = dict(zip(frame["learner_id"], frame[OBSERVED], strict=True))
    assert marked == {1: True, 2: False, 3: False, 4: True, 5: False}
    values = frame.set_index("learner_id")
    assert values.loc[3].tolist() == [13.0, 23.0, False]  # both carried from the day before
    assert values.loc[4].tolist() == [4.0, 4.5, True]  # the late row of the day counts


def test_the_marker_is_asked_for_so_the_online_equal_read_keeps_its_columns(two_views):
    frame = batch_features(two_views, "svc", np.array([1, 2]), DAY)

    assert frame.columns.tolist() == ["learner_id", "activity_value", "contact_value"]


def _as_of(rows: pd.DataFrame, learners: np.ndarray, day: dt.date, ttl: dt.timedelta) -> pd.Series:
    """The definition, on every row at once: each learner's latest row by (event, created) time
    with an event time within the TTL up to the day's end."""
    hi = pd.Timestamp(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC))
    hi -= pd.Timedelta(microseconds=1)
    inside = rows[(rows["event_timestamp"] <= hi) & (rows["event_timestamp"] >= hi - ttl)]
    latest = inside.sort_values(["event_timestamp", "created"]).groupby("learner_id").last()
    return latest.reindex(learners)


def test_the_batch_read_gives_every_learner_its_latest_row_however_far_back_it_lies(tmp_path):
    """A month of one feed with late rows, learners absent for days or weeks, and rows of one
    event time delivered twice (the later created wins, even from an older partition): the read,
    newest partitions first and older ones only for learners still unresolved, equals the as-of
    rule applied to every row at once."""
    rng = np.random.default_rng(11)
    root = tmp_path / "activity_value"
    ttl, first = dt.timedelta(days=14), DAY - dt.timedelta(days=30)
    delivered: dict[dt.date, list[dict]] = {}
    for learner in range(1, 401):
        last_seen = int(rng.integers(0, 31))  # days before DAY of the learner's last event
        for back in range(last_seen, 31, int(rng.integers(1, 4))):
            event = pd.Timestamp(DAY - dt.timedelta(days=back), tz="UTC") + pd.Timedelta(
                minutes=int(rng.integers(0, 24 * 60))
            )
            late = int(rng.integers(0, 3)) if rng.random() < 0.2 else 0
            at = min(event.date() + dt.timedelta(days=late), DAY + dt.timedelta(days=1))
            created = event + pd.Timedelta(hours=1 + late * 24, microseconds=learner)
            row = {"learner_id": learner, "event_timestamp": event, "created": created}
            delivered.setdefault(at, []).append({**row, "activity_value": rng.random()})
            if rng.random() < 0.1:  # the same event again, corrected, in the next partition
                again = min(at + dt.timedelta(days=1), DAY + dt.timedelta(days=1))
                later = {**row, "created": created + pd.Timedelta(hours=30)}
                delivered.setdefault(again, []).append({**later, "activity_value": rng.random()})
    for at, rows in delivered.items():
        folder = root / f"date={at.isoformat()}"
        folder.mkdir(parents=True)
        part = pd.DataFrame(rows)
        for column in ("event_timestamp", "created"):
            part[column] = part[column].astype("datetime64[us, UTC]")
        part.to_parquet(folder / "part-0.parquet", index=False)
    assert min(delivered) <= first
    view = _view(root)
    view.ttl = ttl
    service = SimpleNamespace(
        feature_view_projections=[
            SimpleNamespace(name="activity", features=[SimpleNamespace(name="activity_value")])
        ]
    )
    fs = SimpleNamespace(get_feature_service=lambda name: service, get_feature_view=lambda n: view)
    learners = rng.permutation(np.arange(1, 421))  # 401-420 have no row at all

    got = batch_features(fs, "svc", learners, DAY, observed=True)

    expected = _as_of(pd.concat(pd.DataFrame(r) for r in delivered.values()), learners, DAY, ttl)
    assert got["learner_id"].tolist() == learners.tolist()
    assert np.array_equal(
        got["activity_value"].to_numpy(), expected["activity_value"].to_numpy(), equal_nan=True
    )
    own = (expected["event_timestamp"].dt.date == DAY).to_numpy()
    assert got[OBSERVED].tolist() == own.tolist()
    assert got["activity_value"].isna().sum() > 0 and 0 < own.sum() < len(own)


@pytest.mark.parametrize("ids", [[3, 1, 2], [2, 1]], ids=["one-missing", "all-found"])
def test_a_views_columns_line_up_with_the_learners_as_a_left_join_would(ids):
    """Whole numbers become floats only where a learner has no row, strings and flags keep
    their values, extension dtypes their own missing value: the frame a left merge gives."""
    from bantay.serving.batch_features import _aligned

    values = pd.DataFrame(
        {
            "learner_id": [1, 2],
            "count": [4, 5],
            "region": ["ncr", "visayas"],
            "flag": [True, False],
            "rate": [0.5, 0.25],
            "nullable": pd.array([7, None], dtype="Int64"),
        }
    )
    ids = np.array(ids, dtype=np.int64)
    names = list(values.columns[1:])

    got = pd.DataFrame({"learner_id": ids, **_aligned(values, names, ids)})

    expected = pd.DataFrame({"learner_id": ids}).merge(values, on="learner_id", how="left")
    pd.testing.assert_frame_equal(got, expected)
