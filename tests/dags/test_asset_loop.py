"""The Asset graph closes the loop, per model: features -> scoring (reads production) ->
predictions -> drift -> drift/<model> -> training -> production -> scoring."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags


def _names(assets) -> set[str]:
    return {a.name for a in assets}


def test_features_are_announced_when_accepted_not_when_online(dags):
    """Scoring reads the accepted partitions, so it starts after the contract, while the online
    store (single-learner lookups) is written beside it."""
    features = dags["bantay_features"]
    assert _names(features.get_task("release").outlets) == {"features/bantay"}
    assert not features.get_task("validate").outlets
    # A feed the sensor gave up on holds only its models: the contract still runs.
    assert features.get_task("validate").trigger_rule == "all_done"
    assert not features.get_task("materialize").outlets


def test_every_model_closes_the_loop(dags):
    from bantay.settings import get_settings

    for model in (m.name for m in get_settings().models):
        score = dags["bantay_scoring"].get_task(f"{model}.score")
        assert _names(score.inlets) == {"features/bantay", f"models/{model}/production"}
        assert _names(score.outlets) == {f"predictions/{model}"}
        check = dags["bantay_drift"].get_task(f"{model}.check")
        assert _names(check.inlets) == {f"predictions/{model}"}
        retrain = dags["bantay_drift"].get_task(f"{model}.retrain")
        assert _names(retrain.outlets) == {f"drift/{model}"}
        training = dags[f"bantay_training_{model}"]
        promote = training.get_task("publish_and_promote")
        assert _names(promote.outlets) == {f"models/{model}/production"}
        # Scheduled on its cron OR its own drift Asset (AssetOrTimeSchedule).
        assert _names(training.timetable.asset_condition.objects) == {f"drift/{model}"}
