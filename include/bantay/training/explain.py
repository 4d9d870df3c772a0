"""Why the model scores a learner as it does: additive attributions per source feature in the
raw-margin (log-odds) space, for the whole batch at once.

``base + attributions.sum(axis=1) == margin`` for every row (checked by :func:`check_additivity`).

* Logistic regression (in the project's Pipeline): exact, ``coef * (z - mean)`` in the
  transformed space, ``mean`` the transformed training rows' (the version's baseline); the same
  values SHAP's linear explainer gives for that background.
* Gradient boosting: ``path`` (default) gives each split on a learner's path through every tree
  the change in the tree's expected value it makes (what SHAP's tree explainer computes with
  ``approximate=True``), a few numpy passes per tree; ``shapley`` is SHAP's exact Tree SHAP, far
  slower. SHAP reads a HistGradientBoostingClassifier without its categorical bitsets, so for a
  model with native categorical splits it gives wrong values: such a model is always explained
  by ``path``, which follows the bitsets exactly as scikit-learn's predictor does.

A Pipeline's transformed columns (one-hot parts, missing-value indicators) are summed back to
the feature they came from, so every attribution names a model input.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

log = logging.getLogger(__name__)
TOLERANCE = 1e-6
TREE_METHODS = ("path", "shapley")


class AttributionError(ValueError):
    """A model cannot be explained as given, or its attributions do not add up."""


@dataclass(frozen=True)
class Attributions:
    """Per-row attributions (``values[i, j]``: feature ``features[j]`` for row ``i``), the base
    value every row starts from, and the model's raw margin they add up to."""

    features: list[str]
    values: np.ndarray
    base: float
    margin: np.ndarray | None
    method: str

    def max_error(self) -> float:
        """Largest gap between base + attributions and the model's margin."""
        if self.margin is None:
            raise AttributionError("explained without the model's margin; nothing to check")
        if not len(self.margin):
            return 0.0
        return float(np.max(np.abs(self.base + self.values.sum(axis=1) - self.margin)))

    def mean_abs(self, rows: np.ndarray | None = None) -> dict[str, float]:
        """The global explanation: mean |attribution| per feature, largest first (over the
        ``rows`` mask when given)."""
        values = self.values if rows is None else self.values[rows]
        means = np.abs(values).mean(axis=0) if len(values) else np.zeros(len(self.features))
        order = np.argsort(-means, kind="stable")
        return {self.features[j]: round(float(means[j]), 6) for j in order}


class Explainer:
    """Attributions of one fitted model (a bantay Pipeline or a bare classifier) over the
    features it reads. ``baseline``: the transformed training mean a linear model is explained
    against (:meth:`baseline_of`); trees carry their own training cover and ignore it."""

    def __init__(
        self,
        model: Any,
        features: Sequence[str],
        *,
        baseline: Mapping[str, Any] | None = None,
        tree_method: str = "path",
    ) -> None:
        if tree_method not in TREE_METHODS:
            raise AttributionError(
                f"tree_method {tree_method!r} is unknown; use one of {', '.join(TREE_METHODS)}"
            )
        self.model, self.features = model, list(features)
        self.prep, self.final = _split(model)
        self.columns = self._columns()
        self.sources = _sources(self.columns, self.features)
        self.tree_method = tree_method
        self.mean = None if baseline is None else self._baseline(baseline)
        self._trees: _Trees | None = None

    # -- inputs -----------------------------------------------------------------------------

    def _columns(self) -> list[str]:
        if self.prep is None:
            return list(self.features)
        return [str(c) for c in self.prep.get_feature_names_out()]

    def transform(self, frame: pd.DataFrame) -> Any:
        """What the final estimator reads: the Pipeline's transformed matrix, or the frame."""
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise AttributionError(
                f"the frame to explain lacks feature(s) {missing}; give every feature the "
                "model was fitted on"
            )
        x = frame[self.features]
        return x if self.prep is None else np.asarray(self.prep.transform(x), dtype=float)

    def proba(self, z: Any) -> np.ndarray:
        """Probability of the positive class from :meth:`transform`'s output (the Pipeline's
        ``predict_proba``, without transforming twice)."""
        classes = list(self.final.classes_)
        return self.final.predict_proba(z)[:, classes.index(1)]

    def margin(self, z: Any) -> np.ndarray:
        return np.asarray(self.final.decision_function(z), dtype=float).ravel()

    # -- baseline ---------------------------------------------------------------------------

    def baseline_of(self, frame: pd.DataFrame) -> dict[str, Any] | None:
        """The transformed mean of ``frame`` (the training rows), as a version stores it;
        None for trees."""
        if not isinstance(self.final, LogisticRegression):
            return None
        mean = np.asarray(self.transform(frame), dtype=float).mean(axis=0)
        return {"columns": self.columns, "mean": [float(v) for v in mean], "rows": len(frame)}

    def _baseline(self, baseline: Mapping[str, Any]) -> np.ndarray:
        columns = list(baseline.get("columns") or [])
        if columns != self.columns:
            raise AttributionError(
                f"the stored explanation baseline has columns {columns[:4]}... but the model "
                f"produces {self.columns[:4]}...; recompute the baseline from the training rows"
            )
        return np.asarray(baseline["mean"], dtype=float)

    # -- attributions -----------------------------------------------------------------------

    def explain(self, z: Any, *, with_margin: bool = True) -> Attributions:
        """Attributions of every row of ``z`` (from :meth:`transform`); ``with_margin`` also
        computes the model's raw margin they add up to (``decision_function``)."""
        values, base, method, _ = self._attributions(z)
        margin = self.margin(z) if with_margin else None
        return Attributions(self.features, self._to_sources(values), base, margin, method)

    def scored(self, z: Any) -> tuple[np.ndarray, Attributions]:
        """The positive-class probability of every row and its attributions, in one pass over
        the trees where the routing gives both (the probability is the Pipeline's
        ``predict_proba``, to the last bit)."""
        values, base, method, routed = self._attributions(z)
        if routed is None:
            proba = self.proba(z)
        else:
            proba = self.final._loss.predict_proba(routed)[:, list(self.final.classes_).index(1)]
        return proba, Attributions(self.features, self._to_sources(values), base, None, method)

    def _attributions(self, z: Any) -> tuple[np.ndarray, float, str, np.ndarray | None]:
        if isinstance(self.final, LogisticRegression):
            return (*self._linear(z), None)
        if isinstance(self.final, HistGradientBoostingClassifier):
            return self._tree(z)
        raise AttributionError(
            f"cannot explain a {type(self.final).__name__}; bantay explains "
            "logistic_regression and hist_gradient_boosting models"
        )

    def frame(self, frame: pd.DataFrame) -> Attributions:
        return self.explain(self.transform(frame))

    def _to_sources(self, values: np.ndarray) -> np.ndarray:
        """Sum transformed columns (one-hot parts, indicators) back into their feature: one
        product with the 0/1 matrix of which column comes from which feature."""
        if values.shape[1] == len(self.features) and np.array_equal(
            self.sources, np.arange(len(self.features))
        ):
            return values
        grouping = np.zeros((len(self.sources), len(self.features)))
        grouping[np.arange(len(self.sources)), self.sources] = 1.0
        return values @ grouping

    def _linear(self, z: Any) -> tuple[np.ndarray, float, str]:
        if self.mean is None:
            raise AttributionError(
                "a logistic regression is explained against its training mean and none was "
                "given; pass baseline=Explainer.baseline_of(training rows)"
            )
        z = np.asarray(z, dtype=float)
        coef = np.asarray(self.final.coef_, dtype=float).ravel()
        intercept = float(np.ravel(self.final.intercept_)[0])
        return coef * (z - self.mean), intercept + float(coef @ self.mean), "linear"

    def _tree(self, z: Any) -> tuple[np.ndarray, float, str, np.ndarray | None]:
        native = self.final.is_categorical_ is not None and bool(np.any(self.final.is_categorical_))
        if self.tree_method == "shapley" and not native:
            return (*_tree_shapley(self.final, z), "tree_shapley", None)
        if self.tree_method == "shapley":
            log.warning(
                "the model has native categorical splits, which SHAP's tree explainer reads "
                "wrongly; explaining by tree paths instead"
            )
        if self._trees is None:
            self._trees = tree_expectations(self.final)
        values, base, margin = tree_path_attributions(self.final, z, self._trees)
        return values, base, "tree_path", margin


def _split(model: Any) -> tuple[Any, Any]:
    if isinstance(model, Pipeline):
        return (model[:-1] if len(model.steps) > 1 else None), model[-1]
    return None, model


def _sources(columns: Sequence[str], features: Sequence[str]) -> np.ndarray:
    """For each transformed column, the index of the feature it comes from: the longest feature
    name that is the column's name (after the transformer's ``name__`` prefix), its prefix
    (``region_ncr``) or its suffix (``missingindicator_quiz_score_avg``)."""
    out = np.empty(len(columns), dtype=np.intp)
    for i, column in enumerate(columns):
        rest = column.split("__", 1)[-1]
        found = [
            j
            for j, f in enumerate(features)
            if rest == f or rest.startswith(f + "_") or rest.endswith("_" + f)
        ]
        if not found:
            raise AttributionError(
                f"transformed column {column!r} comes from none of the features {list(features)}; "
                "name transformer outputs after their input column"
            )
        out[i] = max(found, key=lambda j: len(features[j]))
    return out


@dataclass(frozen=True)
class _Trees:
    """Every tree of a binary gradient boosting model, ready to explain a batch: ``router``s
    whose leaves hold their own global node id (so scikit-learn's compiled predictor says
    which leaf each row reaches), and per node the contribution of every feature along the path
    from the root to it (``paths``, one row per node of every tree)."""

    routers: list[Any]
    paths: np.ndarray
    values: np.ndarray
    base: float
    baseline: float


def tree_expectations(model: HistGradientBoostingClassifier) -> _Trees:
    """The model's trees with the expected value of every node under the training rows that
    reached it (a leaf's value; else its children's, weighted by their row counts), and the
    change each split makes to it charged to the split's feature."""
    if model.n_trees_per_iteration_ != 1:
        raise AttributionError("only binary gradient boosting models are explained")
    width = int(model.n_features_in_)
    routers, paths, values = [], [], []
    baseline = float(np.ravel(model._baseline_prediction)[0])
    base, start = baseline, 0
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        expected = _expected(nodes)
        paths.append(_paths(nodes, expected, width))
        values.append(nodes["value"].astype(float))
        base += expected[0]
        leaf_ids = nodes.copy()
        leaf_ids["value"] = np.arange(start, start + len(nodes), dtype=float)
        routers.append(
            TreePredictor(
                leaf_ids, predictor.binned_left_cat_bitsets, predictor.raw_left_cat_bitsets
            )
        )
        start += len(nodes)
    if not routers:
        return _Trees([], np.zeros((0, width)), np.zeros(0), base, baseline)
    return _Trees(routers, np.vstack(paths), np.concatenate(values), base, baseline)


def _expected(nodes: np.ndarray) -> np.ndarray:
    """Expected value of every node; children come after their parent, so fill bottom-up."""
    expected = nodes["value"].astype(float).copy()
    count = nodes["count"].astype(float)
    for i in np.flatnonzero(~nodes["is_leaf"].astype(bool))[::-1]:
        left, right = nodes["left"][i], nodes["right"][i]
        total = count[left] + count[right]
        expected[i] = (
            (count[left] * expected[left] + count[right] * expected[right]) / total
            if total
            else (expected[left] + expected[right]) / 2
        )
    return expected


def _paths(nodes: np.ndarray, expected: np.ndarray, width: int) -> np.ndarray:
    """For every node, the per-feature sum of the changes in expected value along the path from
    the root (the root's is zero); filled top-down."""
    paths = np.zeros((len(nodes), width))
    for i in np.flatnonzero(~nodes["is_leaf"].astype(bool)):
        feature = nodes["feature_idx"][i]
        for child in (nodes["left"][i], nodes["right"][i]):
            paths[child] = paths[i]
            paths[child, feature] += expected[child] - expected[i]
    return paths


def tree_path_attributions(
    model: HistGradientBoostingClassifier, z: Any, trees: _Trees
) -> tuple[np.ndarray, float, np.ndarray]:
    """Per-split contributions along every row's path through every tree, and the raw margin.

    Rows are routed by scikit-learn's own compiled predictor (missing values, native
    categorical bitsets and unknown categories exactly as when it scores), then each row sums
    the path contributions of the leaves it reached: one sparse product for the whole batch.
    The margin adds the leaves' values tree by tree from the baseline, the very additions
    scikit-learn's ``_raw_predict`` makes, so it is the model's margin to the last bit."""
    x = model._preprocess_X(z, reset=False)
    known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    threads = _openmp_effective_n_threads()
    n, width = x.shape[0], len(trees.routers)
    leaves = np.empty((width, n), dtype=np.int64)  # one contiguous row per tree
    margin = np.zeros(n)
    margin += trees.baseline
    for t, router in enumerate(trees.routers):
        leaves[t] = router.predict(x, known, f_idx_map, threads)
        margin += trees.values[leaves[t]]
    reached = sparse.csr_matrix(
        (np.ones(leaves.size), leaves.T.ravel(), np.arange(0, leaves.size + 1, width)),
        shape=(n, len(trees.paths)),
    )
    return np.asarray(reached @ trees.paths), trees.base, margin


def _tree_shapley(model: HistGradientBoostingClassifier, z: Any) -> tuple[np.ndarray, float]:
    """SHAP's exact Tree SHAP (path-dependent) on a model without native categorical splits."""
    import shap  # noqa: PLC0415  (seconds to import: only when asked for)

    explainer = shap.TreeExplainer(model)
    values = np.asarray(explainer.shap_values(np.asarray(z, dtype=float), check_additivity=False))
    return values.reshape(values.shape[0], -1), float(np.ravel(explainer.expected_value)[0])


def check_additivity(
    model: Any,
    probe_frame: pd.DataFrame,
    *,
    features: Sequence[str] | None = None,
    baseline: Mapping[str, Any] | None = None,
    tree_method: str = "path",
) -> float:
    """The largest |base + sum of attributions - raw margin| over ``probe_frame``; raises
    :class:`AttributionError` above 1e-6. A linear model without ``baseline`` is checked against
    the probe's own mean."""
    names = list(features) if features is not None else _fitted_features(model)
    explainer = Explainer(model, names, baseline=baseline, tree_method=tree_method)
    if explainer.mean is None and isinstance(explainer.final, LogisticRegression):
        explainer.mean = explainer._baseline(explainer.baseline_of(probe_frame))
    error = explainer.frame(probe_frame).max_error()
    if not error <= TOLERANCE:
        raise AttributionError(
            f"attributions of the {type(explainer.final).__name__} do not add up to its raw "
            f"margin: off by {error:.3g} on {len(probe_frame)} probe rows (tolerance "
            f"{TOLERANCE:g}); the version cannot be explained and is refused"
        )
    return error


def _fitted_features(model: Any) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise AttributionError(
            "the model does not record the features it was fitted on; pass features=[...]"
        )
    return [str(n) for n in names]


PROBE_ROWS = 2_000


def version_explanation(
    model: Any,
    training_rows: pd.DataFrame,
    test_rows: pd.DataFrame,
    features: Sequence[str],
    *,
    tree_method: str = "path",
    seed: int = 0,
    reference: pd.DataFrame | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """What a version stores about its explanations: the method, the baseline a linear model is
    explained against (the training rows' transformed mean), the additivity error on a seeded
    probe of the test rows (refused above 1e-6 by :func:`check_additivity`), the global
    explanation, mean |attribution| per feature over every test row, and, given the drift
    ``reference`` and the decision ``threshold``, the same over the reference rows and over
    those flagged (what the daily attribution drift check compares with)."""
    on = "test rows"
    if test_rows.empty:
        test_rows, on = training_rows, "training rows"  # nothing held out: say so
    baseline = Explainer(model, features, tree_method=tree_method).baseline_of(training_rows)
    probe = test_rows.sample(n=min(len(test_rows), PROBE_ROWS), random_state=seed)
    error = check_additivity(
        model, probe, features=features, baseline=baseline, tree_method=tree_method
    )
    explainer = Explainer(model, features, baseline=baseline, tree_method=tree_method)
    attributions = explainer.explain(explainer.transform(test_rows), with_margin=False)
    found = {
        "method": attributions.method,
        "baseline": baseline,
        "additivity": {"max_error": error, "probe_rows": len(probe), "tolerance": TOLERANCE},
        "global": {
            "on": on,
            "rows": len(test_rows),
            "mean_abs_attribution": attributions.mean_abs(),
        },
    }
    if reference is not None and len(reference) and threshold is not None:
        found["reference"] = reference_explanation(explainer, reference, threshold)
    return found


def reference_explanation(
    explainer: Explainer, reference: pd.DataFrame, threshold: float
) -> dict[str, Any]:
    """Mean |attribution| per feature over the drift reference's rows and over those the
    version flags (score at or above ``threshold``)."""
    z = explainer.transform(reference)
    score, attributions = explainer.scored(z)
    flagged = score >= threshold
    return {
        "on": "drift reference",
        "rows": len(reference),
        "threshold": float(threshold),
        "mean_abs_attribution": attributions.mean_abs(),
        "flagged_rows": int(flagged.sum()),
        "flagged_mean_abs_attribution": attributions.mean_abs(flagged) if flagged.any() else {},
    }
