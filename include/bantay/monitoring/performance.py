"""Quality on matured labels: the production version's scores on the rows whose labels matured
since, against its reference's labelled rows, with an interval on the drop.

Labels mature weeks after the day they describe, and a new version may be promoted more often
than that, so the rows a label joins were usually scored by an older version. The production
version is therefore back-tested: the features logged with each prediction are scored again by
it (column :data:`BACKTEST`, its version in :data:`BACKTEST_VERSION`), and those scores are
judged, so a drop is seen as soon as labels mature whichever version served the day.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import pandas as pd
from sklearn import metrics as skm

from bantay.monitoring.frames import days_of
from bantay.monitoring.results import ClassificationQuality, PerformanceCheck
from bantay.settings.drift import DriftConfig

# Columns of labelled prediction-log rows: the production version's own score of the logged
# features, and that version.
BACKTEST = "backtest_score"
BACKTEST_VERSION = "backtest_version"


def quality(y: pd.Series, p: pd.Series) -> dict[str, float | None]:
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
    yardstick: tuple[float, int, int] | None = None,
) -> PerformanceCheck | None:
    """ROC AUC on the newest labelled day against the reference's labelled rows.

    Judges the back-tested scores (:data:`BACKTEST`) when ``labelled`` has them, else the
    served ``pred``. ``degraded`` when the whole interval of the drop lies beyond ``tolerance``
    (the gate's allowed regression), so sampling noise alone does not raise PERFORMANCE.
    ``yardstick``: ``(roc_auc, positives, negatives)`` of the version on its held-out test rows,
    used when the reference holds no labelled rows (a reference of days whose labels had not
    matured when the version was trained), so the check is never blind.
    """
    ts = cfg.label_join_keys[-1]
    ref_l = _labelled(ref, target, pred)
    score = BACKTEST if BACKTEST in labelled.columns else pred
    if target not in labelled.columns or score not in labelled.columns:
        return None
    cur = labelled.dropna(subset=[target, score])
    if (ref_l is None and yardstick is None) or cur.empty or ts not in cur.columns:
        return None
    days = days_of(cur, ts)
    counts = days.value_counts()
    usable = sorted(d for d, n in counts.items() if n >= cfg.min_labelled_rows)
    if not usable:
        return None
    newest = usable[-1]
    cur = cur[days == newest]
    y_cur = cur[target].astype(int)
    if y_cur.nunique() < 2:
        return None
    baseline = _reference_auc(ref_l, target, pred, yardstick)
    if baseline is None:
        return None
    a_ref, n_pos, n_neg = baseline
    a_cur = float(skm.roc_auc_score(y_cur, cur[score]))
    se = math.hypot(
        _auc_se(a_ref, n_pos, n_neg),
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
        reference_rows=len(ref_l) if ref_l is not None else n_pos + n_neg,
        version=_judged_version(cur, score == BACKTEST),
    )


def _reference_auc(
    ref_l: pd.DataFrame | None,
    target: str,
    pred: str,
    yardstick: tuple[float, int, int] | None,
) -> tuple[float, int, int] | None:
    """ROC AUC, positives and negatives of the reference's labelled rows when they hold both
    classes, else the held-out ``yardstick``; None when neither is there."""
    if ref_l is not None and ref_l[target].nunique() == 2:
        y_ref = ref_l[target].astype(int)
        return (
            float(skm.roc_auc_score(y_ref, ref_l[pred])),
            int(y_ref.sum()),
            int((1 - y_ref).sum()),
        )
    return yardstick


def _judged_version(rows: pd.DataFrame, backtested: bool) -> str | None:
    """The version whose scores were judged; None when served scores of several versions mix."""
    column = BACKTEST_VERSION if backtested else "model_version"
    if column not in rows.columns:
        return None
    versions = rows[column].dropna().unique()
    return str(versions[0]) if len(versions) == 1 else None
