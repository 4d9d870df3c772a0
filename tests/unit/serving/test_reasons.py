"""Reason codes: at most four, one per domain, only pushes up, only actionable features, never a
protected attribute, worded against the scored population's median. Attributions are built by
hand here (the model is not what is under test); one test reads a fitted model's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bantay.serving.reasons import (
    BASE,
    attribution_columns,
    reason_codes,
    reason_columns,
    reason_summary,
    written,
)
from bantay.settings import ExplainConfig
from bantay.settings.explain import DEFAULT_PROTECTED
from bantay.training.explain import Attributions, Explainer
from bantay.training.pipeline import fit_final
from support.synthetic import FEATURES, make_learner_frame

NAMES = FEATURES.names


def learners(n: int = 9) -> pd.DataFrame:
    """``n`` learners; attendance 0.91 is the median, learner 0 attends 62 %."""
    frame = make_learner_frame(n, seed=4)
    frame["attendance_rate"] = np.r_[0.62, np.full(n - 1, 0.91)]
    frame["late_submissions"] = np.r_[6, np.ones(n - 1, dtype=int)]
    return frame.reset_index(drop=True)


def attributions(values: dict[str, list[float]], n: int) -> Attributions:
    """Hand-made attributions: the listed features get the given values, the rest zero."""
    matrix = np.zeros((n, len(NAMES)))
    for feature, column in values.items():
        matrix[:, NAMES.index(feature)] = column
    return Attributions(NAMES, matrix, -1.0, None, "hand-made")


def test_a_reason_names_the_domain_the_value_and_the_population_median():
    frame = learners()
    attr = attributions({"attendance_rate": [0.8] + [0.0] * 8}, len(frame))
    reasons = reason_codes(attr, frame, ExplainConfig())
    assert reasons.loc[0, "reason_1"] == "Attendance: attendance 62% (most learners: 91%)"
    assert reasons.loc[1:, "reason_1"].isna().all()  # nobody else is pushed up


def test_domains_come_strongest_first_and_a_domain_is_named_by_its_strongest_feature():
    frame = learners(3)
    attr = attributions(
        {
            "attendance_rate": [0.2, 0, 0],
            "late_submissions": [0.5, 0, 0],
            "quiz_score_avg": [0.1, 0, 0],
            "days_since_last_contact": [0.3, 0, 0],
        },
        3,
    )
    first = reason_codes(attr, frame, ExplainConfig()).loc[0]
    assert first["reason_1"].startswith("Coursework: late submissions 6 (most learners: 1)")
    assert first["reason_2"].startswith("Family contact: days since last contact")
    assert first["reason_3"].startswith("Attendance: attendance 62%")
    assert pd.isna(first["reason_4"])
    assert reason_summary(reason_codes(attr, frame, ExplainConfig())) == {"Coursework": 1}


def test_never_more_than_max_reasons_even_when_every_domain_pushes_up():
    frame = learners(4)
    everything = {f: [0.3 + 0.01 * i for i in range(4)] for f in ExplainConfig().domains}
    domains = {f: f"Domain {i}" for i, f in enumerate(ExplainConfig().domains)}  # nine domains
    for cfg in (ExplainConfig(domains=domains), ExplainConfig(domains=domains, max_reasons=2)):
        reasons = reason_codes(attributions(everything, 4), frame, cfg)
        assert list(reasons.columns) == reason_columns(cfg.max_reasons)
        assert reasons.notna().all().all()
        assert reasons.notna().sum(axis=1).max() == cfg.max_reasons <= 4


def test_protected_attributes_are_never_a_reason_however_much_they_push():
    frame = learners(5)
    attr = attributions(
        {
            "region": [3.0] * 5,
            "parent_abroad": [2.0] * 5,
            "grade_level": [2.5] * 5,
            "study_minutes": [0.2] * 5,
        },
        5,
    )
    reasons = reason_codes(attr, frame, ExplainConfig())
    text = " ".join(reasons.stack().dropna())
    for word in ("region", "parent abroad", "grade"):
        assert word not in text.lower()
    assert reasons["reason_1"].str.startswith("Engagement: study time").all()
    assert reasons["reason_2"].isna().all()
    assert reason_summary(reasons) == {"Engagement": 5}
    with pytest.raises(ValueError, match=r"\['region'\] are both in domains and protected"):
        ExplainConfig(domains={"region": "Place"})
    assert set(ExplainConfig().protected) == set(DEFAULT_PROTECTED)


def test_only_features_that_push_risk_up_are_reasons():
    frame = learners(3)
    attr = attributions(
        {
            "attendance_rate": [-0.9, 0.4, 0.005],  # row 2: below min_attribution
            "quiz_score_avg": [-0.3, -0.2, 0.0],
            "late_submissions": [-0.1, 0.3, 0.0],
        },
        3,
    )
    reasons = reason_codes(attr, frame, ExplainConfig())
    assert reasons.loc[0].isna().all() and reasons.loc[2].isna().all()
    assert reasons.loc[1, "reason_1"].startswith("Attendance")
    # Coursework pushes up by late work although the quiz pulls down: named by late work.
    assert reasons.loc[1, "reason_2"].startswith("Coursework: late submissions")
    assert pd.isna(reasons.loc[1, "reason_3"])
    loose = reason_codes(attr, frame, ExplainConfig(min_attribution=0.0))
    assert loose.loc[2, "reason_1"].startswith("Attendance")


def test_values_are_written_as_a_counsellor_reads_them():
    assert list(written(np.array([0.624, np.nan, 0.62, 1.0]), "percent")) == [
        "62%",
        "missing",
        "62%",
        "100%",
    ]
    assert list(written(np.array([3.6, 0.0, 3.6]), "whole")) == ["4", "0", "4"]
    assert list(written(np.array([35.2]), "minutes")) == ["35 min"]
    assert list(written(np.array([0.123, 12.0]), "number")) == ["0.12", "12"]


def test_reasons_and_logged_attributions_of_a_fitted_model():
    train, probe = make_learner_frame(3_000, seed=21), make_learner_frame(400, seed=22)
    trial = {"trial_id": "lr", "name": "lr", "estimator": "logistic_regression", "params": {}}
    model = fit_final(trial, train, FEATURES)
    probe.loc[0, "attendance_rate"] = 0.2  # far below everyone: attendance must be a reason
    explainer = Explainer(model, NAMES, baseline=Explainer(model, NAMES).baseline_of(train))
    attr = explainer.frame(probe)
    reasons = reason_codes(attr, probe, ExplainConfig())
    assert reasons.loc[0].dropna().str.startswith("Attendance: attendance 20%").any()
    logged = attribution_columns(attr, probe.index)
    total = logged[BASE] + logged.drop(columns=[BASE]).sum(axis=1)
    assert np.allclose(total, model.decision_function(probe[NAMES]), atol=1e-4)
    # A learner whose every domain pulls risk down gets no reason at all.
    none = (
        np.clip(attr.values[:, [NAMES.index(f) for f in ExplainConfig().domains]], 0, None).sum(
            axis=1
        )
        == 0
    )
    assert reasons[none].isna().all().all()
