"""The flagged-volume guardrail: each arm's flags per scored day as staff saw them (the served
score against the serving version's own threshold), the challenger's at full rollout against
the staff's capacity; and the recall gap by slice per arm on matured outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bantay.monitoring.experiment_guardrails import (
    BREACHED,
    HOLDS,
    flagged_volume,
    recall_gap,
    slice_sources,
)
from bantay.settings.drift import FairnessConfig

THRESHOLDS = {"p1": 0.5, "s1": 0.8}


def _log() -> pd.DataFrame:
    day1, day2 = (
        pd.Timestamp("2026-11-02 23:00", tz="UTC"),
        pd.Timestamp("2026-11-03 23:00", tz="UTC"),
    )
    return pd.DataFrame(
        {
            "event_timestamp": [day1] * 4 + [day2] * 4,
            "arm": ["control", "control", "challenger", "challenger"] * 2,
            # day 1: both controls flagged at 0.5; one challenger at its own 0.8, not at 0.7
            "served_score": [0.6, 0.9, 0.85, 0.7, 0.1, 0.6, 0.95, 0.9],
            "served_version": ["p1", "p1", "s1", "s1"] * 2,
        }
    )


def test_counts_each_arms_flags_per_day_and_projects_the_challenger_to_full_rollout():
    guard = flagged_volume(_log(), THRESHOLDS, share=0.25, capacity=10)
    assert guard.state == HOLDS
    assert guard.rows == (
        {"date": "2026-11-02", "control": 2, "challenger": 1, "challenger_at_full": 4.0},
        {"date": "2026-11-03", "control": 1, "challenger": 2, "challenger_at_full": 8.0},
    )
    assert "up to 8 learners a day (2026-11-03) against a capacity of 10" in guard.detail


def test_breached_when_the_challenger_at_full_rollout_exceeds_capacity():
    assert flagged_volume(_log(), THRESHOLDS, share=0.25, capacity=7).state == BREACHED


def test_not_shown_without_a_capacity_or_a_scored_day():
    assert flagged_volume(_log(), THRESHOLDS, share=0.25, capacity=None) is None
    assert flagged_volume(_log().iloc[:0], THRESHOLDS, share=0.25, capacity=5) is None


def _observations(challenger_south_recall: float) -> pd.DataFrame:
    """400 adverse outcomes per arm and region; the control's flags catch 80% everywhere."""
    rng = np.random.default_rng(2)
    parts = []
    for arm, recalls in (
        ("control", {"north": 0.8, "south": 0.8}),
        ("challenger", {"north": 0.8, "south": challenger_south_recall}),
    ):
        for region, recall in recalls.items():
            parts.append(
                pd.DataFrame(
                    {
                        "unit": [f"{arm}{region}{i}" for i in range(400)],
                        "arm": arm,
                        "outcome": 1,
                        "flagged": rng.random(400) < recall,
                        "region": region,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def test_recall_gap_by_slice_per_arm_breaches_on_a_challenger_group_beyond_the_gap():
    cfg = FairnessConfig(min_slice_rows=50)
    guard = recall_gap(_observations(0.3), ["region"], cfg, allowed_gap=0.25)
    assert guard.state == BREACHED and "region=south" in guard.detail
    south = {r["arm"]: r for r in guard.rows if r["group"] == "south"}
    assert south["challenger"]["beyond"] and not south["control"]["beyond"]
    assert south["challenger"]["recall"] == pytest.approx(0.3, abs=0.06)
    fine = recall_gap(_observations(0.75), ["region"], cfg, allowed_gap=0.25)
    assert fine.state == HOLDS and len(fine.rows) == 4
    assert recall_gap(_observations(0.3), ["school"], cfg, allowed_gap=0.25) is None


def test_slice_sources_name_the_log_columns_slices_come_from():
    assert slice_sources(["region", "grade_band"]) == ("region", "grade_level")
