"""An experiment's life in the model store (the local S3 endpoint) and the registry: starting
stages the challenger as the checked shadow and records the design; a second start is refused;
stopping records who, why and the decision, stops the challenger's shadow, and keeps the record."""

from __future__ import annotations

import datetime as dt

import pytest

from bantay.serving.experiment import (
    ExperimentError,
    ExperimentPlan,
    latest_experiment,
    new_record,
    start_experiment,
    stop_experiment,
)
from support import model_versions
from support.model_versions import MODEL, publish
from support.services import moto_s3, s3_bucket  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.integration

registry = model_versions.registry
store = model_versions.store
promo = model_versions.promo


def _record(challenger: str) -> dict:
    return new_record(
        MODEL,
        challenger,
        "v1",
        ExperimentPlan(share=0.3),
        start=dt.date(2026, 3, 1),
        label_delay_days=14,
        sample={"per_arm": 1000, "max_information": 5000.0},
        actor="ana",
        reason="does v2 help more learners?",
    )


def test_an_experiment_starts_runs_alone_and_stops_on_record(store, promo, registry):
    publish(promo, "v1", 1)
    publish(promo, "v2", 2)
    promo.promote(MODEL, "v1", actor="t", reason="first")
    with pytest.raises(ExperimentError, match="is learner_risk's production version"):
        start_experiment(store, registry, _record("v1"))
    record = start_experiment(store, registry, _record("v2"))
    assert store.pointers.shadow(MODEL)["version"] == "v2"
    assert store.pointers.experiment(MODEL)["key"] == record["key"]
    with pytest.raises(ExperimentError, match="already runs experiment"):
        start_experiment(store, registry, _record("v2"))

    stopped = stop_experiment(
        store, registry, MODEL, actor="ben", reason="harm", decision={"decision": "x"}
    )
    assert store.pointers.experiment(MODEL) is None
    assert store.pointers.shadow(MODEL) is None
    kept = latest_experiment(store, MODEL)
    assert kept == stopped
    assert (kept["status"], kept["stopped_by"], kept["stop_reason"]) == ("stopped", "ben", "harm")
    assert kept["plan"]["share"] == 0.3 and kept["decision_at_stop"] == {"decision": "x"}
    assert store.pointers.experiment_ids(MODEL) == [record["id"]]
    with pytest.raises(ExperimentError, match="runs no experiment"):
        stop_experiment(store, registry, MODEL, actor="ben", reason="again")


def test_an_unapproved_challenger_never_starts(store, promo, registry):
    publish(promo, "v1", 1)
    publish(promo, "v2", 2, approve=False)
    promo.promote(MODEL, "v1", actor="t", reason="first")
    with pytest.raises(Exception, match="candidate"):
        start_experiment(store, registry, _record("v2"))
    assert store.pointers.experiment(MODEL) is None
