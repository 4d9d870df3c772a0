"""The frames a drift check compares, made comparable: bounded samples, late labels joined, the
newest day's observed learners, the monitored columns coerced (numbers as floats, categories as
plain objects), and the reference rows of the judged day's kind.

Evidently holds everything in memory, so every frame it sees is a bounded, seeded sample.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from bantay.serving.batch_features import OBSERVED
from bantay.settings.drift import DriftConfig

log = logging.getLogger(__name__)


def sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Bounded, deterministic row sample: Evidently holds everything in memory."""
    if n <= 0:
        raise ValueError(f"sample size must be positive, got {n}")
    if len(df) <= n:
        log.info("drift sample: using all %d rows (cap %d)", len(df), n)
        return df
    out = df.sample(n=n, random_state=seed).sort_index()
    log.info("drift sample: %d of %d rows (cap %d, seed %d)", n, len(df), n, seed)
    return out


def attach_labels(
    current: pd.DataFrame, labels: pd.Series | pd.DataFrame, cfg: DriftConfig
) -> pd.DataFrame:
    """Join late-arriving labels onto the current window before sampling."""
    target = cfg.target
    if isinstance(labels, pd.Series):
        if not labels.index.equals(current.index):
            raise ValueError(
                "labels_current is a Series whose index differs from the current frame's; "
                "pass a Series aligned with current, or a DataFrame with the join keys "
                f"{cfg.label_join_keys} and {target!r}"
            )
        return current.assign(**{target: labels.to_numpy()})
    keys = [k for k in cfg.label_join_keys if k in labels.columns and k in current.columns]
    if target not in labels.columns or not keys:
        raise ValueError(
            f"labels_current needs column {target!r} and join keys {cfg.label_join_keys} present "
            f"in both frames; it has {list(labels.columns)}"
        )
    right = labels[[*keys, target]].drop_duplicates(subset=keys, keep="last")
    left = current.drop(columns=[target], errors="ignore")
    return left.merge(right, on=keys, how="left", validate="many_to_one").set_axis(
        current.index, axis=0
    )


def observed_only(day_rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The rows of learners observed on their day, and how many were left out.

    Logs written before the ``observed`` column existed, and rows where it is empty, are kept:
    they are judged as they always were.
    """
    if OBSERVED not in day_rows.columns:
        return day_rows, 0
    keep = day_rows[OBSERVED].astype("boolean").fillna(True).to_numpy(dtype=bool)
    return day_rows[keep], int((~keep).sum())


def prepare(df: pd.DataFrame, cfg: DriftConfig, extra: Iterable[str]) -> pd.DataFrame:
    """The monitored columns (ids only as join keys, never into a report), numerics coerced to
    float, strings for categories."""
    cols = [c for c in dict.fromkeys([*cfg.features, *extra]) if c in df.columns]
    out = df.loc[:, cols].copy()
    for c in cols:
        if c in cfg.label_join_keys:
            continue
        if c in cfg.categorical_columns:
            out[c] = categorical_values(out[c])
        else:
            values = pd.to_numeric(out[c], errors="coerce").astype(float)
            out[c] = values.replace([np.inf, -np.inf], np.nan)  # inf is a broken value too
    return out


def categorical_values(s: pd.Series) -> pd.Series:
    """Categories as plain objects; 1.0 and 1 (int column read with nulls) are one category."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.dropna()
        if (v == v.round()).all():
            s = s.astype("Int64")
    return s.astype(object).where(s.notna(), None)


def days_of(frame: pd.DataFrame, ts: str) -> pd.Series | None:
    """The day of each row's ``ts`` (UTC) as a ``datetime.date`` (NaT where missing); None when
    the frame has no such column. Each distinct day is converted once: a window holds millions
    of rows and a handful of days."""
    if ts not in frame.columns:
        return None
    codes, days = pd.factorize(pd.to_datetime(frame[ts], utc=True).dt.floor("D"))
    dates = np.array([d.date() for d in days] + [pd.NaT], dtype=object)
    return pd.Series(dates[codes], index=frame.index, dtype=object)


def on_day(frame: pd.DataFrame, ts: str, day: dt.date) -> np.ndarray:
    """Which rows' ``ts`` falls on ``day`` (UTC), compared as instants (no per-row dates)."""
    start = pd.Timestamp(day, tz="UTC")
    stamps = pd.to_datetime(frame[ts], utc=True)
    return ((stamps >= start) & (stamps < start + pd.Timedelta(days=1))).to_numpy()


def reference_for(ref: pd.DataFrame, day: dt.date | None, cfg: DriftConfig) -> pd.DataFrame:
    """Reference rows of the same weekday as ``day`` when there are enough, else of the same
    kind of day (school day or weekend), else all of it.

    A reference shorter than a week (a version that answered a drift days after it began)
    lacks some weekdays; comparing a Wednesday with a mix that holds a Sunday would call the
    weekend's lower attendance drift."""
    days = days_of(ref, cfg.label_join_keys[-1])
    if not cfg.same_weekday or day is None or days is None:
        return ref
    weekdays = days.map(lambda d: d.weekday())
    same = ref[weekdays == day.weekday()]
    if len(same) >= cfg.min_rows:
        return same
    kind = ref[(weekdays >= 5) == (day.weekday() >= 5)]
    return kind if len(kind) >= cfg.min_rows else ref
