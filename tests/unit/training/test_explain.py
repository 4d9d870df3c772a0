"""Attributions of both model families add up to the raw margin, name source features, agree
with SHAP where SHAP is right, and stay right where SHAP is not (native categorical splits)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.ensemble import HistGradientBoostingClassifier

import bantay.training.explain as explain
from bantay.training.explain import (
    AttributionError,
    Explainer,
    check_additivity,
    version_explanation,
)
from bantay.training.pipeline import fit_final
from support.synthetic import FEATURES, make_learner_frame

NAMES = FEATURES.names
LOGREG = {"trial_id": "lr", "name": "lr", "estimator": "logistic_regression", "params": {}}
HGB = {
    "trial_id": "hgb",
    "name": "hgb",
    "estimator": "hist_gradient_boosting",
    "params": {"max_iter": 40, "max_depth": 4},
}


@pytest.fixture(scope="module")
def rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_learner_frame(4_000, seed=11), make_learner_frame(1_500, seed=12)


@pytest.fixture(scope="module")
def fitted(rows) -> dict[str, object]:
    train, _ = rows
    return {
        name: fit_final(trial, train, FEATURES) for name, trial in (("lr", LOGREG), ("hgb", HGB))
    }


def explainer_of(model, train: pd.DataFrame, **kw) -> Explainer:
    baseline = Explainer(model, NAMES).baseline_of(train)
    return Explainer(model, NAMES, baseline=baseline, **kw)


@pytest.mark.parametrize("family", ["lr", "hgb"])
def test_base_plus_attributions_is_the_raw_margin_for_both_families(fitted, rows, family):
    train, probe = rows
    model = fitted[family]
    found = explainer_of(model, train).frame(probe)
    margin = model.decision_function(probe[NAMES])
    assert np.max(np.abs(found.base + found.values.sum(axis=1) - margin)) <= 1e-6
    assert found.values.shape == (len(probe), len(NAMES)) and found.features == NAMES
    assert check_additivity(model, probe, features=NAMES) <= 1e-6
    # The attributions are not trivially zero: they spread the learners' margins.
    assert np.abs(found.values).sum(axis=1).std() > 0


@pytest.mark.parametrize("family", ["lr", "hgb"])
def test_scoring_with_attributions_gives_the_pipelines_own_probability(fitted, rows, family):
    """The trees' routing gives the margin too: the score is predict_proba's, bit for bit."""
    train, probe = rows
    model = fitted[family]
    ours = explainer_of(model, train)
    proba, found = ours.scored(ours.transform(probe))
    assert np.array_equal(proba, model.predict_proba(probe[NAMES])[:, 1])
    assert np.allclose(found.values, ours.frame(probe).values)


def test_pipeline_columns_are_summed_back_to_their_feature_and_match_shap_linear(fitted, rows):
    """Trap: in a Pipeline SHAP's linear explainer explains the transformed columns (one-hot
    parts, missing indicators); summed back per source feature they equal ours."""
    train, probe = rows
    model = fitted["lr"]
    ours = explainer_of(model, train)
    z_train, z_probe = ours.transform(train), ours.transform(probe)
    assert z_probe.shape[1] > len(NAMES)  # one-hot parts and missing indicators exist
    linear = shap.LinearExplainer(model[-1], shap.maskers.Independent(z_train, len(z_train)))
    theirs = np.asarray(linear.shap_values(z_probe))
    summed = np.column_stack([theirs[:, ours.sources == j].sum(axis=1) for j in range(len(NAMES))])
    assert np.allclose(ours.explain(z_probe).values, summed, atol=1e-9)
    region = NAMES.index("region")
    onehot = [i for i, c in enumerate(ours.columns) if "region_" in c]
    assert len(onehot) == 4
    assert np.allclose(summed[:, region], theirs[:, onehot].sum(axis=1))


def test_tree_paths_equal_shap_tree_explainer_approximate_on_the_pipeline(fitted, rows):
    _, probe = rows
    model = fitted["hgb"]
    ours = Explainer(model, NAMES)
    z = ours.transform(probe)
    tree = shap.TreeExplainer(model[-1])
    theirs = tree.shap_values(z, approximate=True)
    summed = np.column_stack([theirs[:, ours.sources == j].sum(axis=1) for j in range(len(NAMES))])
    found = ours.explain(z)
    assert found.method == "tree_path"
    assert np.allclose(found.values, summed, atol=1e-9)
    assert found.base == pytest.approx(float(np.ravel(tree.expected_value)[0]), abs=1e-9)


def test_shapley_method_is_exact_tree_shap_and_adds_up(fitted, rows):
    _, probe = rows
    model = fitted["hgb"]
    found = Explainer(model, NAMES, tree_method="shapley").frame(probe.head(300))
    assert found.method == "tree_shapley" and found.max_error() <= 1e-6
    paths = Explainer(model, NAMES).frame(probe.head(300))
    assert not np.allclose(found.values, paths.values)  # a different (exact Shapley) split


def native_categorical_model(rows):
    train, probe = rows

    def categorical(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[NAMES].copy()
        for c in ("region", "parent_abroad"):
            out[c] = pd.Categorical(
                out[c].astype(str), categories=["0", "1", *sorted(set(out["region"]))]
            )
        return out

    x = categorical(train)
    # A label with a strong regional effect, so the trees split on the native category.
    y = (train["at_risk"].to_numpy() | (train["region"].to_numpy() == "mindanao")).astype(int)
    model = HistGradientBoostingClassifier(max_iter=30, max_depth=4, random_state=0).fit(x, y)
    assert model.is_categorical_ is not None and model.is_categorical_.any()
    return model, categorical(probe)


def test_native_categorical_splits_fool_shap_but_not_the_explainer(rows):
    """Trap: SHAP's tree explainer ignores the categorical bitsets of a HistGradientBoosting
    model fitted on pandas ``category`` columns; its values miss the margin. Ours follow the
    bitsets, and asking for Tree SHAP on such a model falls back to the paths."""
    model, probe = native_categorical_model(rows)
    tree = shap.TreeExplainer(model)
    encoded = model._preprocess_X(probe, reset=False)
    wrong = tree.shap_values(encoded, check_additivity=False)
    margin = model.decision_function(probe)
    assert np.max(np.abs(np.ravel(tree.expected_value)[0] + wrong.sum(axis=1) - margin)) > 1e-3
    for method in ("path", "shapley"):
        found = Explainer(model, NAMES, tree_method=method).frame(probe)
        assert found.method == "tree_path"
        assert found.max_error() <= 1e-6
    assert check_additivity(model, probe) <= 1e-6  # features read from the fitted model


def test_attributions_that_miss_the_margin_are_refused(rows, monkeypatch):
    """The routing is faked to SHAP's bitset-blind values (the trap getting through): the
    additivity check refuses the model and says by how much and what it means."""
    model, probe = native_categorical_model(rows)
    tree = shap.TreeExplainer(model)

    def blind(model, z, trees):
        values = tree.shap_values(model._preprocess_X(z, reset=False), check_additivity=False)
        return values, float(np.ravel(tree.expected_value)[0]), None

    monkeypatch.setattr(explain, "tree_path_attributions", blind)
    with pytest.raises(AttributionError, match=r"do not add up .* off by .* refused"):
        check_additivity(model, probe)


def test_a_linear_model_needs_a_baseline_of_its_own_columns(fitted, rows):
    train, probe = rows
    model = fitted["lr"]
    with pytest.raises(AttributionError, match="training mean"):
        Explainer(model, NAMES).frame(probe)
    stale = {"columns": ["num__x"], "mean": [0.0]}
    with pytest.raises(AttributionError, match="recompute the baseline"):
        Explainer(model, NAMES, baseline=stale)
    with pytest.raises(AttributionError, match=r"lacks feature\(s\) \['region'\]"):
        explainer_of(model, train).frame(probe.drop(columns=["region"]))
    with pytest.raises(AttributionError, match="tree_method 'kernel' is unknown"):
        Explainer(model, NAMES, tree_method="kernel")


@pytest.mark.parametrize("family", ["lr", "hgb"])
def test_version_explanation_ranks_the_signal_above_the_noise(fitted, rows, family):
    train, test = rows
    record = version_explanation(fitted[family], train, test, NAMES, seed=3)
    ranking = list(record["global"]["mean_abs_attribution"])
    assert sorted(ranking) == sorted(NAMES) and record["global"]["rows"] == len(test)
    # The label follows attendance and completion; region and grade carry no signal.
    assert {"attendance_rate", "assignment_completion"} & set(ranking[:3])
    assert ranking.index("attendance_rate") < ranking.index("region")
    assert ranking.index("attendance_rate") < ranking.index("grade_level")
    means = list(record["global"]["mean_abs_attribution"].values())
    assert means == sorted(means, reverse=True)
    assert record["additivity"]["max_error"] <= 1e-6
    assert (record["baseline"] is None) == (family == "hgb")
