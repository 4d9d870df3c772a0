"""An experiment's guardrails, each with a plain state, "holds" or "breached", shown beside
its decision: they do not decide it, they tell a person when to stop it early.

* Flagged volume: the learners each arm flagged per scored day, and the challenger's count at
  full rollout (its arm's count over its share) against the design's ``capacity``, the flagged
  learners a day staff can act on. Shown only when the design states a capacity.
* Recall gap by slice, per arm, on matured outcomes: of the adverse outcomes in each slice
  group, the share the arm's served flags caught, and its gap to the best group of its slice
  (the daily fairness check's statistic and interval). Breached when a group of the
  challenger's arm lies beyond the allowed gap even at its one-sided lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bantay.monitoring.experiment import ARM_COL, FLAGGED, OUTCOME
from bantay.monitoring.fairness import recall_gaps
from bantay.schema import TIMESTAMP
from bantay.serving.experiment import ARM, CHALLENGER, CONTROL, SERVED_SCORE, SERVED_VERSION
from bantay.settings.drift import FairnessConfig
from bantay.training.evaluation import DERIVED_SLICES

# The log column a derived slice is computed from.
_SOURCES = {"grade_band": "grade_level"}

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


def slice_sources(slices: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The prediction-log columns ``slices`` are computed from."""
    return tuple(dict.fromkeys(_SOURCES.get(s, s) if s in DERIVED_SLICES else s for s in slices))


def recall_gap(
    observations: pd.DataFrame,
    slices: list[str] | tuple[str, ...],
    cfg: FairnessConfig,
    allowed_gap: float,
) -> Guardrail | None:
    """Each arm's recall by slice group on matured outcomes and the gap to its slice's best
    group; breached when a challenger group's gap lies beyond the allowed gap even at its
    one-sided lower bound.
    None when no slice column reached the outcomes."""
    allowed = cfg.max_recall_gap if cfg.max_recall_gap is not None else allowed_gap
    rows: list[dict[str, Any]] = []
    for arm in (CONTROL, CHALLENGER):
        part = observations[observations[ARM_COL] == arm]
        part = part.assign(_flag=part[FLAGGED].astype(float))
        for r in recall_gaps(part, slices, 0.5, cfg, target=OUTCOME, score="_flag"):
            beyond = not r.too_small and r.gap_low is not None and r.gap_low > allowed
            rows.append(
                {
                    "arm": arm,
                    "slice": r.slice,
                    "group": r.group,
                    "positives": r.positives,
                    "recall": r.recall,
                    "gap": r.gap,
                    "gap_low": r.gap_low,
                    "beyond": beyond,
                }
            )
    if not rows:
        return None
    worst = [r for r in rows if r["arm"] == CHALLENGER and r["beyond"]]
    if worst:
        names = ", ".join(f"{r['slice']}={r['group']} ({r['gap']:.2f})" for r in worst)
        detail = f"in the challenger's arm {names} fall beyond the allowed gap {allowed:.2f}"
    else:
        detail = f"no group of the challenger's arm falls beyond the allowed gap {allowed:.2f}"
    return Guardrail("recall gap by slice", BREACHED if worst else HOLDS, detail, tuple(rows))
