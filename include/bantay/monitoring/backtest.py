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
from bantay.serving.reasons import ATTRIBUTION, attribution_columns
from bantay.training.explain import Explainer
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


def served_by(
    fitted: Any, manifest: dict[str, Any], window: pd.DataFrame, tree_method: str = "path"
) -> pd.DataFrame:
    """The window's scores as the version that serves gives them: rows another version scored
    (days before a promotion or a rollback, or a day re-checked after one) are scored again
    from their logged features, so the score is compared with the reference of the same model;
    their logged attributions (the other model's) are computed again with this version's
    explainer, or blanked when it has no explanation, so that attribution drift never compares
    one model's attributions with another's reference."""
    version = manifest["version"]
    if "model_version" not in window.columns or window.empty:
        return window
    other = (window["model_version"] != version).to_numpy()
    if not other.any():
        return window
    window = window.copy()
    window.loc[other, "score"] = predict_scores(fitted, window[other], manifest["features"])
    window.loc[other, "model_version"] = version
    _explain_again(fitted, manifest, window, other, tree_method)
    log.info(
        "scored %d rows of the window again with %s (another version served them)",
        other.sum(),
        version,
    )
    return window


def _explain_again(
    fitted: Any, manifest: dict[str, Any], window: pd.DataFrame, rows: np.ndarray, method: str
) -> None:
    """Replace, in place, the logged attributions of ``rows`` with this version's."""
    logged = [c for c in window.columns if c.startswith(ATTRIBUTION.format(""))]
    if not logged:
        return
    explanation = manifest.get("explanation") or {}
    if not explanation:
        window.loc[rows, logged] = np.nan
        return
    features = manifest["features"]
    names = [*features["numerical"], *features["categorical"]]
    explainer = Explainer(fitted, names, baseline=explanation.get("baseline"), tree_method=method)
    part = window.loc[rows]
    fresh = attribution_columns(
        explainer.explain(explainer.transform(part), with_margin=False), part.index
    )
    window.loc[rows, logged] = np.nan
    kept = [c for c in fresh.columns if c in window.columns]
    window.loc[rows, kept] = fresh[kept].to_numpy()


def held_out_quality(manifest: dict[str, Any]) -> tuple[float, int, int] | None:
    """The version's ROC AUC on its held-out test rows with their positives and negatives
    (from its manifest), the yardstick when its reference holds no matured labels."""
    auc = (manifest.get("metrics") or {}).get("roc_auc")
    test = ((manifest.get("lineage") or {}).get("split") or {}).get("test") or {}
    rows, positives = test.get("rows"), test.get("positives")
    if auc is None or not rows or positives is None or not 0 < positives < rows:
        return None
    return float(auc), int(positives), int(rows - positives)
