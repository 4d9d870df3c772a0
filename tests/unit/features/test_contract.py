"""Every data-contract rule: one bad partition per rule, each rejected with its own message, and
quarantine moves the whole partition beside a machine-readable reason."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from bantay import simulate as sim
from bantay.features.contract import ContractViolation, check_partition, enforce
from bantay.layout import partition_path
from bantay.settings import ContractSettings
from bantay.simulate.catalogue import SOURCE_FEATURES

DAY = dt.date(2026, 9, 10)
SCENARIO = sim.Scenario(learners=800, seed=3)
CFG = ContractSettings()
SOURCE = "learning_activity"


@pytest.fixture
def raw(tmp_path):
    """Seven good days of history, then the day under test (good unless a test breaks it)."""
    root = tmp_path / "raw"
    sim.write_range(root, DAY - dt.timedelta(days=7), 8, SCENARIO)
    return root


def _rewrite(raw, mutate, source=SOURCE):
    frame = sim.partition(source, DAY, SCENARIO)
    sim.write_table(mutate(frame), partition_path(raw, source, DAY))


def _rules(raw, source=SOURCE):
    result = check_partition(raw, source, DAY, CFG)
    return result, {v.rule for v in result.violations}


def test_good_partitions_pass(raw):
    for source in SOURCE_FEATURES:
        result, rules = _rules(raw, source)
        assert result.passed, result.violations


def test_unreadable_file(raw):
    partition_path(raw, SOURCE, DAY).write_bytes(b"not parquet at all")
    result, rules = _rules(raw)
    assert rules == {"readable"}


def test_missing_column(raw):
    _rewrite(raw, lambda f: f.drop(columns=["quiz_score_avg"]))
    result, rules = _rules(raw)
    assert rules == {"schema"}
    assert "missing columns ['quiz_score_avg']" in result.violations[0].sentence()


def test_wrong_type(raw):
    _rewrite(raw, lambda f: f.assign(late_submissions=f["late_submissions"].astype(str)))
    result, rules = _rules(raw)
    assert rules == {"schema"}
    assert "'late_submissions'" in result.violations[0].sentence()
    assert "type string" in result.violations[0].sentence()


def test_null_ratio(raw):
    def nulls(f):
        f = f.copy()
        f.loc[f.index[: len(f) // 5], "attendance_rate"] = np.nan
        return f

    _rewrite(raw, nulls)
    result, rules = _rules(raw)
    assert rules == {"nulls"}
    assert "'attendance_rate'" in result.violations[0].sentence()
    assert "20.0% nulls" in result.violations[0].sentence()


def test_value_range(raw):
    _rewrite(raw, lambda f: f.assign(study_minutes=f["study_minutes"] * 60))  # seconds, not minutes
    result, rules = _rules(raw)
    assert rules == {"range"}
    assert "within [0, 600]" in result.violations[0].sentence()


def test_unknown_category(raw):
    def bad_region(f):
        f = f.copy()
        f["region"] = f["region"].astype(object)
        f.loc[f.index[:5], "region"] = "atlantis"
        f["region"] = f["region"].astype("string")
        return f

    _rewrite(raw, bad_region, source="learner_profile")
    result, rules = _rules(raw, "learner_profile")
    assert rules == {"range"}
    sentence = result.violations[0].sentence()
    assert "5 values in 1 unknown categories" in sentence
    assert "atlantis" not in sentence  # raw values are never echoed, only masked


def test_duplicate_keys(raw):
    _rewrite(raw, lambda f: pd.concat([f, f.head(10)], ignore_index=True))
    result, rules = _rules(raw)
    assert rules == {"duplicates"}
    assert "10 duplicate keys" in result.violations[0].sentence()


def test_timestamps_outside_interval(raw):
    def future(f):
        f = f.copy()
        f.loc[f.index[:3], "event_timestamp"] += pd.Timedelta(days=3)
        return f

    _rewrite(raw, future)
    result, rules = _rules(raw)
    assert rules == {"timestamps"}
    assert "allowed lateness" in result.violations[0].sentence()


def test_row_count_against_recent_days(raw):
    _rewrite(raw, lambda f: f.head(len(f) // 4))
    result, rules = _rules(raw)
    assert rules == {"row_count"}
    assert "median of the last 7 days" in result.violations[0].sentence()


def test_enforce_quarantines_whole_partition_with_reason(raw, tmp_path):
    _rewrite(raw, lambda f: f.assign(study_minutes=f["study_minutes"] * 60))
    quarantine = tmp_path / "quarantine"
    with pytest.raises(ContractViolation) as err:
        enforce(raw, quarantine, tuple(SOURCE_FEATURES), [DAY], CFG, run_id="r1")
    message = str(err.value)
    assert "learning_activity 2026-09-10" in message
    assert "clear this task" in message
    assert not partition_path(raw, SOURCE, DAY).exists()
    assert partition_path(raw, "family_contact", DAY).exists()  # good sources stay
    attempt = quarantine / SOURCE / "date=2026-09-10" / "attempt-1"
    reason = json.loads((attempt / "reason.json").read_text())
    assert reason["passed"] is False and reason["run_id"] == "r1"
    assert reason["violations"][0]["rule"] == "range"
    assert (attempt / "part-0.parquet").is_file()


def test_an_accepted_partition_keeps_its_missing_values_per_column(raw, tmp_path):
    holes = [0, 3, 7]  # a few missing values, within the declared null tolerance

    def blank(frame):
        frame = frame.copy()
        frame.loc[frame.index[holes], "study_minutes"] = np.nan
        return frame

    _rewrite(raw, blank)
    results = enforce(
        raw, tmp_path / "q", (SOURCE,), [DAY], CFG, accepted_dir=tmp_path / "accepted"
    )
    (result,) = [r for r in results if r.day == DAY]
    assert result.passed and result.table is None  # the table is let go once accepted
    assert result.nulls["study_minutes"] == len(holes)
    assert result.nulls["learner_id"] == 0
