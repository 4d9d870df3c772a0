"""bantay_drift's first task plans the run: the day, and the models to check (a re-check from
the bantay pages names one; a scheduled run checks every model), and the other models' checks
skip before they read anything."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
START = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def drift():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["bantay_drift"]


def _plan(drift, **params):
    return drift.get_task("plan").python_callable(params=params, data_interval_start=START)


def test_a_scheduled_run_checks_every_model_of_its_day(drift):
    from bantay.settings import get_settings

    names = [m.name for m in get_settings().models]
    assert drift.params["model"] in ("", None)
    assert _plan(drift, date=None, model="") == {"day": "2026-11-20", "models": names}


def test_a_recheck_checks_the_named_model_only(drift):
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from bantay.settings import get_settings

    names = [m.name for m in get_settings().models]
    planned = _plan(drift, date="2026-11-03", model=names[0], reason="re-check by ana")
    assert planned == {"day": "2026-11-03", "models": [names[0]]}
    with pytest.raises(AirflowFailException, match="not configured"):
        _plan(drift, model="no_such_model")
    other = {"day": "2026-11-03", "models": ["no_such_model"]}
    with pytest.raises(AirflowSkipException, match="checks"):
        drift.get_task(f"{names[0]}.check").python_callable(other, names[0])
