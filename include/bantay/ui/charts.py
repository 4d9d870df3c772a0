"""The Drift tab's charts, computed from the drift rows (no I/O): what each day's verdict rests
on, drawn against the line it had to cross.

A day is DRIFT when one monitored feature or the model's own score drifted on it, each judged
against its own threshold; the share of drifted features only says how broad the drift was. So
the main chart draws every day's score drift and its most drifted feature as a multiple of their
thresholds, with the threshold (1x) as the line a DRIFT day is over.
"""

from __future__ import annotations

import math
from typing import Any

from bantay.ui.queries import DriftReportRecord

STEP = 4  # px per day
RATIO_HEIGHT = 80
SHARE_HEIGHT = 60
HEATMAP_DAYS = 30
BAR_WIDTH = 120  # px of an inline bar at its table's largest value


def ratio(score: Any) -> float | None:
    """``score / threshold`` of one stored drift score, None when either is missing."""
    if not isinstance(score, dict):
        return None
    value, threshold = score.get("score"), score.get("threshold")
    if not isinstance(value, int | float) or not isinstance(threshold, int | float):
        return None
    if not threshold or math.isnan(value):
        return None
    return float(value) / float(threshold)


def feature_entries(row: DriftReportRecord) -> dict[str, dict[str, Any]]:
    """The row's per-feature scores (entries that are not score dicts are left out)."""
    return {k: v for k, v in row.feature_scores.items() if isinstance(v, dict)}


def worst_feature(row: DriftReportRecord) -> tuple[str, float] | None:
    """The feature furthest past (or closest to) its threshold, with its ratio."""
    ratios = [(name, ratio(s)) for name, s in feature_entries(row).items()]
    known = [(name, r) for name, r in ratios if r is not None]
    return max(known, key=lambda nr: nr[1]) if known else None


def score_drift(row: DriftReportRecord) -> dict[str, Any] | None:
    """The drift of the model's own score that day (None: not recorded, or no scores)."""
    found = getattr(row, "prediction_drift", None)
    return found if isinstance(found, dict) and found.get("score") is not None else None


def _y(value: float, top: float, height: int) -> str:
    return f"{height - height * min(value, top) / top:.1f}"


def ratio_chart(strip: list[dict[str, Any]]) -> dict[str, Any]:
    """Score drift and the worst feature per day, each over its threshold (1 = the threshold),
    as SVG polylines; days whose verdict rests on a drifted score or feature get a dot."""
    days = [(i, s["row"]) for i, s in enumerate(strip) if s["row"] is not None]
    scores = [(i, ratio(score_drift(r))) for i, r in days]
    worst = [(i, (worst_feature(r) or ("", None))[1]) for i, r in days]
    seen = [r for _, r in scores + worst if r is not None]
    top = float(max(2, math.ceil(max(seen, default=0.0))))
    height = RATIO_HEIGHT

    def line(points: list[tuple[int, float | None]]) -> str:
        return " ".join(f"{STEP * i + 2},{_y(r, top, height)}" for i, r in points if r is not None)

    dots = [
        {"x": STEP * i + 2, "y": _y(r, top, height), "day": row.report_date, "ratio": r}
        for (i, row), (_, r) in zip(days, scores, strict=True)
        if r is not None and r >= 1
    ]
    latest = next((score_drift(r) for _, r in reversed(days) if score_drift(r)), None)
    return {
        "width": STEP * len(strip),
        "height": height,
        "top": top,
        "score_points": line(scores),
        "feature_points": line(worst),
        "threshold_y": _y(1.0, top, height),
        "dots": dots,
        "score": latest,  # the method and threshold the caption names
        "has_score": any(r is not None for _, r in scores),
    }


def share_line(strip: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """The drifted share per day (0..1 in a box ``SHARE_HEIGHT`` px tall) and the dataset-drift
    share as a line."""
    height = SHARE_HEIGHT
    points = [
        f"{STEP * i + 2},{_y(s['row'].drifted_share, 1.0, height)}"
        for i, s in enumerate(strip)
        if s["row"] is not None
    ]
    return {
        "width": STEP * len(strip),
        "height": height,
        "points": " ".join(points),
        "threshold_y": _y(threshold, 1.0, height),
    }


def heatmap(rows: list[DriftReportRecord]) -> list[dict[str, Any]]:
    """Feature x day cells of the last ``HEATMAP_DAYS`` rows, the score's own drift on top."""
    heat_days = rows[-HEATMAP_DAYS:]
    names: dict[str, None] = {}
    for r in heat_days:
        names.update(dict.fromkeys(feature_entries(r)))
    lines = []
    if any(score_drift(r) for r in heat_days):
        cells = [_heat_cell(score_drift(r)) for r in heat_days]
        lines.append({"feature": "score (prediction)", "cells": cells, "score": True})
    for name in names:
        cells = [_heat_cell(r.feature_scores.get(name)) for r in heat_days]
        lines.append({"feature": name, "cells": cells, "score": False})
    return lines


def _heat_cell(score: dict[str, Any] | None) -> dict[str, Any]:
    r = ratio(score)
    if r is None:
        return {"level": -1, "title": "no score"}
    level = 0 if r < 0.5 else 1 if r < 1 else 2 if r < 2 else 3
    return {
        "level": level,
        "drifted": bool(score.get("drifted")),  # type: ignore[union-attr]
        "score": score.get("score"),  # type: ignore[union-attr]
        "threshold": score.get("threshold"),  # type: ignore[union-attr]
    }


def bar_width(value: Any, top: float, width: int = BAR_WIDTH) -> float:
    """The length in px of an inline bar for ``value`` in a table whose largest value is
    ``top`` (0 for a missing, negative or zero value, or an empty table)."""
    if not isinstance(value, int | float) or not top or math.isnan(value) or value <= 0:
        return 0.0
    return round(width * min(float(value), top) / top, 1)
