"""Model evaluation: overall metrics and per-slice metrics for the fairness check.

Every function returns plain JSON-ready dicts (floats, ints, None) so results travel through XCom
and into the manifest unchanged. Undefined metrics (a class absent) are None, never a crash, and
nothing here reads or returns learner ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
)

SliceSpec = str | Callable[[pd.DataFrame], pd.Series]
MISSING = "missing"
GRADE_BANDS: tuple[tuple[str, int, int], ...] = (("1-4", 1, 4), ("5-8", 5, 8), ("9-12", 9, 12))
# Threshold used for slice recall when no score reaches the target precision overall.
FALLBACK_THRESHOLD = 0.5


def grade_band(grade_level: pd.Series) -> pd.Series:
    """Bucket grade_level 1..12 into "1-4", "5-8", "9-12"; anything else is "missing"."""
    values = pd.to_numeric(grade_level, errors="coerce")
    out = pd.Series(MISSING, index=grade_level.index, dtype=object)
    for label, low, high in GRADE_BANDS:
        out[(values >= low) & (values <= high)] = label
    return out


def _grade_band_of(df: pd.DataFrame) -> pd.Series:
    return grade_band(df["grade_level"])


DEFAULT_SLICES: dict[str, SliceSpec] = {
    "region": "region",
    "grade_band": _grade_band_of,
    "parent_abroad": "parent_abroad",
}
DERIVED_SLICES: dict[str, SliceSpec] = {"grade_band": _grade_band_of}


def slice_specs(names: Sequence[str]) -> dict[str, SliceSpec]:
    """A model's configured slices: a derived slice by name (grade_band) or a column."""
    return {name: DERIVED_SLICES.get(name, name) for name in names}


def evaluate(
    y_true: Sequence[int] | np.ndarray | pd.Series,
    y_score: Sequence[float] | np.ndarray | pd.Series,
    *,
    target_precision: float = 0.5,
) -> dict[str, Any]:
    """Ranking and calibration metrics of scores against 0/1 labels.

    recall_at_precision is the largest recall whose precision is >= target_precision (0.0 when no
    threshold reaches it); threshold_at_precision is the score cut that achieves it. Metrics that
    need both classes are None when one is absent.
    """
    y, s = _as_arrays(y_true, y_score)
    if not 0.0 < target_precision <= 1.0:
        raise ValueError(f"target_precision must be in (0, 1], got {target_precision}.")
    rows = int(y.size)
    positives = int(y.sum())
    out: dict[str, Any] = {
        "rows": rows,
        "positives": positives,
        "label_rate": positives / rows if rows else None,
        "roc_auc": None,
        "pr_auc": None,
        "recall_at_precision": None,
        "threshold_at_precision": None,
        "target_precision": float(target_precision),
        "brier": float(brier_score_loss(y, s)) if rows else None,
    }
    if positives == 0:
        return out
    if positives < rows:
        out["roc_auc"] = float(roc_auc_score(y, s))
        out["pr_auc"] = float(average_precision_score(y, s))
    recall, threshold = _recall_at_precision(y, s, target_precision)
    out["recall_at_precision"] = recall
    out["threshold_at_precision"] = threshold
    return out


def recall_precision_at(
    y_true: Sequence[int] | np.ndarray | pd.Series,
    y_score: Sequence[float] | np.ndarray | pd.Series,
    threshold: float,
) -> tuple[float | None, float | None]:
    """(recall, precision) when flagging scores >= threshold; None where undefined."""
    y, s = _as_arrays(y_true, y_score)
    flagged = s >= threshold
    positives = int(y.sum())
    true_pos = int((flagged & (y == 1)).sum())
    recall = true_pos / positives if positives else None
    precision = true_pos / int(flagged.sum()) if flagged.any() else None
    return recall, precision


def evaluate_slices(
    df: pd.DataFrame,
    y_score: Sequence[float] | np.ndarray | pd.Series,
    *,
    slices: Mapping[str, SliceSpec] | None = None,
    min_slice_rows: int = 50,
    label_col: str = "at_risk",
    target_precision: float = 0.5,
    threshold: float | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Metrics per slice value: {slice: {value: metrics}}.

    ``slices`` maps a slice name to a column name or to a function of the frame (default: region,
    grade band, parent_abroad). Each group also gets ``recall`` and ``precision`` at ONE operating
    threshold shared by all groups (the overall threshold_at_precision unless ``threshold`` is
    given), because that is how the model is used, so recall gaps compare like with like. Groups
    with fewer than ``min_slice_rows`` rows are marked skipped and carry no metrics.
    """
    if label_col not in df.columns:
        raise KeyError(
            f"evaluate_slices needs the label column {label_col!r}; the frame has {list(df.columns)}."
        )
    y, s = _as_arrays(df[label_col], y_score)
    if threshold is None:
        overall = evaluate(y, s, target_precision=target_precision)
        threshold = overall["threshold_at_precision"]
        source = "overall threshold_at_precision"
        if threshold is None:
            threshold, source = FALLBACK_THRESHOLD, "fallback (target precision unreachable)"
    else:
        source = "given"
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, spec in (DEFAULT_SLICES if slices is None else slices).items():
        keys = slice_keys(df, name, spec)
        groups: dict[str, dict[str, Any]] = {}
        for value in sorted(keys.unique()):
            mask = (keys == value).to_numpy()
            n = int(mask.sum())
            if n < min_slice_rows:
                groups[value] = {
                    "skipped": True,
                    "rows": n,
                    "reason": f"fewer than {min_slice_rows} rows",
                }
                continue
            metrics = evaluate(y[mask], s[mask], target_precision=target_precision)
            recall, precision = recall_precision_at(y[mask], s[mask], threshold)
            metrics.update(
                skipped=False,
                recall=recall,
                precision=precision,
                threshold=float(threshold),
                threshold_source=source,
            )
            groups[value] = metrics
        out[name] = groups
    return out


def recall_gap(
    slice_metrics: Mapping[str, Mapping[str, Mapping[str, Any]]],
    *,
    min_positives: int = 5,
    recall_key: str = "recall",
) -> tuple[float | None, str | None, str | None]:
    """Largest recall gap within any one slice dimension: (gap, worst, best).

    Groups are compared only with groups of the same dimension (regions with regions) and only
    when they were not skipped and hold at least ``min_positives`` positives; worst and best are
    named like "region=mindanao". All None when no dimension has two comparable groups.
    """
    best_gap: tuple[float, str, str] | None = None
    for dim in sorted(slice_metrics):
        eligible = []
        for value in sorted(slice_metrics[dim]):
            m = slice_metrics[dim][value]
            r = m.get(recall_key)
            if m.get("skipped") or r is None or (m.get("positives") or 0) < min_positives:
                continue
            eligible.append((float(r), f"{dim}={value}"))
        if len(eligible) < 2:
            continue
        worst = min(eligible, key=lambda t: (t[0], t[1]))
        best = max(eligible, key=lambda t: (t[0], t[1]))
        gap = best[0] - worst[0]
        if best_gap is None or gap > best_gap[0]:
            best_gap = (gap, worst[1], best[1])
    if best_gap is None:
        return None, None, None
    return best_gap


def _recall_at_precision(y: np.ndarray, s: np.ndarray, target: float) -> tuple[float, float | None]:
    precision, recall, thresholds = precision_recall_curve(y, s)
    # The curve's last point (precision 1, recall 0) has no threshold; it stands for "flag nobody".
    ok = precision[:-1] >= target
    if not ok.any():
        return 0.0, None
    idx = np.flatnonzero(ok)
    top = recall[:-1][idx].max()
    # Thresholds ascend along the curve: of the cuts reaching the top recall, keep the strictest.
    best = idx[recall[:-1][idx] == top][-1]
    return float(recall[best]), float(thresholds[best])


def slice_keys(df: pd.DataFrame, name: str, spec: SliceSpec) -> pd.Series:
    """The group of every row of one slice, as text (missing values are ``MISSING``)."""
    if callable(spec):
        keys = spec(df)
    else:
        if spec not in df.columns:
            raise KeyError(
                f"Slice {name!r} uses column {spec!r}, which the evaluation frame lacks "
                f"(columns: {list(df.columns)}); add the column or drop the slice."
            )
        keys = df[spec]
    keys = pd.Series(keys, index=df.index)
    return keys.map(category_label).astype(str)


def category_label(value: Any) -> str:
    """A categorical value as stable text, the same at training, serving and slicing: None, NaN
    and pd.NA are ``MISSING``; True, 1 and 1.0 are "1" (a column with nulls arrives as float)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _as_arrays(
    y_true: Sequence[int] | np.ndarray | pd.Series,
    y_score: Sequence[float] | np.ndarray | pd.Series,
) -> tuple[np.ndarray, np.ndarray]:
    y_raw = np.asarray(y_true, dtype=float).ravel()
    s = np.asarray(y_score, dtype=float).ravel()
    if y_raw.size != s.size:
        raise ValueError(
            f"y_true has {y_raw.size} rows but y_score has {s.size}; score the same rows you label."
        )
    if np.isnan(y_raw).any():
        raise ValueError(
            f"y_true has {int(np.isnan(y_raw).sum())} missing labels; drop unlabelled rows first."
        )
    if not np.isin(y_raw, (0.0, 1.0)).all():
        bad = sorted({float(v) for v in y_raw[~np.isin(y_raw, (0.0, 1.0))]})[:5]
        raise ValueError(f"y_true must be 0/1 labels; found other values such as {bad}.")
    if not np.isfinite(s).all():
        raise ValueError(
            f"y_score has {int((~np.isfinite(s)).sum())} NaN or infinite scores out of {s.size}; "
            "the model produced invalid output, check its inputs."
        )
    return y_raw.astype(int), s
