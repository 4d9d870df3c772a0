"""The digest of a training set that does not depend on how it was stored: the canonical frame
(columns by name, rows by event time then learner, every value written out in full) hashed as a
whole and day by day, so a reproduction can say whether its data is the data a version was
fitted on, and if not, on which days it differs."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from bantay.schema import ENTITY, TIMESTAMP


def canonical_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its columns in name order and its rows by (event time, learner) and then
    by every other column, so equal data gives one frame whatever order it arrived in."""
    columns = sorted(frame.columns)
    keys = [TIMESTAMP, ENTITY] + [c for c in columns if c not in (TIMESTAMP, ENTITY)]
    ordered = frame[columns].sort_values(keys, kind="stable", na_position="last")
    return ordered.reset_index(drop=True)


def frame_digest(frame: pd.DataFrame) -> str:
    """sha256 of a canonical frame's text: the column names and dtypes, then the rows as CSV
    with floats to 17 significant digits (exact) and times in ISO form."""
    header = ",".join(f"{c}:{t}" for c, t in frame.dtypes.items())
    body = frame.to_csv(index=False, header=False, float_format="%.17g", lineterminator="\n")
    return hashlib.sha256(f"{header}\n{body}".encode()).hexdigest()


def training_set_digest(frame: pd.DataFrame) -> dict[str, Any]:
    """The training set's fingerprint: sha256 of the canonical frame, its rows, and a short
    sha256 per event day (what a reproduction names when the data changed)."""
    canonical = canonical_frame(frame)
    days = pd.to_datetime(canonical[TIMESTAMP], utc=True).dt.date
    return {
        "sha256": frame_digest(canonical),
        "rows": len(canonical),
        "days": {
            day.isoformat(): frame_digest(part.reset_index(drop=True))[:16]
            for day, part in canonical.groupby(days, sort=True)
        },
    }


def changed_days(recorded: dict[str, str], rebuilt: dict[str, str]) -> list[str]:
    """The days whose rows differ between two per-day digests (present in either, not equal)."""
    return sorted(d for d in set(recorded) | set(rebuilt) if recorded.get(d) != rebuilt.get(d))
