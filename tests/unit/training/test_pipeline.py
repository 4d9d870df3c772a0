"""Unit tests of bantay.training on seeded synthetic frames (no Feast, no Airflow, no S3)."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from bantay.settings.search_space import SearchSpaceError, expand_search_space
from bantay.training.checks import training_data_checks
from bantay.training.evaluation import category_label
from bantay.training.pipeline import (
    FeatureSet,
    TrainingDataError,
    TrialResult,
    build_pipeline,
    fit_and_score,
    fit_final,
    normalize_categories,
    predict_scores,
    resolve_features,
    select_best,
)
from bantay.training.split import temporal_split
from support.synthetic import FEATURES, make_learner_frame

SPACE = [
    {"name": "logreg", "estimator": "logistic_regression", "params": {"C": [0.1, 1.0]}},
    {
        "name": "hgb",
        "estimator": "hist_gradient_boosting",
        "params": {"max_depth": [3, 6], "learning_rate": [0.05, 0.1]},
    },
]
LOGREG = {"trial_id": "logreg", "name": "logreg", "estimator": "logistic_regression", "params": {}}
HGB = {
    "trial_id": "hgb-max_iter=50",
    "name": "hgb",
    "estimator": "hist_gradient_boosting",
    "params": {"max_iter": 50},
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_learner_frame(3000, seed=7)


@pytest.fixture(scope="module")
def split(frame: pd.DataFrame):
    return temporal_split(frame)


# --- temporal split -----------------------------------------------------------------------------


def test_temporal_split_parts_are_strictly_ordered_in_time(frame, split):
    assert split.train["event_timestamp"].max() < split.valid["event_timestamp"].min()
    assert split.valid["event_timestamp"].max() < split.test["event_timestamp"].min()
    assert len(split.train) + len(split.valid) + len(split.test) == len(frame)
    rows = pd.concat([split.train, split.valid, split.test])
    assert (
        rows.sort_values(list(frame.columns))
        .reset_index(drop=True)
        .equals(frame.sort_values(list(frame.columns)).reset_index(drop=True))
    )


def test_temporal_split_keeps_a_timestamp_in_one_part_and_reports_boundaries(split):
    b = split.boundaries
    assert split.valid["event_timestamp"].min().isoformat() == b["valid_start"]
    assert split.test["event_timestamp"].min().isoformat() == b["test_start"]
    assert split.test["event_timestamp"].max().isoformat() == b["test_end"]
    summary = split.summary()
    assert summary["train"]["rows"] == len(split.train)
    assert 0.6 < summary["train"]["rows"] / 3000 < 0.8
    json.dumps(summary)


def test_temporal_split_no_learner_future_in_its_past(split):
    # Learners recur across parts (several label times each); each one's train rows all predate
    # its validation and test rows.
    last_train = split.train.groupby("learner_id")["event_timestamp"].max()
    later = pd.concat([split.valid, split.test]).groupby("learner_id")["event_timestamp"].min()
    both = last_train.index.intersection(later.index)
    assert len(both) > 100
    assert (last_train[both] < later[both]).all()


def test_temporal_split_rejects_a_single_class_part():
    df = make_learner_frame(600, seed=3)
    late = df["event_timestamp"] >= df["event_timestamp"].quantile(0.85)
    df.loc[late, "at_risk"] = 0
    with pytest.raises(TrainingDataError, match="test part .* only at_risk=\\[0\\]"):
        temporal_split(df)


def test_temporal_split_rejects_an_empty_part():
    df = make_learner_frame(300, seed=3, days=2)
    with pytest.raises(TrainingDataError, match="part of the temporal split is empty"):
        temporal_split(df)


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.7, 0.2, 0.2), (0.8, 0.2, 0.0)])
def test_temporal_split_rejects_bad_fractions(fractions):
    with pytest.raises(TrainingDataError, match="fractions must be three positive numbers"):
        temporal_split(make_learner_frame(300, seed=1), fractions=fractions)


def test_temporal_split_names_missing_timestamps():
    df = make_learner_frame(300, seed=1)
    df.loc[:4, "event_timestamp"] = pd.NaT
    with pytest.raises(TrainingDataError, match="5 rows have no event_timestamp"):
        temporal_split(df)


# --- search space -------------------------------------------------------------------------------


def test_expand_search_space_one_trial_per_combination_with_stable_ids():
    trials = expand_search_space(SPACE)
    assert len(trials) == 2 + 2 * 2
    ids = [t["trial_id"] for t in trials]
    assert len(set(ids)) == len(ids)
    assert "hgb-learning_rate=0.05,max_depth=3" in ids
    assert expand_search_space(SPACE) == trials
    assert json.loads(json.dumps(trials)) == trials


def test_expand_search_space_accepts_a_scalar_and_no_params():
    trials = expand_search_space(
        [{"name": "lr", "estimator": "logistic_regression", "params": {"C": 0.5}}]
        + [{"name": "gb", "estimator": "hist_gradient_boosting"}]
    )
    assert [t["trial_id"] for t in trials] == ["lr-C=0.5", "gb"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            [SPACE[0], {"name": "x", "estimator": "xgboost", "params": {}}],
            r"search_space\[1\]\.estimator is 'xgboost'; allowed values: "
            r"hist_gradient_boosting, logistic_regression",
        ),
        (
            [
                SPACE[0],
                {"name": "hgb", "estimator": "hist_gradient_boosting", "params": {"max_dept": [3]}},
            ],
            r"search_space\[1\]\.params\.max_dept is not a tunable parameter of "
            r"hist_gradient_boosting; allowed: .*max_depth",
        ),
        (
            [{"name": "lr", "estimator": "logistic_regression", "params": {"C": [1.0, -2]}}],
            r"search_space\[0\]\.params\.C has value -2; it must be a number > 0",
        ),
        (
            [{"name": "lr", "estimator": "logistic_regression", "params": {"C": []}}],
            r"search_space\[0\]\.params\.C is an empty list",
        ),
        ([SPACE[0], SPACE[0]], r"search_space\[1\]\.name 'logreg' is used twice"),
        ([{"name": "lr", "estimtor": "logistic_regression"}], r"search_space\[0\]\.estimtor"),
        ([], "search_space is empty"),
    ],
)
def test_expand_search_space_errors_name_the_bad_key(spec, message):
    with pytest.raises(SearchSpaceError, match=message):
        expand_search_space(spec)


# --- pipelines ----------------------------------------------------------------------------------


@pytest.mark.parametrize("trial", [LOGREG, HGB], ids=["logreg", "hgb"])
def test_build_pipeline_is_deterministic_and_handles_nulls_and_unseen_categories(split, trial):
    train = split.train.copy()
    train.loc[train.index[:50], "attendance_rate"] = np.nan
    a = fit_final(trial, train, FEATURES)
    b = fit_final(trial, train, FEATURES)
    test = split.test.copy()
    test.loc[test.index[:5], "region"] = "atlantis"  # a region never seen in training
    test.loc[test.index[5:10], "study_minutes"] = np.nan
    sa, sb = predict_scores(a, test, FEATURES), predict_scores(b, test, FEATURES)
    assert np.array_equal(sa, sb)
    assert np.isfinite(sa).all() and ((sa >= 0) & (sa <= 1)).all()


def test_categorical_codes_match_whether_they_arrive_as_int_or_float(split):
    model = fit_final(LOGREG, split.train, FEATURES)
    as_float = split.test.astype({"parent_abroad": "float64"})
    assert np.allclose(
        predict_scores(model, split.test, FEATURES), predict_scores(model, as_float, FEATURES)
    )


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["ncr", None, "visayas", np.nan, "ncr", pd.NA] * 50),
        pd.Series([3, 1, 12, 3] * 50, dtype="int64"),
        pd.Series([3.0, np.nan, 1.0, 2.5, -0.0] * 50),
        pd.Series([True, False, None] * 50, dtype=object),
        pd.Series([1, 1.0, True, "1", 2, None] * 50, dtype=object),
        pd.Series(["a", "b", None] * 50, dtype="string"),
        pd.Series(pd.Categorical(["x", "y", None] * 50)),
        pd.Series(pd.Categorical([4, 7, None] * 50)),
        pd.Series([Decimal("1.50"), Decimal("1.5")]),
        pd.Series([], dtype=object),
    ],
    ids=["str", "int", "float", "bool", "mixed", "string", "cat", "cat-int", "decimal", "empty"],
)
def test_normalize_categories_labels_every_row_as_category_label_does(values):
    """Labelling each distinct value once gives every row the label it has on its own."""
    frame = pd.DataFrame({"c": values, "d": values[::-1].to_numpy()}, index=values.index + 7)
    got = normalize_categories(frame)
    for column in frame.columns:
        expected = [category_label(v) for v in frame[column].astype(object)]
        assert got[column].dtype == object and got[column].tolist() == expected
    assert got.index.equals(frame.index)


def test_build_pipeline_encodes_categoricals_one_hot_and_balances_classes():
    pipe = build_pipeline(LOGREG, ["attendance_rate"], ["region"])
    model = pipe.named_steps["model"]
    assert model.class_weight == "balanced"
    onehot = pipe.named_steps["prep"].transformers[1][1].named_steps["onehot"]
    assert onehot.handle_unknown == "ignore"
    hgb = build_pipeline(HGB, ["attendance_rate"], ["region"]).named_steps["model"]
    assert hgb.class_weight == "balanced" and hgb.random_state == 0 and hgb.max_iter == 50


def test_build_pipeline_rejects_an_unknown_estimator():
    with pytest.raises(SearchSpaceError, match="estimator 'svm'; allowed values"):
        build_pipeline({**LOGREG, "estimator": "svm"}, ["a"], [])


def test_resolve_features_infers_categoricals_from_dtype(frame):
    fs = resolve_features(["attendance_rate", "region", "grade_level"], frame)
    assert fs == FeatureSet(("attendance_rate", "grade_level"), ("region",))
    with pytest.raises(ValueError, match="both numerical and categorical"):
        FeatureSet(("region",), ("region",))


# --- trials -------------------------------------------------------------------------------------


def test_fit_and_score_learns_the_signal(split):
    result = fit_and_score(LOGREG, split.train, split.valid, FEATURES)
    label_rate = split.valid["at_risk"].mean()
    assert result.roc_auc > 0.75
    assert result.pr_auc > 2 * label_rate
    assert result.valid_rows == len(split.valid)
    assert result.fit_seconds >= 0
    assert TrialResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_fit_and_score_on_shuffled_labels_scores_near_chance(split):
    rng = np.random.default_rng(0)
    train = split.train.assign(at_risk=rng.permutation(split.train["at_risk"].to_numpy()))
    result = fit_and_score(LOGREG, train, split.valid, FEATURES)
    assert result.roc_auc < 0.62


def test_fit_and_score_refuses_the_label_as_a_feature(split):
    leaky = FeatureSet(("attendance_rate", "at_risk"))
    with pytest.raises(TrainingDataError, match="label 'at_risk' is listed as a feature"):
        fit_and_score(LOGREG, split.train, split.valid, leaky)


def _result(trial_id: str, pr: float | None, roc: float | None) -> dict:
    trial = {"trial_id": trial_id, "name": "x", "estimator": "logistic_regression", "params": {}}
    return {"trial": trial, "pr_auc": pr, "roc_auc": roc, "fit_seconds": 0.1}


def test_select_best_takes_the_highest_metric_and_breaks_ties_deterministically():
    results = [_result("c", 0.5, 0.8), _result("b", 0.6, 0.7), _result("a", 0.6, 0.7)]
    assert select_best(results)["trial_id"] == "a"
    assert select_best(list(reversed(results)))["trial_id"] == "a"
    assert select_best(results, metric="roc_auc")["trial_id"] == "c"
    results.append(_result("d", 0.6, 0.75))
    assert select_best(results)["trial_id"] == "d"  # same pr_auc, better roc_auc


def test_select_best_skips_undefined_metrics_and_rejects_bad_input():
    assert select_best([_result("a", None, None), _result("b", 0.1, 0.5)])["trial_id"] == "b"
    with pytest.raises(TrainingDataError, match="No trial has a defined pr_auc"):
        select_best([_result("a", None, None)])
    with pytest.raises(ValueError, match="metric must be one of"):
        select_best([_result("a", 0.1, 0.5)], metric="accuracy")


def test_tuning_end_to_end_over_the_expanded_space(split):
    space = [SPACE[0], {**SPACE[1], "params": {"max_depth": [3], "max_iter": [30]}}]
    results = [
        fit_and_score(t, split.train, split.valid, FEATURES) for t in expand_search_space(space)
    ]
    best = select_best(results)
    assert best in [r.trial for r in results]
    assert max(r.pr_auc for r in results) == next(r.pr_auc for r in results if r.trial == best)


# --- data checks --------------------------------------------------------------------------------


def _checks(df: pd.DataFrame, **kw) -> dict:
    kw = {"min_rows": 500, "label_rate_bounds": (0.05, 0.4), **kw}
    return {c.name: c for c in training_data_checks(df, FEATURES, **kw)}


def test_training_data_checks_pass_on_good_data(split):
    checks = _checks(split.train)
    assert all(c.passed for c in checks.values()), [c.detail for c in checks.values()]
    assert set(checks) >= {
        "data.rows",
        "data.both_classes",
        "data.label_rate",
        "data.no_empty_features",
    }


def test_training_data_checks_catch_each_problem(split):
    assert not _checks(split.train.head(100))["data.rows"].passed
    single = split.train.assign(at_risk=0)
    assert not _checks(single)["data.both_classes"].passed
    assert not _checks(single)["data.label_rate"].passed
    heavy = split.train.assign(at_risk=(np.arange(len(split.train)) % 2))
    rate = _checks(heavy)["data.label_rate"]
    assert not rate.passed and "outside [0.0500, 0.4000]" in rate.detail
    broken = split.train.assign(calls_with_parent=np.nan)
    empty = _checks(broken)["data.no_empty_features"]
    assert not empty.passed and empty.value == ["calls_with_parent"]
    missing = _checks(split.train.drop(columns=["region"]))["data.features_present"]
    assert not missing.passed and "region" in missing.detail


def test_fitted_pipeline_survives_a_joblib_round_trip(split, tmp_path):
    # Serving loads the pickled pipeline in another process; helpers it references must import.
    import joblib

    model = fit_final(LOGREG, split.train, FEATURES)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path)
    assert np.array_equal(
        predict_scores(model, split.test, FEATURES), predict_scores(loaded, split.test, FEATURES)
    )


def test_expand_search_space_accepts_the_settings_models():
    # bantay.yaml's search_space arrives as pydantic TrialSpec objects, not plain dicts.
    from bantay.settings import TrialSpec

    specs = [TrialSpec(name="lr", estimator="logistic_regression", params={"C": [0.1, 1.0]})]
    assert [t["trial_id"] for t in expand_search_space(specs)] == ["lr-C=0.1", "lr-C=1.0"]
