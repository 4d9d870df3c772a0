"""A drift retrain learns the drift, and what is published is what the gate evaluated.

Real services (Feast's point-in-time join, a PostgreSQL registry, an S3 endpoint on loopback) and
the training task bodies in DAG order, without Airflow's scheduler:

* a covariate drift opens in the registry's drift history; the retrain's published model is
  fitted on every matured row (the test rows too), its lineage counts the rows after the drift
  began, and its drift reference is the new regime;
* a staged file changed after the gate evaluated it (the model, the reference or the evaluation
  record) is refused at approval and at publish, naming the file; production stays where it was.
"""

from __future__ import annotations

import datetime as dt

import joblib
import pandas as pd
import pytest

from bantay import simulate as sim
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import moto_s3  # noqa: F401

pytestmark = pytest.mark.integration

LAST = dt.date(2026, 10, 31)
DRIFT = LAST - dt.timedelta(days=16)
LIFECYCLE = {
    "days": 70,
    "last_day": LAST,
    "scenario": sim.Scenario(
        learners=2000,
        seed=5,
        label_delay_days=2,
        label_anchor=DRIFT,
        covariate=(sim.CovariateShift(("study_minutes",), DRIFT, 2.0),),
    ),
}


def _train(steps):
    training = steps.training_set()
    return steps.evaluate(training, steps.tune(training, limit=1))


def _steps(settings, run_id: str, as_of: dt.date, reason: str):
    from bantay.training.run import RunContext
    from support.training_steps import TrainingSteps

    stamp = dt.datetime.combine(as_of, dt.time(), dt.UTC).isoformat()
    return TrainingSteps(
        settings, RunContext("learner_risk", run_id, stamp, reason, trigger="manual")
    )


@pytest.fixture(scope="module")
def production(lifecycle_env):  # noqa: F811
    """A first model trained before the drift, published and promoted."""
    from bantay.stores.registry import registry_for

    settings = lifecycle_env.settings()
    steps = _steps(settings, "first", DRIFT - dt.timedelta(days=1), "first model")
    evaluation = _train(steps)
    steps.approve(evaluation["version"], True, "test", "first")
    steps.publish(evaluation["version"])
    return registry_for(settings).versions.production("learner_risk").version


def _drift_history(reg, days: int) -> None:
    for i in range(-1, days):
        day = DRIFT + dt.timedelta(days=i)
        reg.drift.upsert(
            "learner_risk",
            day,
            verdict="OK" if i < 0 else "DRIFT",
            drifted_share=0.0,
            n_drifted=0 if i < 0 else 1,
            n_features=12,
            decision="no_action",
        )


def test_a_retrain_after_the_drift_is_fitted_on_the_drifted_rows(lifecycle_env, production):  # noqa: F811
    from bantay.stores.registry import registry_for

    settings = lifecycle_env.settings()
    reg = registry_for(settings)
    _drift_history(reg, 10)
    steps = _steps(settings, "retrain", DRIFT + dt.timedelta(days=10), "drift retrain")
    evaluation = _train(steps)
    version = reg.versions.get("learner_risk", evaluation["version"])
    fitted = version.lineage["fitted"]
    split = version.lineage["split"]
    assert fitted["drift_since"] == DRIFT.isoformat()
    assert fitted["rows"] == sum(split[p]["rows"] for p in ("train", "valid", "test"))
    # Labels observed on the drift's first day and a week later have matured by then.
    assert fitted["rows_after_drift"] >= 2 * 1900, fitted
    assert pd.Timestamp(fitted["until"]) >= pd.Timestamp(split["boundaries"]["test_start"])
    reference = version.lineage["reference"]
    assert reference["basis"] == "post_drift" and reference["first"] == DRIFT.isoformat()
    ref = pd.read_parquet(steps.dir / "reference.parquet")
    assert pd.to_datetime(ref["event_timestamp"], utc=True).dt.date.min() >= DRIFT
    # Champion and challenger were compared on rows the champion was not fitted on.
    compared = version.lineage["compared_on"]
    assert compared["rows"] > 0 and "after production's newest fitted row" in compared["basis"]
    assert version.lineage["compared_with"] == production
    # Fairness too: the candidate's recall gaps beside the champion's on those same rows, with
    # Fairlearn's bootstrap intervals, judged by the gate and kept with the version.
    versus = version.metrics["fairness_versus_champion"]
    assert versus["rows"] == compared["rows"]
    both = [s for s in versus["slices"].values() if set(s["gaps"]) == {"candidate", "champion"}]
    assert both and all(
        s["change"]["low"] <= s["change"]["value"] <= s["change"]["high"] for s in both
    )
    check = next(c for c in version.gate if c["name"] == "fairness.versus_champion")
    assert check["status"] in ("passed", "failed") and production in check["detail"]
    own = version.metrics["fairness"]["slices"]
    assert any(set(s["gaps"]) == {"candidate"} for s in own.values())


@pytest.mark.parametrize("swapped", ["model.joblib", "reference.parquet", "evaluation.json"])
@pytest.mark.promise("staged files", "model.joblib and reference.parquet swapped after the gate")
def test_a_staged_file_changed_after_the_gate_is_never_published(
    lifecycle_env,  # noqa: F811
    production,
    swapped: str,
):
    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for
    from bantay.training.staging import StagedArtifactChanged
    from bantay.vocabulary import ModelStatus

    settings = lifecycle_env.settings()
    steps = _steps(settings, f"swap-{swapped}", DRIFT - dt.timedelta(days=1), "swap test")
    evaluation = _train(steps)
    assert "sha256" in evaluation["gate_table"]  # the approval request names the digests
    version = evaluation["version"]
    path = steps.dir / swapped
    if swapped == "model.joblib":
        model = joblib.load(path)
        joblib.dump(model, path, compress=3)  # the same model, other bytes
    elif swapped == "reference.parquet":
        frame = pd.read_parquet(path)
        frame.iloc[: len(frame) // 2].to_parquet(path, index=False)
    else:
        path.write_text(path.read_text() + "\n")  # one byte more, same meaning
    with pytest.raises(StagedArtifactChanged, match=swapped):
        steps.approve(version, True, "a reviewer", "looks fine")
    reg = registry_for(settings)
    assert reg.versions.get("learner_risk", version).status == "candidate"
    reg.versions.set_status(
        "learner_risk", version, ModelStatus.APPROVED, reason="approved, then swapped"
    )
    with pytest.raises(StagedArtifactChanged, match=swapped):
        steps.publish(version)
    store = model_store_for(settings)
    assert store.pointers.current("learner_risk")["version"] == production
    assert version not in store.versions.of("learner_risk")
