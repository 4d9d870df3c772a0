"""The published model is byte-stable: the same trial refit on the same rows dumps to the same
joblib bytes (what ``bantay reproduce`` relies on), for both estimator families."""

from __future__ import annotations

import hashlib
import io

import joblib
import numpy as np
import pandas as pd
import pytest

from bantay.training.published import fit_published

FEATURES = {"numerical": ["a", "b"], "categorical": ["g"]}


def _rows() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 2000
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "g": rng.choice(["x", "y", None], size=n),
            "at_risk": rng.integers(0, 2, n),
        }
    )
    frame.loc[::7, "a"] = np.nan
    return frame


def _digest(model) -> str:
    body = io.BytesIO()
    joblib.dump(model, body)
    return hashlib.sha256(body.getvalue()).hexdigest()


@pytest.mark.parametrize(
    "trial",
    [
        {"trial_id": "lr", "estimator": "logistic_regression", "params": {"C": 0.5}},
        {"trial_id": "hgb", "estimator": "hist_gradient_boosting", "params": {"max_depth": 3}},
    ],
    ids=["logistic_regression", "hist_gradient_boosting"],
)
def test_the_same_refit_dumps_the_same_bytes(trial):
    rows = _rows()
    first = fit_published(trial, rows, FEATURES, label_col="at_risk")
    second = fit_published(trial, rows.copy(), FEATURES, label_col="at_risk")
    assert _digest(first) == _digest(second) == _digest(first)


def test_other_rows_dump_other_bytes():
    trial = {"trial_id": "lr", "estimator": "logistic_regression", "params": {"C": 0.5}}
    rows = _rows()
    flipped = rows.copy()
    flipped.loc[0, "at_risk"] = 1 - flipped.loc[0, "at_risk"]
    first = fit_published(trial, rows, FEATURES, label_col="at_risk")
    second = fit_published(trial, flipped, FEATURES, label_col="at_risk")
    assert _digest(first) != _digest(second)
