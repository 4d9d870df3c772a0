"""Sanity checks on the training data before a model is fitted (rows, labels, leakage)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bantay.training.gate import Check
from bantay.training.pipeline import LABEL, FeaturesLike, resolve_features


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
    n = len(train_df)
    rows = Check(
        "data.rows",
        n,
        min_rows,
        n >= min_rows,
        f"{n} training rows" + ("" if n >= min_rows else f", fewer than the minimum {min_rows}"),
    )
    return [
        rows,
        *label_checks(train_df, label_col, label_rate_bounds),
        *feature_checks(train_df, resolve_features(features).names),
    ]


def label_checks(
    train_df: pd.DataFrame, label_col: str, label_rate_bounds: tuple[float, float]
) -> list[Check]:
    """The label column: present and never null, both classes, a rate within the bounds."""
    low, high = label_rate_bounds
    checks = []
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
    return checks


def feature_checks(train_df: pd.DataFrame, names: Sequence[str]) -> list[Check]:
    """The features: every one in the frame, none entirely null."""
    checks = []
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
