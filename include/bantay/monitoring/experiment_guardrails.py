"""An experiment's guardrails, each with a plain state, "holds" or "breached", shown beside
its decision: they do not decide it, they tell a person when to stop it early.

* Flagged volume: the learners each arm flagged per scored day, and the challenger's count at
  full rollout (its arm's count over its share) against the design's ``capacity``, the flagged
  learners a day staff can act on. Shown only when the design states a capacity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bantay.schema import TIMESTAMP
from bantay.serving.experiment import ARM, CHALLENGER, CONTROL, SERVED_SCORE, SERVED_VERSION

HOLDS, BREACHED = "holds", "breached"


@dataclass(frozen=True)
class Guardrail:
    """One guardrail: its ``state``, the sentence why, and its rows (one per day or group)."""

    name: str
    state: str
    detail: str
    rows: tuple[dict[str, Any], ...] = ()


def flagged(log: pd.DataFrame, thresholds: dict[str, float]) -> np.ndarray:
    """Whether staff saw each row flagged: its served score at or above the threshold of the
    version that served it (a version without one never flags)."""
    cut = np.array([thresholds.get(str(v), np.inf) for v in log[SERVED_VERSION]], dtype=float)
    return log[SERVED_SCORE].to_numpy(float) >= cut


def flagged_volume(
    log: pd.DataFrame, thresholds: dict[str, float], share: float, capacity: int | None
) -> Guardrail | None:
    """Per scored day the flagged learners of each arm; breached when the challenger's count at
    full rollout exceeds ``capacity`` on any day. None without a capacity or a scored day."""
    if capacity is None or log.empty:
        return None
    day = pd.to_datetime(log[TIMESTAMP], utc=True).dt.date.astype(str)
    frame = pd.DataFrame(
        {"date": day, "arm": log[ARM].to_numpy(), "flag": flagged(log, thresholds)}
    )
    counts = frame[frame["flag"]].groupby(["date", "arm"]).size().unstack(fill_value=0)
    counts = counts.reindex(index=sorted(set(day)), columns=[CONTROL, CHALLENGER], fill_value=0)
    rows = tuple(
        {
            "date": str(d),
            CONTROL: int(r[CONTROL]),
            CHALLENGER: int(r[CHALLENGER]),
            "challenger_at_full": round(int(r[CHALLENGER]) / share, 1),
        }
        for d, r in counts.iterrows()
    )
    peak = max(rows, key=lambda r: r["challenger_at_full"])
    over = peak["challenger_at_full"] > capacity
    detail = (
        f"at full rollout the challenger would flag up to {peak['challenger_at_full']:,.0f} "
        f"learners a day ({peak['date']}) against a capacity of {capacity:,}"
    )
    return Guardrail("flagged volume", BREACHED if over else HOLDS, detail, rows)
