"""The day of each row, and the rows of one day, as the check computes them on windows of
millions of rows: the same answers as converting every timestamp to a date."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from bantay.monitoring.frames import days_of, on_day


def _stamps() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2026-11-01", tz="UTC")
    offsets = pd.to_timedelta(rng.integers(0, 7 * 86_400, 2_000), unit="s")
    stamps = pd.Series(start + offsets)
    stamps[[5, 17]] = pd.NaT
    edges = [start + pd.Timedelta(days=2), start + pd.Timedelta(days=3) - pd.Timedelta("1ns")]
    frame = pd.DataFrame({"ts": pd.concat([stamps, pd.Series(edges)], ignore_index=True)})
    frame.index = frame.index * 3  # not a range: the answer keeps the frame's index
    return frame


def test_days_of_is_every_timestamp_as_its_utc_date():
    frame = _stamps()
    expected = pd.to_datetime(frame["ts"], utc=True).dt.date
    got = days_of(frame, "ts")
    assert got.index.equals(frame.index)
    assert got.isna().tolist() == expected.isna().tolist()
    assert got.dropna().tolist() == expected.dropna().tolist()
    assert days_of(frame, "missing_column") is None


def test_on_day_selects_the_rows_of_that_utc_day_edges_included():
    frame = _stamps()
    expected = pd.to_datetime(frame["ts"], utc=True).dt.date
    for day in (dt.date(2026, 11, 1), dt.date(2026, 11, 3), dt.date(2026, 11, 9)):
        assert on_day(frame, "ts", day).tolist() == (expected == day).tolist()
    assert on_day(frame, "ts", dt.date(2026, 11, 3))[-2:].tolist() == [True, True]
