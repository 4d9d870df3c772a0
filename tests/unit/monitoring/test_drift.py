"""Drift detection, data-quality verdicts and sampling on seeded synthetic data with known truth.

Evidently runs for real here (it is a library, not a service); each run stays <= 3,000 rows.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from bantay.monitoring.drift import run_drift
from bantay.monitoring.evidently_report import evidently_flags
from bantay.monitoring.frames import sample
from bantay.monitoring.quality import check_data_quality
from bantay.monitoring.results import DataQualityFinding, FeatureDrift
from bantay.monitoring.stattests import check_methods, column_drift, higher_is_drift
from bantay.settings.drift import DriftConfig
from bantay.vocabulary import Verdict
from support.monitoring_frames import FEATURES, learner_config, learner_frame

N = 3_000


def _issues(findings: list[DataQualityFinding]) -> set[tuple[str, str]]:
    return {(f.column, f.issue) for f in findings}


def test_covariate_shift_is_detected_on_exactly_the_shifted_columns() -> None:
    ref = learner_frame(N, seed=1)
    cur = learner_frame(N, seed=2, shift={"study_minutes": -0.6, "messages_with_parent": 0.6})

    result = run_drift(ref, cur, learner_config(drift_share=0.15))

    drifted = {f.column for f in result.features if f.drifted}
    assert drifted == {"study_minutes", "messages_with_parent"}
    assert result.n_drifted == 2 and result.n_features == 12
    assert result.drifted_share == pytest.approx(2 / 12)
    assert result.dataset_drift is True
    assert result.data_quality == []  # a real shift is not a broken feed
    assert result.verdict is Verdict.DRIFT
    ranked = [f.column for f in result.ranked_features()]
    assert set(ranked[:2]) == drifted


def test_no_drift_stays_ok_across_seeds_and_reports_false_alarm_rate() -> None:
    alarms, tests = 0, 0
    for seed in range(5):
        ref = learner_frame(N, seed=seed)
        cur = learner_frame(N, seed=seed + 100)
        result = run_drift(ref, cur, learner_config())
        assert result.verdict is Verdict.OK, (seed, result.summary())
        assert result.prediction is not None and not result.prediction.drifted
        alarms += result.n_drifted
        tests += result.n_features
    rate = alarms / tests
    print(f"false-alarm rate over 5 seeds x 12 features: {rate:.1%} ({alarms}/{tests})")
    assert rate == 0.0


def test_small_shift_on_a_large_sample_is_not_drift() -> None:
    """The reason for distance methods: a 3 % rescale is real but not worth a retrain."""
    ref = learner_frame(N, seed=7)
    cur = learner_frame(N, seed=8)
    cur["study_minutes"] = cur["study_minutes"] * 1.03

    result = run_drift(ref, cur, learner_config())

    study = next(f for f in result.features if f.column == "study_minutes")
    assert study.method == "wasserstein" and not study.drifted
    assert result.verdict is Verdict.OK


def _broken(kind: str) -> tuple[pd.DataFrame, tuple[str, str]]:
    cur = learner_frame(N, seed=22)
    rng = np.random.default_rng(5)
    if kind == "nulls":
        cur.loc[rng.random(N) < 0.5, "attendance_rate"] = np.nan
        return cur, ("attendance_rate", "nulls")
    if kind == "frozen":
        cur["support_on_time_ratio"] = 0.5
        return cur, ("support_on_time_ratio", "frozen")
    if kind == "unit_change":
        cur["study_minutes"] = cur["study_minutes"] * 60  # minutes arrive as seconds
        return cur, ("study_minutes", "unit_change")
    if kind == "percent":
        cur["attendance_rate"] = cur["attendance_rate"] * 100  # ratio arrives as percent
        return cur, ("attendance_rate", "out_of_range")
    if kind == "new_category":
        cur.loc[rng.random(N) < 0.05, "region"] = "MINDANAO "
        return cur, ("region", "new_category")
    if kind == "missing_column":
        return cur.drop(columns=["calls_with_parent"]), ("calls_with_parent", "nulls")
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["nulls", "frozen", "unit_change", "percent", "new_category", "missing_column"]
)
def test_broken_feed_is_a_data_quality_finding(kind: str) -> None:
    ref = learner_frame(N, seed=21)
    cur, expected = _broken(kind)

    findings = check_data_quality(ref, cur, learner_config())

    assert expected in _issues(findings)
    assert {f.column for f in findings} == {expected[0]}, findings


def test_clean_data_has_no_data_quality_findings() -> None:
    cfg = learner_config()
    for seed in range(5):
        assert check_data_quality(learner_frame(N, seed), learner_frame(N, seed + 50), cfg) == []


@pytest.mark.parametrize("kind", ["nulls", "unit_change", "missing_column"])
def test_broken_feed_gives_data_quality_verdict_even_though_evidently_sees_drift(
    kind: str,
) -> None:
    ref = learner_frame(N, seed=21)
    cur, (column, issue) = _broken(kind)

    result = run_drift(ref, cur, learner_config(drift_share=0.05))

    assert result.verdict is Verdict.DATA_QUALITY
    assert (column, issue) in _issues(result.data_quality)
    assert result.broken_columns == [column]
    if kind == "unit_change":  # Evidently alone would have called this drift
        assert next(f for f in result.features if f.column == column).drifted
    if kind == "missing_column":
        assert next(f for f in result.features if f.column == column).score is None


def test_all_null_column_does_not_crash_evidently() -> None:
    ref = learner_frame(N, seed=31)
    cur = learner_frame(N, seed=32)
    cur["quiz_score_avg"] = np.nan

    result = run_drift(ref, cur, learner_config())

    assert result.verdict is Verdict.DATA_QUALITY
    assert ("quiz_score_avg", "nulls") in _issues(result.data_quality)
    assert next(f for f in result.features if f.column == "quiz_score_avg").score is None


def test_too_few_rows_is_data_quality_without_a_report() -> None:
    ref = learner_frame(N, seed=41)
    cur = learner_frame(120, seed=42)

    result = run_drift(ref, cur, learner_config())

    assert result.verdict is Verdict.DATA_QUALITY
    assert ("*", "too_few_rows") in _issues(result.data_quality)
    assert not result.has_report
    with pytest.raises(RuntimeError, match="too small"):
        result.html()


def test_sampling_caps_rows_and_reports_sizes() -> None:
    ref = learner_frame(2_500, seed=51)
    cur = learner_frame(2_000, seed=52)

    result = run_drift(ref, cur, learner_config(sample_size=800, min_rows=100))

    assert (result.reference_rows, result.current_rows) == (800, 800)
    assert (result.reference_rows_total, result.current_rows_total) == (2_500, 2_000)
    assert result.verdict is Verdict.OK


def test_sample_is_deterministic_bounded_and_a_no_op_when_small() -> None:
    df = learner_frame(1_000, seed=61)

    a, b = sample(df, 100, seed=3), sample(df, 100, seed=3)

    assert len(a) == 100
    pd.testing.assert_frame_equal(a, b)
    assert not a.index.equals(sample(df, 100, seed=4).index)
    assert sample(df, 5_000, seed=3) is df
    with pytest.raises(ValueError, match="positive"):
        sample(df, 0, seed=3)


def test_labels_join_gives_classification_quality_and_report_outputs() -> None:
    ref = learner_frame(2_000, seed=71)
    cur = learner_frame(2_000, seed=72)
    labels = cur[["learner_id", "event_timestamp", "at_risk"]].sample(frac=1.0, random_state=1)
    cur = cur.drop(columns=["at_risk"])

    result = run_drift(ref, cur, learner_config(), labels_current=labels)

    cls = result.classification
    assert cls is not None and cls.reference is not None
    assert cls.current_labelled_rows == 2_000
    assert 0.6 < cls.current["roc_auc"] < 0.85  # the synthetic score is informative
    assert abs(cls.current["roc_auc"] - cls.reference["roc_auc"]) < 0.08

    snapshot = json.loads(result.json())
    names = " ".join(m["metric_name"] for m in snapshot["metrics"])
    assert "ValueDrift(column=study_minutes" in names
    flags = evidently_flags(result.snapshot().dict())
    for f in [*result.features, result.prediction]:  # the report says what bantay decided
        assert flags[f.column]["drifted"] is f.drifted, f.column
        assert flags[f.column]["score"] == pytest.approx(f.score), f.column
    html = result.html()
    assert html.lstrip().lower().startswith("<!doctype html") or "<html" in html[:500].lower()
    assert len(html) > 100_000
    summary = result.summary()
    json.dumps(summary)  # serialisable for XCom / the registry row
    assert set(summary["feature_scores"]) == set(FEATURES)


def test_without_current_labels_there_is_no_classification_quality() -> None:
    ref = learner_frame(1_000, seed=81)
    cur = learner_frame(1_000, seed=82).drop(columns=["at_risk"])

    assert run_drift(ref, cur, learner_config()).classification is None


def test_learner_ids_never_reach_the_report() -> None:
    ref = learner_frame(1_000, seed=91)
    cur = learner_frame(1_000, seed=92)

    result = run_drift(ref, cur, learner_config())

    text = result.json()
    assert "learner_id" not in text
    assert not any(str(i) in text for i in cur["learner_id"].head(50))


def test_severity_orders_p_value_and_distance_methods_alike() -> None:
    assert higher_is_drift("ks", "numerical") is False  # asked of Evidently, not a table
    assert higher_is_drift("wasserstein", "numerical") is True
    ks = FeatureDrift("a", "numerical", "ks", 0.01, 0.05, True, higher_is_drift=False)
    wd = FeatureDrift("b", "numerical", "wasserstein", 0.2, 0.1, True)
    calm = FeatureDrift("c", "numerical", "wasserstein", 0.05, 0.1, False)
    missing = FeatureDrift("d", "numerical", "wasserstein", None, 0.1, False)

    assert ks.severity == pytest.approx(5.0)
    assert wd.severity == pytest.approx(2.0)
    assert sorted([calm, missing, wd, ks], key=lambda f: -f.severity) == [ks, wd, calm, missing]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"per_column_method": {"nope": "psi"}}, "per_column_method names ['nope']"),
        ({"categorical_columns": ["region", "grade_level"]}, "both numerical and categorical"),
        ({"drift_share": 0}, "drift_share"),
    ],
)
def test_bad_config_names_the_key(overrides: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        learner_config(**overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"numerical_method": "kss"}, "drift.numerical_method: unknown drift method 'kss'"),
        ({"per_column_method": {"region": "ks"}}, "does not support categorical"),
    ],
)
def test_a_method_evidently_does_not_know_for_the_column_names_the_key(
    overrides: dict, message: str
) -> None:
    """Configuration loads without Evidently; the drift task and ``bantay config check`` check
    the methods against its registry."""
    config = learner_config(**overrides)
    with pytest.raises(ValueError, match=message):
        check_methods(config)
    assert check_methods(learner_config()) == learner_config()


def test_per_column_override_uses_that_methods_default_threshold() -> None:
    cfg = DriftConfig(
        numerical_columns=["a", "b"],
        numerical_threshold=0.2,
        per_column_method={"b": "ks"},
    )
    assert (cfg.method_for("a"), cfg.threshold_for("a")) == ("wasserstein", 0.2)
    assert (cfg.method_for("b"), cfg.threshold_for("b")) == ("ks", None)
    ref, cur = (
        learner_frame(500, seed=1)["study_minutes"],
        learner_frame(500, seed=2)["study_minutes"],
    )
    assert column_drift(ref, cur, "numerical", "ks", None).threshold == 0.05  # Evidently's default


def test_config_check_names_the_model_and_key_of_a_method_evidently_does_not_know(
    tmp_path, monkeypatch, capsys
) -> None:
    from bantay.cli import main

    config = tmp_path / "bantay.yaml"
    config.write_text("models:\n  - name: learner_risk\n    drift: {numerical_method: kss}\n")
    monkeypatch.setenv("BANTAY_CONFIG", str(config))

    assert main(["config", "check"]) == 2
    error = capsys.readouterr().err
    assert "models[learner_risk].drift.numerical_method: unknown drift method 'kss'" in error
