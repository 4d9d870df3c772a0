"""The version that serves, scored again on what it is judged on: its back-test on matured
labels (the rows after its fitted data), the window's rows another version scored, and the
yardstick of its quality when its reference holds no labels."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from bantay.monitoring.performance import BACKTEST, BACKTEST_VERSION
from bantay.schema import TIMESTAMP
from bantay.training.lineage import fitted_until
from bantay.training.pipeline import predict_scores

log = logging.getLogger(__name__)


def backtest(
    fitted: Any, manifest: dict[str, Any], labelled: pd.DataFrame | None
) -> pd.DataFrame | None:
    """The production version's own scores (``backtest_score``) on the labelled rows it was not
    fitted on: the features logged with each prediction, scored again by it.

    Rows at or before the end of its fitted data would flatter it; they are left out. None when
    no row is left.
    """
    if labelled is None or labelled.empty:
        return None
    version = manifest.get("version")
    until = fitted_until(manifest)
    if until is None:
        log.warning(
            "version %s names no end of fitted data in its lineage; its back-test uses every "
            "labelled row, including any it was fitted on",
            version,
        )
        rows = labelled.copy()
    else:
        rows = labelled[pd.to_datetime(labelled[TIMESTAMP], utc=True) > until].copy()
    log.info(
        "back-test of %s: %d of %d labelled rows after its fitted data (until %s)",
        version,
        len(rows),
        len(labelled),
        until,
    )
    if rows.empty:
        return None
    features = manifest.get("features")
    if not features:
        log.warning("version %s records no features in its manifest; no back-test", version)
        return None
    absent = [c for c in (*features["numerical"], *features["categorical"]) if c not in rows]
    if absent:
        log.warning(
            "back-test of %s: the prediction log has no column %s; scored as missing, as "
            "serving scores a feature no view provides",
            version,
            absent,
        )
        for column in absent:
            rows[column] = np.nan
    rows[BACKTEST] = predict_scores(fitted, rows, features)
    rows[BACKTEST_VERSION] = version
    return rows


def served_by(fitted: Any, manifest: dict[str, Any], window: pd.DataFrame) -> pd.DataFrame:
    """The window's scores as the version that serves gives them: rows another version scored
    (days before a promotion or a rollback, or a day re-checked after one) are scored again
    from their logged features, so the score is compared with the reference of the same model."""
    version = manifest["version"]
    if "model_version" not in window.columns or window.empty:
        return window
    other = (window["model_version"] != version).to_numpy()
    if not other.any():
        return window
    window = window.copy()
    window.loc[other, "score"] = predict_scores(fitted, window[other], manifest["features"])
    window.loc[other, "model_version"] = version
    log.info(
        "scored %d rows of the window again with %s (another version served them)",
        other.sum(),
        version,
    )
    return window


def held_out_quality(manifest: dict[str, Any]) -> tuple[float, int, int] | None:
    """The version's ROC AUC on its held-out test rows with their positives and negatives
    (from its manifest), the yardstick when its reference holds no matured labels."""
    auc = (manifest.get("metrics") or {}).get("roc_auc")
    test = ((manifest.get("lineage") or {}).get("split") or {}).get("test") or {}
    rows, positives = test.get("rows"), test.get("positives")
    if auc is None or not rows or positives is None or not 0 < positives < rows:
        return None
    return float(auc), int(positives), int(rows - positives)
