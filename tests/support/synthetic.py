"""Seeded synthetic learner frames for unit tests of training, evaluation and the gate.

Not the project's simulator (``bantay.simulate``): a small numpy generator with the
same columns and a known label signal, so tests know what a good model can reach.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bantay.simulate.catalogue import CATEGORICAL, NUMERICAL, REGIONS
from bantay.training.pipeline import FeatureSet

FEATURES = FeatureSet(NUMERICAL, CATEGORICAL)


def make_learner_frame(
    n: int,
    seed: int,
    signal: bool = True,
    *,
    start: str = "2025-01-06",
    days: int = 120,
    null_rate: float = 0.02,
) -> pd.DataFrame:
    """``n`` labelled rows over ``days`` daily label times, ~15 % at_risk.

    With ``signal`` the label follows a logistic model of attendance, completion, quiz scores,
    late work and family contact; without it the label is independent noise at the same rate.
    """
    rng = np.random.default_rng(seed)
    # About three label times per learner, as when a learner is labelled every few weeks.
    learners = rng.choice(np.arange(10_000_000, 99_999_999), size=max(1, n // 3), replace=False)
    parent_abroad = rng.binomial(1, 0.4, n)
    frame = pd.DataFrame(
        {
            "learner_id": rng.choice(learners, size=n),
            "event_timestamp": pd.Timestamp(start, tz="UTC")
            + pd.to_timedelta(rng.integers(0, days, n), unit="D"),
            "attendance_rate": rng.beta(8, 2, n),
            "assignment_completion": rng.beta(6, 2, n),
            "quiz_score_avg": np.clip(rng.normal(75, 12, n), 0, 100),
            "study_minutes": np.clip(rng.gamma(3, 40, n), 0, 600),
            "late_submissions": rng.poisson(1.5, n).astype("int64"),
            "calls_with_parent": rng.poisson(np.where(parent_abroad == 1, 3, 1)).astype("int64"),
            "messages_with_parent": rng.poisson(8, n).astype("int64"),
            "days_since_last_contact": np.clip(rng.geometric(0.1, n) - 1, 0, 365).astype("int64"),
            "support_on_time_ratio": rng.beta(5, 2, n),
            "grade_level": rng.integers(1, 13, n).astype("int64"),
            "region": rng.choice(REGIONS, n, p=[0.3, 0.3, 0.2, 0.2]),
            "parent_abroad": parent_abroad.astype("int64"),
        }
    )
    for col in ("quiz_score_avg", "study_minutes"):
        frame.loc[rng.random(n) < null_rate, col] = np.nan
    if signal:
        logit = (
            -2.3
            - 9.0 * (frame["attendance_rate"] - 0.8)
            - 6.0 * (frame["assignment_completion"] - 0.75)
            - 0.05 * (frame["quiz_score_avg"].fillna(75) - 75)
            + 0.35 * (frame["late_submissions"] - 1.5)
            + 0.04 * (frame["days_since_last_contact"] - 9)
            - 2.0 * (frame["support_on_time_ratio"] - 0.7)
        )
        prob = 1.0 / (1.0 + np.exp(-logit))
    else:
        prob = np.full(n, 0.15)
    frame["at_risk"] = rng.binomial(1, prob).astype("int64")
    return frame
