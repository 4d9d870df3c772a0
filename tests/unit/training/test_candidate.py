"""A candidate carries its global explanation: computed on the published model at evaluation,
kept in the registry's metrics and in the version's manifest; a model whose attributions do not
add up is never registered or published. The registry is a recording fake here."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import joblib
import pandas as pd
import pytest

import bantay.training.explain as explain
from bantay.serving.publish import refuse_unexplainable, version_manifest
from bantay.settings import ModelSettings
from bantay.training.candidate import explain_version, register_candidate
from bantay.training.explain import AttributionError
from bantay.training.gate import GateReport
from bantay.training.pipeline import fit_final
from bantay.training.run import RunContext
from bantay.training.split import temporal_split
from support.synthetic import FEATURES, make_learner_frame

MODEL = ModelSettings(name="learner_risk")
HGB = {
    "trial_id": "hgb",
    "name": "hgb",
    "estimator": "hist_gradient_boosting",
    "params": {"max_iter": 30},
}


@pytest.fixture(scope="module")
def candidate():
    everything = make_learner_frame(3_000, seed=41)
    split = temporal_split(everything)
    final = fit_final(HGB, everything, FEATURES)
    return final, everything, split


class _Versions:
    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    def upsert(self, model: str, version: str, **fields) -> None:
        self.rows[version] = fields


def test_the_candidate_records_its_global_explanation_in_the_registry(candidate, tmp_path):
    final, everything, split = candidate
    reference = split.test.sample(frac=0.5, random_state=1)
    reference.to_parquet(tmp_path / "reference.parquet")
    cut = float(pd.Series(final.predict_proba(reference[FEATURES.names])[:, 1]).quantile(0.8))
    explanation = explain_version(
        final,
        everything,
        split,
        FEATURES.to_dict(),
        MODEL,
        tmp_path,
        {"threshold_at_precision": cut},
    )
    assert explanation["global"]["rows"] == len(split.test)
    assert explanation["additivity"]["max_error"] <= 1e-6
    # The drift reference explained, over all its rows and over those flagged at the cut: what
    # the daily attribution drift check compares the window with.
    found = explanation["reference"]
    assert found["rows"] == len(reference) and found["threshold"] == cut
    assert 0.15 * len(reference) <= found["flagged_rows"] <= 0.25 * len(reference)
    assert set(found["mean_abs_attribution"]) == set(FEATURES.names)
    assert found["flagged_mean_abs_attribution"] != found["mean_abs_attribution"]
    registry = SimpleNamespace(versions=_Versions())
    ctx = RunContext(model="learner_risk", run_id="r1", as_of="2025-05-01T00:00:00", reason="test")
    found = {"test": {}, "versus": {"production": None, "candidate": None}, "slices": {}}
    register_candidate(registry, ctx, "v1", GateReport(()), found, dict(HGB), {}, explanation)
    stored = registry.versions.rows["v1"]["metrics"]["explanation"]
    assert stored["global"]["mean_abs_attribution"] == explanation["global"]["mean_abs_attribution"]
    assert set(stored) == {"method", "additivity", "global", "reference"}
    assert stored["reference"] == explanation["reference"]


def _wrong_paths(model, z, trees):
    """A broken explainer: every attribution off by a constant, so they miss the margin."""
    values, base, margin = ORIGINAL(model, z, trees)
    return values + 0.01, base, margin


ORIGINAL = explain.tree_path_attributions


def test_a_model_whose_attributions_do_not_add_up_is_refused(candidate, monkeypatch):
    final, everything, split = candidate
    monkeypatch.setattr(explain, "tree_path_attributions", _wrong_paths)
    with pytest.raises(AttributionError, match="do not add up"):
        explain_version(final, everything, split, FEATURES.to_dict(), MODEL)
    manifest = {"features": FEATURES.to_dict()}
    with pytest.raises(AttributionError, match="refused"):
        refuse_unexplainable(final, split.test, manifest, MODEL)


def test_the_manifest_carries_the_explanation_and_publishing_checks_it(candidate):
    final, everything, split = candidate
    explanation = explain_version(final, everything, split, FEATURES.to_dict(), MODEL)
    evaluation = {
        "metrics": {},
        "params": HGB,
        "features": FEATURES.to_dict(),
        "label": "at_risk",
        "gate": {},
        "lineage": {},
        "explanation": explanation,
    }
    buffer = io.BytesIO()
    joblib.dump(final, buffer)
    bodies = {"evaluation.json": json.dumps(evaluation).encode(), "model.joblib": buffer.getvalue()}
    manifest = version_manifest(bodies, split.test)
    assert manifest["explanation"] == json.loads(json.dumps(explanation))
    assert refuse_unexplainable(final, split.test, manifest, MODEL) <= 1e-6
    older = {k: v for k, v in evaluation.items() if k != "explanation"}
    bodies["evaluation.json"] = json.dumps(older).encode()
    assert "explanation" not in version_manifest(bodies, split.test)
