"""Temporal split: train, validation and test by time, so no learner's future is in its past."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bantay.settings.search_space import is_finite_number
from bantay.training.pipeline import LABEL, TIME, TrainingDataError, require_columns


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
    require_columns(df, [time_col, label_col], "temporal_split")
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
        or not all(is_finite_number(f) and f > 0 for f in fractions)
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
