"""Unit tests of the validation gate on candidates trained on seeded synthetic frames."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from bantay.training.checks import training_data_checks
from bantay.training.evaluation import evaluate, evaluate_slices
from bantay.training.gate import Check, GateConfig, GateReport, run_gate
from bantay.training.pipeline import fit_final, predict_scores
from bantay.training.split import temporal_split
from support.synthetic import FEATURES, make_learner_frame

LOGREG = {"trial_id": "logreg", "name": "logreg", "estimator": "logistic_regression", "params": {}}
# Bounds used by these tests. The recall-gap bound leaves room for sampling noise: slice recalls
# on ~1000 test rows move by about 0.1 between seeds even for a model with no real bias.
CFG = GateConfig(
    min_roc_auc=0.7,
    min_pr_auc=0.3,
    max_regression=0.02,
    max_recall_gap=0.25,
    min_rows=500,
    label_rate_bounds=(0.05, 0.4),
    min_prediction_std=0.01,
)


class Candidate:
    """Everything the gate needs about one candidate, scored on the split's test part."""

    def __init__(self, split, shuffle_seed: int | None = None) -> None:
        fitted_on = pd.concat([split.train, split.valid], ignore_index=True)
        if shuffle_seed is not None:
            rng = np.random.default_rng(shuffle_seed)
            fitted_on["at_risk"] = rng.permutation(fitted_on["at_risk"].to_numpy())
        model = fit_final(LOGREG, fitted_on, FEATURES)
        self.scores = predict_scores(model, split.test, FEATURES)
        self.metrics = evaluate(split.test["at_risk"], self.scores)
        self.slices = evaluate_slices(split.test, self.scores)
        self.data_checks = training_data_checks(
            fitted_on, FEATURES, min_rows=CFG.min_rows, label_rate_bounds=CFG.label_rate_bounds
        )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_learner_frame(5000, seed=0)


@pytest.fixture(scope="module")
def split(frame):
    return temporal_split(frame, fractions=(0.6, 0.2, 0.2))


@pytest.fixture(scope="module")
def good(split) -> Candidate:
    return Candidate(split)


@pytest.fixture(scope="module")
def shuffled(split) -> Candidate:
    return Candidate(split, shuffle_seed=1)


def gate(c: Candidate, production=None, **kw) -> GateReport:
    args = {"slice_metrics": c.slices, "data_checks": c.data_checks, "predictions": c.scores}
    args.update(kw)
    args.setdefault("cfg", CFG)
    return run_gate(c.metrics, production, **args)


def test_gate_accepts_a_good_first_candidate(good):
    report = gate(good)
    assert report.passed, report.as_table()
    assert report.reasons == []
    regression = report.check("regression.pr_auc")
    assert regression.status == "skipped" and "no production model" in regression.detail
    names = [c.name for c in report.checks]
    for expected in (
        "quality.roc_auc",
        "quality.pr_auc",
        "fairness.recall_gap",
        "data.rows",
        "data.label_rate",
        "model.prediction_std",
    ):
        assert expected in names


def test_gate_rejects_a_candidate_trained_on_shuffled_labels(shuffled):
    report = gate(shuffled)
    assert not report.passed
    failed = {c.name for c in report.failed_checks}
    assert {"quality.roc_auc", "quality.pr_auc"} <= failed
    assert any(r.startswith("quality.pr_auc: candidate pr_auc") for r in report.reasons)
    assert any("is below the minimum 0.7000" in r for r in report.reasons)


def test_gate_rejects_a_regressing_candidate(good):
    production = {**good.metrics, "pr_auc": good.metrics["pr_auc"] + 0.05}
    report = gate(good, production)
    assert not report.passed
    assert [c.name for c in report.failed_checks] == ["regression.pr_auc"]
    (reason,) = report.reasons
    assert "worse than production" in reason and "allowed drop is 0.0200" in reason
    assert report.check("regression.pr_auc").value == pytest.approx(0.05)


def test_gate_allows_a_drop_within_max_regression(good):
    production = {**good.metrics, "pr_auc": good.metrics["pr_auc"] + 0.015}
    assert gate(good, production).passed


def test_force_with_a_reason_overrides_only_the_regression_check(good, shuffled):
    production = {**good.metrics, "pr_auc": good.metrics["pr_auc"] + 0.05}
    why = "on-call (maria) accepts: production model was trained on a broken feed"
    forced = gate(good, production, force_reason=why)
    assert forced.passed
    check = forced.check("regression.pr_auc")
    assert check.status == "overridden" and why in check.detail
    assert forced.to_dict()["forced"] is True and forced.to_dict()["force_reason"] == why

    # Forcing never rescues a low-quality candidate: only the regression check is overridden.
    bad = gate(shuffled, production, force_reason=why)
    assert not bad.passed
    assert bad.check("regression.pr_auc").status == "overridden"
    assert {c.name for c in bad.failed_checks} >= {"quality.roc_auc", "quality.pr_auc"}
    assert all(c.status != "overridden" for c in bad.checks if c.name != "regression.pr_auc")


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_force_needs_a_real_reason(good, reason):
    with pytest.raises(ValueError, match="needs a written reason"):
        gate(good, None, force_reason=reason)


def test_gate_rejects_constant_predictions(good):
    constant = np.full(len(good.scores), 0.2)
    metrics = evaluate(np.zeros(len(constant)) + (np.arange(len(constant)) % 7 == 0), constant)
    report = run_gate(metrics, None, good.slices, good.data_checks, constant, CFG)
    assert not report.passed
    check = report.check("model.prediction_std")
    assert not check.passed and "constant" in check.detail


def test_gate_rejects_nearly_constant_and_invalid_scores(good):
    nearly = 0.2 + np.linspace(0, 0.001, len(good.scores))
    report = gate(good, predictions=nearly)
    assert "model.prediction_std" in {c.name for c in report.failed_checks}
    broken = good.scores.copy()
    broken[:3] = np.nan
    assert not gate(good, predictions=broken).check("model.scores_valid").passed


def test_gate_rejects_a_large_recall_gap_and_names_the_slices(good):
    slices = {
        "region": {
            "ncr": {"recall": 0.9, "positives": 60, "rows": 300, "skipped": False},
            "mindanao": {"recall": 0.4, "positives": 60, "rows": 300, "skipped": False},
        }
    }
    report = gate(good, slice_metrics=slices)
    assert [c.name for c in report.failed_checks] == ["fairness.recall_gap"]
    assert "region=mindanao" in report.reasons[0] and "region=ncr" in report.reasons[0]


def test_recall_gap_z_tolerates_gaps_explained_by_sampling_noise(good):
    slices = {
        "region": {
            "ncr": {"recall": 0.8, "positives": 20, "rows": 150, "skipped": False},
            "visayas": {"recall": 0.5, "positives": 20, "rows": 150, "skipped": False},
        }
    }
    strict = gate(good, slice_metrics=slices)
    assert not strict.check("fairness.recall_gap").passed
    lenient = gate(good, slice_metrics=slices, cfg=CFG.model_copy(update={"recall_gap_z": 1.645}))
    assert lenient.check("fairness.recall_gap").passed


def test_gate_skips_fairness_when_no_slice_is_big_enough(good):
    report = gate(good, slice_metrics={"region": {"ncr": {"skipped": True, "rows": 10}}})
    assert report.check("fairness.recall_gap").status == "skipped"


def test_failed_data_checks_fail_the_gate(good, split):
    tiny = training_data_checks(
        split.train.head(50), FEATURES, min_rows=500, label_rate_bounds=(0.05, 0.4)
    )
    report = gate(good, data_checks=[c.to_dict() for c in tiny])
    assert [c.name for c in report.failed_checks] == ["data.rows"]
    assert "fewer than the minimum 500" in report.reasons[0]


def test_report_serialises_and_renders_without_learner_ids(good, split):
    production = {**good.metrics, "pr_auc": good.metrics["pr_auc"] + 0.05}
    report = gate(good, production)
    as_json = json.dumps(report.to_dict())
    table = report.as_table()
    assert json.loads(as_json)["decision"] == "reject"
    assert table.splitlines()[0] == "**Validation gate: FAILED**"
    assert "| check | status | value | threshold | detail |" in table
    for c in report.checks:
        assert f"| {c.name} | {c.status} |" in table
    ids = {str(i) for i in split.test["learner_id"]}
    assert not any(i in as_json or i in table for i in ids)


def test_gate_config_names_a_bad_key():
    with pytest.raises(ValidationError, match="min_roc_acu"):
        GateConfig(min_roc_acu=0.8)
    with pytest.raises(ValidationError, match="label_rate_bounds must be"):
        GateConfig(label_rate_bounds=(0.5, 0.1))


def test_check_status_must_agree_with_passed():
    assert Check("x", 1, 2, False, "bad").status == "failed"
    assert Check("x", 1, 2, True, "ok", status="skipped").passed
    with pytest.raises(ValueError, match="passed=False but status='overridden'"):
        Check("x", 1, 2, False, "bad", status="overridden")


def test_the_models_gate_block_is_the_gate_config_itself():
    # One source of configuration: bantay.yaml's gate block parses straight into GateConfig.
    from bantay.settings import ModelSettings

    model = ModelSettings(name="mm", gate={"min_roc_auc": 0.8, "recall_gap_z": 1.645})
    assert isinstance(model.gate, GateConfig)
    assert (model.gate.min_roc_auc, model.gate.recall_gap_z) == (0.8, 1.645)
    with pytest.raises(ValueError, match="label_rate_bounds"):
        ModelSettings(name="mm", gate={"label_rate_bounds": [0.5, 0.1]})
