"""A day's fairness as the drift check records it, hand-built with known flags: per region, one
group flagged at four-fifths or more of the most-flagged, one below; on matured labels one group
at the best recall, one regressed (its gap beyond the allowed gap even at the one-sided lower
bound), one behind the best-less-gap line whose lower bound is within the allowed gap (so not
regressed), and one too small to judge; a second slice (``parent_abroad``) whose groups all pass.
"""

from __future__ import annotations

import dataclasses

from bantay.monitoring.fairness_results import (
    AttributionCheck,
    FairnessCheck,
    FeatureLean,
    SliceRate,
    SliceRecall,
)

RATES = (
    SliceRate("region", "ncr", 900, 0.20, 1.0, False),
    SliceRate("region", "luzon", 800, 0.12, 0.6, False),
    SliceRate("region", "visayas", 700, 0.17, 0.85, False),
    SliceRate("region", "mindanao", 12, 0.40, None, True),
    SliceRate("parent_abroad", "yes", 1200, 0.15, 1.0, False),
    SliceRate("parent_abroad", "no", 1200, 0.14, 14 / 15, False),
)
RECALLS = (
    SliceRecall("region", "ncr", 900, 120, 0.81, 0.74, 0.88, 0.0, 0.0, 0.05, False),
    SliceRecall("region", "luzon", 800, 110, 0.38, 0.29, 0.47, 0.43, 0.31, 0.55, False),
    # Behind the line at 0.81 - 0.25, yet the gap's lower bound (0.20) is within the allowed gap.
    SliceRecall("region", "visayas", 120, 15, 0.52, 0.30, 0.74, 0.29, 0.20, 0.50, False),
    SliceRecall("region", "mindanao", 12, 2, None, None, None, None, None, None, True),
    SliceRecall("parent_abroad", "yes", 1200, 150, 0.70, 0.63, 0.77, 0.0, 0.0, 0.06, False),
    SliceRecall("parent_abroad", "no", 1200, 140, 0.66, 0.58, 0.74, 0.04, -0.03, 0.11, False),
)
FAIRNESS = FairnessCheck(
    threshold=0.42,
    min_flag_ratio=0.8,
    allowed_gap=0.25,
    rates=RATES,
    recalls=RECALLS,
    labelled_days=("2026-11-10", "2026-11-11"),
    version="v4",
)
ATTRIBUTION = AttributionCheck(
    ndcg=0.82,
    min_ndcg=0.9,
    large_change=0.5,
    rows=1700,
    features=(
        FeatureLean("attendance_rate", 0.9, 0.5, 0.5 / 0.9 - 1),
        FeatureLean("late_submissions", 0.1, 0.4, 3.0),
    ),
    top_reason_changed=0.25,
    flagged_compared=200,
)


def unlabelled(check: FairnessCheck = FAIRNESS) -> FairnessCheck:
    """The same day before any label matured: flag rates only."""
    return dataclasses.replace(check, recalls=(), labelled_days=())
