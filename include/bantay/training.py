"""Training: temporal split, search space, pipelines, tuning trials and data sanity checks.

Pure functions over DataFrames: Feast, Airflow and S3 are wired around them by the DAG. Trials and
trial results are JSON-ready dicts so Airflow can map over them (``.expand()``) and pass them
through XCom unchanged.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypedDict

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from bantay.evaluation import evaluate
from bantay.validation import Check

LABEL = "at_risk"
TIME = "event_timestamp"
MISSING_CATEGORY = "missing"
METRICS = ("pr_auc", "roc_auc")


class SearchSpaceError(ValueError):
    """The configured search space names an unknown estimator or parameter, or a bad value."""


class TrainingDataError(ValueError):
    """The training frame cannot be split or fitted as given."""


class Trial(TypedDict):
    """One point of the search space; plain JSON so Airflow can ``.expand()`` over a list."""

    trial_id: str
    name: str
    estimator: str
    params: dict[str, Any]


# --- search space -------------------------------------------------------------------------------


def _positive_number(v: Any) -> bool:
    return _is_number(v) and v > 0


def _non_negative_number(v: Any) -> bool:
    return _is_number(v) and v >= 0


def _unit_interval(v: Any) -> bool:
    return _is_number(v) and 0 <= v <= 1


def _open_unit_interval(v: Any) -> bool:
    return _is_number(v) and 0 < v <= 1


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _positive_int_or_none(v: Any) -> bool:
    return v is None or _positive_int(v)


def _leaf_nodes(v: Any) -> bool:
    return v is None or (_positive_int(v) and v >= 2)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# estimator name -> parameter -> (validator, what a valid value is)
ESTIMATOR_PARAMS: dict[str, dict[str, tuple[Callable[[Any], bool], str]]] = {
    "logistic_regression": {
        "C": (_positive_number, "a number > 0"),
        "l1_ratio": (_unit_interval, "a number in [0, 1]"),
        "max_iter": (_positive_int, "an integer > 0"),
        "tol": (_positive_number, "a number > 0"),
    },
    "hist_gradient_boosting": {
        "learning_rate": (_positive_number, "a number > 0"),
        "max_iter": (_positive_int, "an integer > 0"),
        "max_depth": (_positive_int_or_none, "an integer > 0 or null"),
        "max_leaf_nodes": (_leaf_nodes, "an integer >= 2 or null"),
        "min_samples_leaf": (_positive_int, "an integer > 0"),
        "l2_regularization": (_non_negative_number, "a number >= 0"),
        "max_features": (_open_unit_interval, "a number in (0, 1]"),
    },
}


def expand_search_space(spec: Iterable[Mapping[str, Any]]) -> list[Trial]:
    """One Trial per combination of each candidate's parameter lists, with a stable trial_id.

    ``spec`` is a list like ``[{"name": "hgb", "estimator": "hist_gradient_boosting",
    "params": {"max_depth": [3, 6]}}]``; a scalar parameter value means a one-element list.
    Errors name the offending key (``search_space[1].params.max_dept``) and the allowed values.
    """
    trials: list[Trial] = []
    seen_names: set[str] = set()
    candidates = list(spec)
    if not candidates:
        raise SearchSpaceError(
            "search_space is empty; list at least one candidate such as "
            '{"name": "logreg", "estimator": "logistic_regression", "params": {"C": [1.0]}}.'
        )
    for i, raw in enumerate(candidates):
        cand = raw.model_dump() if hasattr(raw, "model_dump") else raw
        where = f"search_space[{i}]"
        if not isinstance(cand, Mapping):
            raise SearchSpaceError(f"{where} must be a mapping, got {type(cand).__name__}.")
        unknown = sorted(set(cand) - {"name", "estimator", "params"})
        if unknown:
            raise SearchSpaceError(
                f"{where}.{unknown[0]} is not a known key; allowed keys: name, estimator, params."
            )
        estimator = cand.get("estimator")
        if estimator not in ESTIMATOR_PARAMS:
            raise SearchSpaceError(
                f"{where}.estimator is {estimator!r}; allowed values: "
                f"{', '.join(sorted(ESTIMATOR_PARAMS))}."
            )
        name = cand.get("name", estimator)
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "-:,="):
            raise SearchSpaceError(
                f"{where}.name is {name!r}; use a short non-empty name without '-', ':', ',' or '='."
            )
        if name in seen_names:
            raise SearchSpaceError(f"{where}.name {name!r} is used twice; candidate names differ.")
        seen_names.add(name)
        grid = _param_grid(cand.get("params") or {}, estimator, f"{where}.params")
        keys = sorted(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            params = dict(zip(keys, combo, strict=True))
            trials.append(
                Trial(
                    trial_id=_trial_id(name, params),
                    name=name,
                    estimator=estimator,
                    params=params,
                )
            )
    return trials


def _param_grid(params: Any, estimator: str, where: str) -> dict[str, list[Any]]:
    if not isinstance(params, Mapping):
        raise SearchSpaceError(f"{where} must be a mapping of parameter -> list of values.")
    allowed = ESTIMATOR_PARAMS[estimator]
    grid: dict[str, list[Any]] = {}
    for key, values in params.items():
        if key not in allowed:
            raise SearchSpaceError(
                f"{where}.{key} is not a tunable parameter of {estimator}; allowed: "
                f"{', '.join(sorted(allowed))}."
            )
        values = list(values) if isinstance(values, list | tuple) else [values]
        if not values:
            raise SearchSpaceError(f"{where}.{key} is an empty list; give at least one value.")
        check, expected = allowed[key]
        for v in values:
            if not check(v):
                raise SearchSpaceError(f"{where}.{key} has value {v!r}; it must be {expected}.")
        if len({json.dumps(v) for v in values}) != len(values):
            raise SearchSpaceError(f"{where}.{key} lists a value twice: {values!r}.")
        grid[key] = values
    return grid


def as_trial(data: Mapping[str, Any]) -> Trial:
    """A Trial from a mapping that crossed XCom; names what is missing."""
    missing = [k for k in ("trial_id", "name", "estimator") if k not in data]
    if missing:
        raise SearchSpaceError(
            f"Not a trial (missing {', '.join(missing)}): {dict(data)!r}. "
            "Use the dicts made by expand_search_space."
        )
    return Trial(
        trial_id=str(data["trial_id"]),
        name=str(data["name"]),
        estimator=str(data["estimator"]),
        params=dict(data.get("params") or {}),
    )


def _trial_id(name: str, params: Mapping[str, Any]) -> str:
    if not params:
        return name
    return name + "-" + ",".join(f"{k}={json.dumps(params[k])}" for k in sorted(params))


# --- features and pipelines ---------------------------------------------------------------------


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
    _require_columns(frame, names, "features")
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

    1, 1.0 and True become "1"; None, NaN and pd.NA become "missing". Without this a column that
    arrives as float at training (because of nulls) and int at serving would never match.
    Module-level so pickled pipelines can find it.
    """
    df = pd.DataFrame(frame)
    return pd.DataFrame({c: df[c].map(_category_label).astype(object) for c in df.columns})


def _category_label(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return MISSING_CATEGORY
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


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
    if estimator == "logistic_regression":
        numbers: Any = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                ("scale", StandardScaler()),
            ]
        )
        l1_ratio = params.get("l1_ratio", 0.0)
        model: Any = LogisticRegression(
            **{"max_iter": 1000, **params},
            solver="saga" if l1_ratio > 0 else "lbfgs",
            class_weight="balanced",
            random_state=random_state,
        )
    else:
        numbers = "passthrough"
        model = HistGradientBoostingClassifier(
            **params, class_weight="balanced", random_state=random_state
        )
    transformers = []
    if numerical:
        transformers.append(("num", numbers, list(numerical)))
    if categorical:
        transformers.append(("cat", categories, list(categorical)))
    if not transformers:
        raise ValueError("build_pipeline needs at least one numerical or categorical feature.")
    prep = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("prep", prep), ("model", model)])


# --- temporal split -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Train, validation and test parts, strictly ordered in time.

    ``boundaries`` (ISO strings) say train is [train_start, valid_start), validation
    [valid_start, test_start) and test [test_start, test_end].
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    boundaries: dict[str, str]

    def summary(self, label_col: str = LABEL) -> dict[str, Any]:
        """Rows, positives and label rate per part plus boundaries, for the manifest's lineage."""
        parts = {"train": self.train, "valid": self.valid, "test": self.test}
        out: dict[str, Any] = {"boundaries": dict(self.boundaries)}
        for name, part in parts.items():
            pos = int(part[label_col].sum()) if label_col in part else None
            out[name] = {
                "rows": len(part),
                "positives": pos,
                "label_rate": (pos / len(part)) if pos is not None and len(part) else None,
            }
        return out


def temporal_split(
    df: pd.DataFrame,
    *,
    time_col: str = TIME,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    label_col: str = LABEL,
) -> Split:
    """Split by time so every train row is earlier than every validation row, and so on.

    Cut points are timestamps taken at the row-count fractions of the time-sorted frame; rows
    sharing a timestamp always land in the same part, so no label time straddles two parts.
    """
    _check_fractions(fractions)
    _require_columns(df, [time_col, label_col], "temporal_split")
    if df.empty:
        raise TrainingDataError("temporal_split got an empty frame; there is nothing to train on.")
    ts = pd.to_datetime(df[time_col])
    if ts.isna().any():
        raise TrainingDataError(
            f"{int(ts.isna().sum())} rows have no {time_col}; drop or fix them before splitting."
        )
    order = np.argsort(ts.to_numpy(), kind="stable")
    data = df.iloc[order].reset_index(drop=True)
    times = ts.iloc[order].reset_index(drop=True)
    n = len(data)
    cut1 = times.iloc[min(n - 1, int(round(n * fractions[0])))]
    cut2 = times.iloc[min(n - 1, int(round(n * (fractions[0] + fractions[1]))))]
    parts = {
        "train": data[(times < cut1).to_numpy()],
        "valid": data[((times >= cut1) & (times < cut2)).to_numpy()],
        "test": data[(times >= cut2).to_numpy()],
    }
    for name, part in parts.items():
        _check_part(name, part, label_col, n, times, fractions)
    boundaries = {
        "train_start": times.iloc[0].isoformat(),
        "valid_start": cut1.isoformat(),
        "test_start": cut2.isoformat(),
        "test_end": times.iloc[-1].isoformat(),
    }
    return Split(
        train=parts["train"].reset_index(drop=True),
        valid=parts["valid"].reset_index(drop=True),
        test=parts["test"].reset_index(drop=True),
        boundaries=boundaries,
    )


def _check_fractions(fractions: Sequence[float]) -> None:
    if (
        len(fractions) != 3
        or not all(_is_number(f) and f > 0 for f in fractions)
        or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6)
    ):
        raise TrainingDataError(
            f"fractions must be three positive numbers (train, valid, test) summing to 1, "
            f"got {tuple(fractions)}."
        )


def _check_part(
    name: str,
    part: pd.DataFrame,
    label_col: str,
    n: int,
    times: pd.Series,
    fractions: Sequence[float],
) -> None:
    span = f"{times.iloc[0].isoformat()} .. {times.iloc[-1].isoformat()}"
    if part.empty:
        raise TrainingDataError(
            f"The {name} part of the temporal split is empty: {n} rows over {span} with "
            f"{times.nunique()} distinct timestamps cannot be cut at fractions {tuple(fractions)}. "
            "Widen the training window or change the fractions."
        )
    classes = sorted(part[label_col].dropna().unique().tolist())
    if len(classes) < 2:
        raise TrainingDataError(
            f"The {name} part of the temporal split ({len(part)} rows) holds only "
            f"{label_col}={classes}; it needs both classes. Widen the training window "
            "or change the fractions."
        )


# --- trials -------------------------------------------------------------------------------------


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
    _require_columns(frame, fs.names, "predict_scores")
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
    _require_columns(df, [*fs.names, label_col], what)
    if df.empty:
        raise TrainingDataError(f"The {what} frame is empty; there is nothing to fit or score.")
    labels = df[label_col]
    if labels.isna().any():
        raise TrainingDataError(
            f"{int(labels.isna().sum())} rows of {what} have no {label_col}; drop unlabelled rows."
        )
    return df[fs.names], labels.astype(int).to_numpy()


def _require_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(
            f"{what}: the frame lacks column(s) {missing}; it has {list(df.columns)}. "
            "Check the feature service and the label query."
        )


# --- data sanity --------------------------------------------------------------------------------


def training_data_checks(
    train_df: pd.DataFrame,
    features: FeaturesLike,
    *,
    min_rows: int,
    label_rate_bounds: tuple[float, float],
    label_col: str = LABEL,
) -> list[Check]:
    """Sanity of the training frame before any fit: rows, classes, label rate, empty features.

    Returns checks rather than raising so the gate can report every problem at once.
    """
    names = resolve_features(features).names
    low, high = label_rate_bounds
    n = len(train_df)
    checks = [
        Check(
            "data.rows",
            n,
            min_rows,
            n >= min_rows,
            f"{n} training rows"
            + ("" if n >= min_rows else f", fewer than the minimum {min_rows}"),
        )
    ]
    if label_col in train_df.columns:
        labels = train_df[label_col]
        nulls = int(labels.isna().sum())
        present = labels.dropna().astype(int)
        classes = sorted(present.unique().tolist())
        rate = float(present.mean()) if len(present) else None
    else:
        nulls, classes, rate = None, [], None
    checks.append(
        Check(
            "data.label_not_null",
            nulls,
            0,
            nulls == 0,
            f"the label column {label_col!r} is missing"
            if nulls is None
            else f"{nulls} rows have no {label_col}"
            if nulls
            else f"every row has {label_col}",
        )
    )
    checks.append(
        Check(
            "data.both_classes",
            len(classes),
            2,
            len(classes) == 2,
            f"{label_col} takes the values {classes}"
            + ("" if len(classes) == 2 else "; training needs both 0 and 1"),
        )
    )
    in_bounds = rate is not None and low <= rate <= high
    checks.append(
        Check(
            "data.label_rate",
            rate,
            [low, high],
            in_bounds,
            "no labelled rows, so no label rate"
            if rate is None
            else f"label rate {rate:.4f} is "
            + ("within" if in_bounds else "outside")
            + f" [{low:.4f}, {high:.4f}]",
        )
    )
    missing = [f for f in names if f not in train_df.columns]
    checks.append(
        Check(
            "data.features_present",
            missing,
            [],
            not missing,
            "all features present"
            if not missing
            else f"features missing from the frame: {missing}",
        )
    )
    empty = [f for f in names if f in train_df.columns and train_df[f].isna().all()]
    checks.append(
        Check(
            "data.no_empty_features",
            empty,
            [],
            not empty,
            "no feature is entirely null"
            if not empty
            else f"features entirely null (a broken upstream feed?): {empty}",
        )
    )
    return checks
