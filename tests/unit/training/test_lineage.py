"""What a published version was fitted on, and which days its drift reference covers: the open
drift episode is read from the registry's drift rows, the rows after its start are counted, and a
version that learned the new regime takes the new regime as its reference. The registry here is
a stand-in with the one read these functions make (``drift.reports``)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from bantay.monitoring.episodes import drift_since, regime_since
from bantay.schema import TIMESTAMP
from bantay.settings import get_settings
from bantay.training.lineage import (
    LIBRARIES,
    fitted_lineage,
    fitted_until,
    library_changes,
    library_versions,
)
from bantay.training.reference import reference_days

DAY = dt.date(2026, 11, 10)


class Reports:
    """Registry stand-in: drift rows by day (verdicts only), read as ``registry.drift.reports``;
    ``versions`` is empty until a test sets what it answers."""

    def __init__(self, verdicts: dict[dt.date, str]) -> None:
        self.verdicts = verdicts
        self.drift = SimpleNamespace(reports=self.reports)
        self.versions = SimpleNamespace()

    def reports(self, model: str, since: dt.date | None = None) -> list:
        return [
            SimpleNamespace(report_date=d, verdict=v, decision="no_action")
            for d, v in sorted(self.verdicts.items())
            if since is None or d >= since
        ]


def _days(first: dt.date, verdicts: str) -> dict[dt.date, str]:
    names = {"o": "OK", "d": "DRIFT", "p": "PERFORMANCE", "w": "WATCH"}
    return {first + dt.timedelta(days=i): names[c] for i, c in enumerate(verdicts)}


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def test_the_open_drift_episode_starts_on_its_first_drift_day() -> None:
    reg = Reports(_days(DAY, "oodddpd"))
    assert drift_since(reg, "m", _at(DAY + dt.timedelta(days=7))) == DAY + dt.timedelta(days=2)


def test_a_closed_episode_is_no_drift() -> None:
    reg = Reports(_days(DAY, "odddo"))
    assert drift_since(reg, "m", _at(DAY + dt.timedelta(days=5))) is None


def test_checks_after_as_of_are_not_read() -> None:
    reg = Reports(_days(DAY, "ooodd"))
    assert drift_since(reg, "m", _at(DAY + dt.timedelta(days=3))) is None
    assert drift_since(reg, "m", _at(DAY + dt.timedelta(days=4))) == DAY + dt.timedelta(days=3)


def _rows(days: list[dt.date]) -> pd.DataFrame:
    stamps = [pd.Timestamp(dt.datetime.combine(d, dt.time(23, 59), dt.UTC)) for d in days]
    return pd.DataFrame({TIMESTAMP: stamps * 10})


def test_fitted_rows_after_the_drift_are_counted() -> None:
    days = [DAY - dt.timedelta(days=7 * i) for i in range(4)]
    fitted = fitted_lineage(_rows(days), DAY)
    assert fitted["rows"] == 40 and fitted["rows_after_drift"] == 10
    assert pd.Timestamp(fitted["until"]).date() == DAY
    assert fitted_lineage(_rows(days), None)["rows_after_drift"] == 0


@pytest.fixture
def model():
    return get_settings().model("learner_risk")


def test_a_version_without_drifted_rows_takes_its_last_fitted_days(model) -> None:
    fitted = fitted_lineage(_rows([DAY - dt.timedelta(days=14), DAY]), None)
    window = reference_days(model, fitted, _at(DAY + dt.timedelta(days=3)))
    assert window["basis"] == "last_fitted_days"
    assert window["last"] == DAY.isoformat()
    first = DAY - dt.timedelta(days=model.drift.reference_days - 1)
    assert window["first"] == first.isoformat()


def test_a_version_that_learned_the_drift_takes_the_new_regime_only(model) -> None:
    since = DAY - dt.timedelta(days=1)
    fitted = fitted_lineage(_rows([DAY - dt.timedelta(days=7), DAY]), since)
    window = reference_days(model, fitted, _at(DAY + dt.timedelta(days=3)))
    assert window == {
        "basis": "post_drift",
        "first": since.isoformat(),
        "last": (DAY + dt.timedelta(days=2)).isoformat(),
    }


def test_a_long_regime_is_capped_at_the_reference_days(model) -> None:
    since = DAY - dt.timedelta(days=60)
    fitted = fitted_lineage(_rows([since, DAY]), since)
    window = reference_days(model, fitted, _at(DAY + dt.timedelta(days=1)))
    span = dt.date.fromisoformat(window["last"]) - dt.date.fromisoformat(window["first"])
    assert span.days == model.drift.reference_days - 1


def testfitted_until_reads_new_and_old_manifests() -> None:
    new = {"lineage": {"fitted": {"until": "2026-11-10T23:59:00+00:00"}}}
    old = {"lineage": {"data_window": ["2026-09-01 23:59:00", "2026-11-03 23:59:00"]}}
    assert fitted_until(new) == pd.Timestamp("2026-11-10T23:59:00Z")
    assert fitted_until(old) == pd.Timestamp("2026-11-03T23:59:00Z")
    assert fitted_until({}) is None


def test_a_performance_episode_began_when_its_evidence_was_observed() -> None:
    """PERFORMANCE rests on labels observed weeks before the check: the retrain's drifted rows
    are counted from that observation day."""
    evidence = DAY - dt.timedelta(days=14)
    reports = [
        SimpleNamespace(report_date=DAY, verdict="OK", evidence_day=None, decision="no_action"),
        SimpleNamespace(
            report_date=DAY + dt.timedelta(days=1),
            verdict="PERFORMANCE",
            evidence_day=evidence,
            decision="no_action",
        ),
        SimpleNamespace(
            report_date=DAY + dt.timedelta(days=2),
            verdict="DRIFT",
            evidence_day=None,
            decision="no_action",
        ),
    ]
    reg = SimpleNamespace(drift=SimpleNamespace(reports=lambda model, since=None: reports))
    assert drift_since(reg, "m", _at(DAY + dt.timedelta(days=3))) == evidence


def test_the_regime_a_serving_version_answered_carries_to_the_next_version(model) -> None:
    """After the drift is answered the episode is closed; the next weekly version still takes
    the new regime as its reference until its fitted days cover a whole window."""
    since = DAY - dt.timedelta(days=3)
    serving = SimpleNamespace(
        lineage={"fitted": {"drift_since": since.isoformat(), "rows_after_drift": 2000}}
    )
    reg = Reports(_days(since, "dddo"))
    reg.versions.production = lambda model: serving
    as_of = _at(DAY + dt.timedelta(days=7))
    assert drift_since(reg, "m", as_of) is None
    assert regime_since(reg, "m", as_of) == since
    fitted = fitted_lineage(_rows([DAY - dt.timedelta(days=14), since, DAY]), since)
    window = reference_days(model, fitted, as_of)
    assert window["basis"] == "post_drift" and window["first"] == since.isoformat()
    # Once the fitted days cover a window inside the regime, the usual rule holds again.
    later = fitted_lineage(_rows([since, since + dt.timedelta(days=30)]), since)
    assert reference_days(model, later, as_of)["basis"] == "last_fitted_days"


def test_the_library_versions_that_matter_are_recorded():
    found = library_versions()
    assert set(found) == {"python", *LIBRARIES}
    assert {"numpy", "pandas", "scikit-learn", "feast", "pyarrow", "joblib"} <= set(found)
    assert all(isinstance(v, str) and v for v in found.values())


def test_library_changes_name_each_difference():
    then = {"python": "3.11.7", "numpy": "2.4.6", "pandas": "2.3.3"}
    now = {"python": "3.11.7", "numpy": "2.5.0", "feast": "0.67.0"}
    assert library_changes(then, now) == [
        "feast None -> 0.67.0",
        "numpy 2.4.6 -> 2.5.0",
        "pandas 2.3.3 -> None",
    ]
    assert library_changes(then, then) == []
