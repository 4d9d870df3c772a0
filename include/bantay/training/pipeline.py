"""Features, scikit-learn pipelines, fitting and scoring of trials, and the final refit."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from bantay.settings.search_space import ESTIMATOR_PARAMS, SearchSpaceError, Trial, as_trial
from bantay.training.evaluation import category_label, evaluate

LABEL = "at_risk"
TIME = "event_timestamp"
METRICS = ("pr_auc", "roc_auc")


class TrainingDataError(ValueError):
    """The training frame cannot be split or fitted as given."""


@dataclass(frozen=True)
class FeatureSet:
    """Model inputs split by how they are encoded; ``names`` is what the model reads."""

    numerical: tuple[str, ...]
    categorical: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "numerical", tuple(self.numerical))
        object.__setattr__(self, "categorical", tuple(self.categorical))
        both = sorted(set(self.numerical) & set(self.categorical))
        if both:
            raise ValueError(f"Features {both} are listed as both numerical and categorical.")
        if not self.names:
            raise ValueError("A FeatureSet needs at least one feature.")
        dupes = sorted({f for f in self.names if self.names.count(f) > 1})
        if dupes:
            raise ValueError(f"Features {dupes} are listed twice.")

    @property
    def names(self) -> list[str]:
        return [*self.numerical, *self.categorical]

    def to_dict(self) -> dict[str, list[str]]:
        return {"numerical": list(self.numerical), "categorical": list(self.categorical)}


FeaturesLike = FeatureSet | Mapping[str, Sequence[str]] | Sequence[str]


def resolve_features(features: FeaturesLike, frame: pd.DataFrame | None = None) -> FeatureSet:
    """Accept a FeatureSet, {"numerical": [...], "categorical": [...]}, or a list of names.

    A plain list is split by dtype in ``frame`` (strings, categories and booleans are categorical);
    pass a FeatureSet to treat integer codes such as parent_abroad as categorical.
    """
    if isinstance(features, FeatureSet):
        return features
    if isinstance(features, Mapping):
        unknown = sorted(set(features) - {"numerical", "categorical"})
        if unknown:
            raise ValueError(
                f"features has unknown key {unknown[0]!r}; use numerical, categorical."
            )
        return FeatureSet(
            tuple(features.get("numerical", ())), tuple(features.get("categorical", ()))
        )
    if isinstance(features, str):
        raise TypeError(f"features must be a list of column names, not the string {features!r}.")
    names = list(features)
    if frame is None:
        return FeatureSet(tuple(names))
    require_columns(frame, names, "features")
    categorical = [n for n in names if _is_categorical_dtype(frame[n])]
    return FeatureSet(
        tuple(n for n in names if n not in categorical),
        tuple(categorical),
    )


def _is_categorical_dtype(col: pd.Series) -> bool:
    return bool(
        pd.api.types.is_object_dtype(col)
        or pd.api.types.is_string_dtype(col)
        or isinstance(col.dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(col)
    )


def normalize_categories(frame: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    """Map categorical values to stable strings so training and serving agree.

    1, 1.0 and True become "1"; None, NaN and pd.NA become "missing", the labels the fairness
    slices use too (:func:`bantay.training.evaluation.category_label`). Without this a column
    that arrives as float at training (because of nulls) and int at serving would never match.
    Module-level so pickled pipelines can find it.

    Each distinct value is labelled once and its rows share the label (a nightly batch has
    hundreds of thousands of rows and a handful of categories).
    """
    df = pd.DataFrame(frame)
    return pd.DataFrame({c: _labels(df[c]) for c in df.columns}, index=df.index)


# Inferred kinds whose equal values always get the same label (1, 1.0 and True are all "1"), so
# labelling the distinct values alone gives every row its own label.
_SHARED_LABELS = frozenset(
    {"empty", "string", "integer", "floating", "mixed-integer-float", "boolean", "categorical"}
)


def _labels(column: pd.Series) -> np.ndarray:
    """``category_label`` of every value of ``column`` as an object array. Values that compare
    equal but could be written differently (decimals, mixed objects) are labelled one by one."""
    if pd.api.types.infer_dtype(column, skipna=True) not in _SHARED_LABELS:
        return column.map(category_label).to_numpy(dtype=object)
    codes, distinct = pd.factorize(column, use_na_sentinel=True)
    words = [category_label(v) for v in np.asarray(distinct, dtype=object)]
    return np.array([*words, category_label(None)], dtype=object)[codes]


def build_pipeline(
    trial: Mapping[str, Any],
    numerical: Sequence[str],
    categorical: Sequence[str],
    *,
    random_state: int = 0,
) -> Pipeline:
    """An unfitted, deterministic sklearn Pipeline for one trial.

    Linear models get median imputation (with missing-indicators) and scaling; gradient boosting
    takes NaN natively. Categoricals are one-hot encoded, ignoring values unseen at fit time.
    Both estimators weight classes as "balanced" because at-risk learners are the minority.
    """
    estimator = trial.get("estimator")
    if estimator not in ESTIMATOR_PARAMS:
        raise SearchSpaceError(
            f"trial {trial.get('trial_id')!r} has estimator {estimator!r}; allowed values: "
            f"{', '.join(sorted(ESTIMATOR_PARAMS))}."
        )
    params = dict(trial.get("params") or {})
    unknown = sorted(set(params) - set(ESTIMATOR_PARAMS[estimator]))
    if unknown:
        raise SearchSpaceError(
            f"trial {trial.get('trial_id')!r} sets {unknown[0]!r}, not a tunable parameter of "
            f"{estimator}; allowed: {', '.join(sorted(ESTIMATOR_PARAMS[estimator]))}."
        )
    categories = Pipeline(
        [
            (
                "normalize",
                FunctionTransformer(normalize_categories, feature_names_out="one-to-one"),
            ),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    numbers, model = _numbers_and_model(estimator, params, random_state)
    transformers = []
    if numerical:
        transformers.append(("num", numbers, list(numerical)))
    if categorical:
        transformers.append(("cat", categories, list(categorical)))
    if not transformers:
        raise ValueError("build_pipeline needs at least one numerical or categorical feature.")
    prep = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("prep", prep), ("model", model)])


def _numbers_and_model(
    estimator: str, params: Mapping[str, Any], random_state: int
) -> tuple[Any, Any]:
    """The numerical preprocessing and the classifier of one estimator family: median
    imputation (with missing-indicators) and scaling before a logistic regression; nothing
    before gradient boosting, which takes NaN natively."""
    if estimator == "logistic_regression":
        numbers = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                ("scale", StandardScaler()),
            ]
        )
        l1_ratio = params.get("l1_ratio", 0.0)
        model = LogisticRegression(
            **{"max_iter": 1000, **params},
            solver="saga" if l1_ratio > 0 else "lbfgs",
            class_weight="balanced",
            random_state=random_state,
        )
        return numbers, model
    model = HistGradientBoostingClassifier(
        **params, class_weight="balanced", random_state=random_state
    )
    return "passthrough", model


@dataclass(frozen=True)
class TrialResult:
    """Validation score of one trial; ``to_dict``/``from_dict`` carry it through XCom."""

    trial: Trial
    pr_auc: float | None
    roc_auc: float | None
    fit_seconds: float
    valid_rows: int
    valid_positives: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialResult:
        return cls(
            trial=as_trial(data["trial"]),
            pr_auc=data.get("pr_auc"),
            roc_auc=data.get("roc_auc"),
            fit_seconds=float(data.get("fit_seconds", 0.0)),
            valid_rows=int(data.get("valid_rows", 0)),
            valid_positives=int(data.get("valid_positives", 0)),
        )


def fit_and_score(
    trial: Mapping[str, Any],
    train: pd.DataFrame,
    valid: pd.DataFrame,
    features: FeaturesLike,
    *,
    label_col: str = LABEL,
    random_state: int = 0,
) -> TrialResult:
    """Fit one trial on train and score it on validation (PR AUC, ROC AUC, fit time)."""
    fs = resolve_features(features, train)
    x_train, y_train = _xy(train, fs, label_col, "train")
    x_valid, y_valid = _xy(valid, fs, label_col, "valid")
    model = build_pipeline(trial, fs.numerical, fs.categorical, random_state=random_state)
    started = time.perf_counter()
    model.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - started
    metrics = evaluate(y_valid, _positive_proba(model, x_valid))
    return TrialResult(
        trial=as_trial(trial),
        pr_auc=metrics["pr_auc"],
        roc_auc=metrics["roc_auc"],
        fit_seconds=round(fit_seconds, 3),
        valid_rows=metrics["rows"],
        valid_positives=metrics["positives"],
    )


def select_best(
    results: Iterable[TrialResult | Mapping[str, Any]], metric: str = "pr_auc"
) -> Trial:
    """The trial with the best validation ``metric``.

    Ties go to the better other AUC, then to the smallest trial_id, so reruns pick the same trial.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}.")
    other = "roc_auc" if metric == "pr_auc" else "pr_auc"
    rs = [r if isinstance(r, TrialResult) else TrialResult.from_dict(r) for r in results]
    if not rs:
        raise ValueError("select_best got no trial results; did every tuning task fail?")
    scored = [r for r in rs if getattr(r, metric) is not None]
    if not scored:
        raise TrainingDataError(
            f"No trial has a defined {metric} ({len(rs)} trials): the validation part has a "
            "single class. Widen the training window."
        )

    def key(r: TrialResult) -> tuple[float, float, str]:
        second = getattr(r, other)
        return (-getattr(r, metric), -(second if second is not None else -1.0), r.trial["trial_id"])

    return min(scored, key=key).trial


def fit_final(
    trial: Mapping[str, Any],
    train_plus_valid: pd.DataFrame,
    features: FeaturesLike,
    *,
    label_col: str = LABEL,
    random_state: int = 0,
) -> Pipeline:
    """Refit the chosen trial on train + validation; the test part stays untouched for the gate."""
    fs = resolve_features(features, train_plus_valid)
    x, y = _xy(train_plus_valid, fs, label_col, "train_plus_valid")
    model = build_pipeline(trial, fs.numerical, fs.categorical, random_state=random_state)
    return model.fit(x, y)


def predict_scores(model: Pipeline, frame: pd.DataFrame, features: FeaturesLike) -> np.ndarray:
    """Probability of the positive class (at_risk = 1) for every row of ``frame``."""
    fs = resolve_features(features, frame)
    require_columns(frame, fs.names, "predict_scores")
    return _positive_proba(model, frame[fs.names])


def _positive_proba(model: Pipeline, x: pd.DataFrame) -> np.ndarray:
    classes = list(model.classes_)
    if 1 not in classes:
        raise TrainingDataError(
            f"The model was fitted without positive labels (classes {classes})."
        )
    return model.predict_proba(x)[:, classes.index(1)]


def _xy(
    df: pd.DataFrame, fs: FeatureSet, label_col: str, what: str
) -> tuple[pd.DataFrame, np.ndarray]:
    if label_col in fs.names:
        raise TrainingDataError(
            f"The label {label_col!r} is listed as a feature; remove it from the features."
        )
    require_columns(df, [*fs.names, label_col], what)
    if df.empty:
        raise TrainingDataError(f"The {what} frame is empty; there is nothing to fit or score.")
    labels = df[label_col]
    if labels.isna().any():
        raise TrainingDataError(
            f"{int(labels.isna().sum())} rows of {what} have no {label_col}; drop unlabelled rows."
        )
    return df[fs.names], labels.astype(int).to_numpy()


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(
            f"{what}: the frame lacks column(s) {missing}; it has {list(df.columns)}. "
            "Check the feature service and the label query."
        )
