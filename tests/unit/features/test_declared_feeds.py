"""The data contract checks a project's own feed against its declaration: its columns, types,
ranges (open-ended too) and allowed values (strings and integers), and an undeclared column is
refused with the fix named: declare it, when the feed is right."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from bantay.features.contract import ContractViolation, enforce
from bantay.features.rules import check_table
from bantay.settings import ContractSettings
from bantay.settings.feeds import FeedSettings

DAY = dt.date(2026, 10, 5)
FEED = FeedSettings.model_validate(
    {
        "name": "exam_practice",
        "columns": {
            "practice_minutes": {"type": "float", "min": 0},
            "subject": {"type": "string", "values": ["math", "science"]},
            "mock_passed": {"type": "int", "values": [0, 1]},
        },
    }
)
CFG = ContractSettings()


def _table(n: int = 100, **overrides) -> pa.Table:
    when = dt.datetime.combine(DAY, dt.time(12), dt.UTC)
    columns = {
        "learner_id": pa.array(range(1, n + 1), pa.int64()),
        "event_timestamp": pa.array([when] * n, pa.timestamp("us", "UTC")),
        "practice_minutes": pa.array([float(i % 90) for i in range(n)]),
        "subject": pa.array(["math", "science"] * (n // 2)),
        "mock_passed": pa.array([i % 2 for i in range(n)], pa.int64()),
        "created_timestamp": pa.array([when] * n, pa.timestamp("us", "UTC")),
    }
    columns.update(overrides)
    return pa.table(columns)


def test_a_delivery_as_declared_passes():
    assert check_table(_table(), FEED, DAY, CFG) == []


def test_values_outside_the_declaration_are_named():
    bad = _table(
        practice_minutes=pa.array([-1.0] + [5.0] * 99),
        subject=pa.array(["art"] + ["math"] * 99),
        mock_passed=pa.array([2] + [0] * 99, pa.int64()),
    )
    found = {(v.rule, v.column, v.expected) for v in check_table(bad, FEED, DAY, CFG)}
    assert ("range", "practice_minutes", "within [0, inf]") in found
    assert ("range", "subject", "one of ['math', 'science']") in found
    assert ("range", "mock_passed", "one of [0, 1]") in found


@pytest.mark.promise(
    "data contract",
    "a column the feed's declaration does not have",
    says="Refused, naming the column and both fixes: the producer, or the declaration when the "
    "feed is right.",
)
def test_an_undeclared_column_names_the_declaration_as_a_fix():
    table = _table().append_column("hours_slept", pa.array([7.0] * 100))
    (violation,) = check_table(table, FEED, DAY, CFG)
    assert violation.rule == "schema" and "1 unexpected columns ['hours_slept']" in violation.found
    assert "declare them under features.feeds[exam_practice].columns" in violation.expected


def test_enforce_quarantines_a_declared_feed_and_says_both_fixes(tmp_path):
    import pyarrow.parquet as pq

    raw = tmp_path / "data" / "raw"
    folder = raw / "exam_practice" / f"date={DAY}"
    folder.mkdir(parents=True)
    pq.write_table(_table(subject=pa.array(["art"] * 100)), folder / "part-0.parquet")
    with pytest.raises(ContractViolation) as err:
        enforce(raw, tmp_path / "data" / "quarantine", [FEED], [DAY], CFG)
    assert "exam_practice 2026-10-05 (100 rows) moved to" in str(err.value)
    assert "its columns under features.feeds in bantay.yaml" in str(err.value)
    folder.mkdir(parents=True, exist_ok=True)  # the failed delivery moved to quarantine/
    pq.write_table(_table(), folder / "part-0.parquet")
    (result,) = enforce(raw, tmp_path / "data" / "quarantine", [FEED], [DAY], CFG)
    assert result.passed
    accepted = pq.read_table(tmp_path / "data" / "accepted" / "exam_practice" / f"date={DAY}")
    assert accepted.schema.field("mock_passed").type == pa.int64()
