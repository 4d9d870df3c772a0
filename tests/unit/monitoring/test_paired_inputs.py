"""The shadow report read from a lake: the shadow's nightly logs, the labels matured by the day
asked, and each version's decision threshold from a real (SQLite) registry."""

from __future__ import annotations

import datetime as dt

import pytest

from bantay.layout import Layout
from bantay.monitoring.paired import BETTER, PairedDataError
from bantay.monitoring.paired_inputs import shadow_report
from bantay.settings import ModelSettings
from bantay.stores.registry import Registry
from support.shadow_lake import DELAY, MODEL, write_shadow_days

FIRST = dt.date(2026, 3, 2)


@pytest.fixture
def registry(tmp_path):
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.upgrade()
    yield reg
    reg.dispose()


@pytest.fixture
def lake(tmp_path):
    days = [FIRST + dt.timedelta(days=7 * i) for i in range(3)]
    write_shadow_days(tmp_path / "data", days)
    return Layout(home=tmp_path, data=tmp_path / "data")


def test_report_reads_matured_days_and_registry_thresholds(lake, registry):
    registry.versions.upsert(
        MODEL, "s1", status="candidate", metrics={"test": {"threshold_at_precision": 0.7}}
    )
    as_of = FIRST + dt.timedelta(days=7 + DELAY)  # two of three days matured
    result = shadow_report(ModelSettings(name=MODEL), lake, registry, as_of, bootstrap=50)
    assert result.maturity.matured_rows == 1600 and result.maturity.unmatured_rows == 800
    assert result.maturity.next_maturity == FIRST + dt.timedelta(days=14 + DELAY)
    assert result.shadow.thresholds == {"s1": 0.7}
    assert result.production.thresholds == {"p1": 0.5}  # not registered: the fallback
    assert result.decision == BETTER
    assert {s.slice for s in result.slices} == {"region", "grade_band", "parent_abroad"}


def test_labels_not_arrived_by_the_day_asked_are_waited_for(lake, registry):
    with pytest.raises(PairedDataError) as err:
        shadow_report(
            ModelSettings(name=MODEL), lake, registry, FIRST + dt.timedelta(days=DELAY - 1)
        )
    assert f"reach their {DELAY}-day label delay on {FIRST + dt.timedelta(days=DELAY)}" in str(
        err.value
    )


def test_no_shadow_in_the_window_says_how_to_stage_one(tmp_path, registry):
    layout = Layout(home=tmp_path, data=tmp_path / "data")
    with pytest.raises(
        PairedDataError,
        match="no shadow has scored learner_risk from .*'bantay shadow --model learner_risk --to VERSION'",
    ):
        shadow_report(ModelSettings(name=MODEL), layout, registry, FIRST)
