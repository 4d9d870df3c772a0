"""A day of the prediction log, summarised: each row is judged at the decision threshold of the
version that scored it, not at the precision target."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from bantay.ui.queries import serving_day


def _day(tmp_path, table: pa.Table):
    part = tmp_path / "date=2026-11-20" / "part-0.parquet"
    part.parent.mkdir()
    pq.write_table(table, part)
    return part


def test_share_above_uses_each_versions_own_threshold(tmp_path) -> None:
    table = pa.table(
        {
            "score": [0.55, 0.70, 0.90, 0.60],
            "model_version": ["v1", "v1", "v2", "v2"],
            "shadow_score": [0.80, 0.10, 0.95, 0.10],
            "shadow_version": ["v3"] * 4,
            "study_minutes": [1.0, None, 2.0, 3.0],
        }
    )
    day = serving_day(_day(tmp_path, table), {"v1": 0.682, "v2": 0.5}, {"study_minutes"})
    # v1 at 0.682: 0.70 flagged, 0.55 not; v2 at 0.5: both flagged (at 0.5 all but one would be).
    assert day.above_threshold == 0.75
    assert day.threshold == 0.682 and day.versions == ("v1", "v2")
    assert day.agreement == 0.25  # shadow [T, F, T, F] against primary [F, T, T, T]
    assert day.missing_features == 0.25 and day.rows == 4


def test_a_version_without_a_threshold_counts_nowhere(tmp_path) -> None:
    table = pa.table({"score": [0.9, 0.1], "model_version": ["v9", "v9"]})
    day = serving_day(_day(tmp_path, table), {"v1": 0.5}, set())
    assert day.above_threshold is None and day.threshold is None
