"""Quality on matured labels: the production model's predictions joined with the labels that
matured since, against the reference's labelled rows, with an interval on the drop."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING

from bantay.monitoring.results import ClassificationQuality, PerformanceCheck

if TYPE_CHECKING:
    import pandas as pd

    from bantay.monitoring.config import DriftConfig


def quality(y: pd.Series, p: pd.Series) -> dict[str, float | None]:
    from sklearn import metrics as skm

    y_true = y.astype(int).to_numpy()
    proba = p.astype(float).clip(1e-7, 1 - 1e-7).to_numpy()
    pred = (proba >= 0.5).astype(int)
    two_classes = len(set(y_true.tolist())) == 2
    return {
        "roc_auc": float(skm.roc_auc_score(y_true, proba)) if two_classes else None,
        "pr_auc": float(skm.average_precision_score(y_true, proba)) if two_classes else None,
        "log_loss": float(skm.log_loss(y_true, proba, labels=[0, 1])),
        "brier": float(skm.brier_score_loss(y_true, proba)),
        "accuracy": float(skm.accuracy_score(y_true, pred)),
        "precision": float(skm.precision_score(y_true, pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, pred, zero_division=0)),
        "f1": float(skm.f1_score(y_true, pred, zero_division=0)),
        "positive_rate": float(y_true.mean()),
        "mean_score": float(proba.mean()),
    }


def _labelled(frame: pd.DataFrame, target: str, pred: str | None) -> pd.DataFrame | None:
    if pred is None or target not in frame.columns or pred not in frame.columns:
        return None
    rows = frame[[target, pred]].dropna()
    return rows if len(rows) else None


def classification(
    ref: pd.DataFrame, cur: pd.DataFrame, target: str, pred: str | None
) -> ClassificationQuality | None:
    """Quality of the rows of ``cur`` that carry labels, beside the reference's."""
    cur_l = _labelled(cur, target, pred)
    if cur_l is None:
        return None
    ref_l = _labelled(ref, target, pred)
    return ClassificationQuality(
        current=quality(cur_l[target], cur_l[pred]),
        reference=quality(ref_l[target], ref_l[pred]) if ref_l is not None else None,
        current_labelled_rows=len(cur_l),
        reference_labelled_rows=len(ref_l) if ref_l is not None else 0,
    )


def _auc_se(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982) standard error of a ROC AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)) / (
        positives * negatives
    )
    return math.sqrt(max(var, 0.0))


def performance_check(
    ref: pd.DataFrame,
    labelled: pd.DataFrame,
    target: str,
    pred: str,
    cfg: DriftConfig,
    *,
    tolerance: float,
) -> PerformanceCheck | None:
    """ROC AUC on the newest labelled day against the reference's labelled rows.

    ``degraded`` when the whole interval of the drop lies beyond ``tolerance`` (the gate's
    allowed regression), so sampling noise alone does not raise PERFORMANCE.
    """
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    ts = cfg.label_join_keys[-1]
    ref_l = _labelled(ref, target, pred)
    cur = labelled.dropna(subset=[target, pred])
    if ref_l is None or cur.empty or ts not in cur.columns:
        return None
    days = pd.to_datetime(cur[ts], utc=True).dt.date
    counts = days.value_counts()
    usable = sorted(d for d, n in counts.items() if n >= cfg.min_labelled_rows)
    if not usable:
        return None
    newest = usable[-1]
    cur = cur[days == newest]
    y_ref, y_cur = ref_l[target].astype(int), cur[target].astype(int)
    if y_ref.nunique() < 2 or y_cur.nunique() < 2:
        return None
    a_ref = float(roc_auc_score(y_ref, ref_l[pred]))
    a_cur = float(roc_auc_score(y_cur, cur[pred]))
    se = math.hypot(
        _auc_se(a_ref, int(y_ref.sum()), int((1 - y_ref).sum())),
        _auc_se(a_cur, int(y_cur.sum()), int((1 - y_cur).sum())),
    )
    z = NormalDist().inv_cdf(0.5 + cfg.performance_confidence / 2)
    drop = a_ref - a_cur
    low, high = drop - z * se, drop + z * se
    return PerformanceCheck(
        metric="roc_auc",
        reference=a_ref,
        current=a_cur,
        drop=drop,
        low=low,
        high=high,
        tolerance=tolerance,
        degraded=low > tolerance,
        labelled_day=str(newest),
        rows=len(cur),
        reference_rows=len(ref_l),
    )
