"""Small inline PNG charts for the drift e-mail: reference against current for the top features."""

from __future__ import annotations

import io
import logging

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bantay.monitoring.results import DriftResult
from bantay.notify.fmt import num

log = logging.getLogger(__name__)


CHART_SIZE_PX = (480, 160)
_CHART_DPI = 100
_MAX_BARS = 15  # integer columns with at most this many values are drawn as bars
_GREY, _ORANGE = "#9e9e9e", "#d9480f"


def chart_png(
    column: str, kind: str, reference: pd.Series, current: pd.Series, title: str
) -> bytes:
    """A small reference-vs-current histogram (numerical) or share bar chart (categorical)."""
    fig = Figure(figsize=(CHART_SIZE_PX[0] / _CHART_DPI, CHART_SIZE_PX[1] / _CHART_DPI))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ref_n = pd.to_numeric(reference, errors="coerce").dropna()
    cur_n = pd.to_numeric(current, errors="coerce").dropna()
    both = pd.concat([ref_n, cur_n])
    discrete = kind == "categorical" or (
        both.nunique() <= _MAX_BARS and bool((both == both.round()).all())
    )
    if discrete:
        if kind == "categorical":
            ref_s = reference.dropna().astype(str).value_counts(normalize=True)
            cur_s = current.dropna().astype(str).value_counts(normalize=True)
        else:
            ref_s = ref_n.value_counts(normalize=True)
            cur_s = cur_n.value_counts(normalize=True)
        cats = sorted(set(ref_s.index) | set(cur_s.index))[:_MAX_BARS]
        x = np.arange(len(cats))
        ax.bar(x - 0.2, [ref_s.get(c, 0.0) for c in cats], 0.4, label="reference", color=_GREY)
        ax.bar(x + 0.2, [cur_s.get(c, 0.0) for c in cats], 0.4, label="current", color=_ORANGE)
        labels = [f"{c:g}" if isinstance(c, float) else str(c)[:12] for c in cats]
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_ylabel("share", fontsize=7)
    elif len(both):
        lo, hi = np.quantile(both.to_numpy(dtype=float), [0.005, 0.995])
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 31)
        for values, label, color in ((ref_n, "reference", _GREY), (cur_n, "current", _ORANGE)):
            if len(values):
                ax.hist(
                    values.clip(lo, hi).to_numpy(dtype=float),
                    bins=bins,
                    density=True,
                    histtype="step",
                    linewidth=1.5,
                    label=label,
                    color=color,
                )
        ax.set_yticks([])
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=8, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    fig.tight_layout(pad=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_CHART_DPI)
    return buf.getvalue()


def chart_title(result: DriftResult, column: str) -> str:
    """The column, its drift score against its threshold, and its data-quality issues."""
    feature = next((f for f in result.features if f.column == column), None)
    issues = [f.issue.replace("_", " ") for f in result.data_quality if f.column == column]
    parts = [column]
    if feature is not None and feature.score is not None:
        parts.append(f"{feature.method} {num(feature.score)} (threshold {num(feature.threshold)})")
    if issues:
        parts.append(", ".join(dict.fromkeys(issues)))
    return " | ".join(parts)
