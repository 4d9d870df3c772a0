"""Attribution drift: NDCG of today's importance ranking against the version's explanation,
per-feature change, and the share of flagged learners whose top reason changed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bantay.monitoring.attribution import attribution_drift, ranking_ndcg, top_reason_changed
from bantay.monitoring.fairness_results import AttributionCheck
from bantay.settings.drift import FairnessConfig

REFERENCE = {"attendance_rate": 0.9, "quiz_score_avg": 0.5, "study_minutes": 0.2, "region": 0.05}
MANIFEST = {"explanation": {"global": {"mean_abs_attribution": REFERENCE}}}


def _day(importance: dict[str, float], rows: int = 500, seed: int = 0) -> pd.DataFrame:
    """Rows whose attributions have the given mean |value| per feature (random signs)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"learner_id": np.arange(rows), "score": rng.random(rows)})
    for feature, level in importance.items():
        frame[f"attr_{feature}"] = level * rng.choice([-1.0, 1.0], rows)
    return frame


def test_same_ranking_is_ndcg_one_and_a_swap_of_the_top_is_lower() -> None:
    assert ranking_ndcg(REFERENCE, {k: v * 2 for k, v in REFERENCE.items()}) == pytest.approx(1.0)
    swapped = {**REFERENCE, "attendance_rate": 0.1, "region": 1.0}
    assert ranking_ndcg(REFERENCE, swapped) < 0.9
    minor = {**REFERENCE, "study_minutes": 0.04, "region": 0.06}
    assert 0.9 < ranking_ndcg(REFERENCE, minor) < 1.0


def test_unchanged_day_is_not_drifted() -> None:
    check = attribution_drift(_day(REFERENCE), _day(REFERENCE), MANIFEST, 0.5, FairnessConfig())
    assert check is not None and not check.drifted
    assert all(abs(f.change) < 1e-9 for f in check.features)
    assert check.leaning_more == [] and check.leaning_less == []


def test_shifted_importance_alarms_and_names_the_feature() -> None:
    today = _day({**REFERENCE, "region": 1.2, "attendance_rate": 0.3})
    check = attribution_drift(today, today.iloc[:0], MANIFEST, 0.5, FairnessConfig())
    assert check.drifted and check.ndcg < 0.9
    assert [f.feature for f in check.leaning_more] == ["region"]
    assert check.leaning_more[0].change == pytest.approx(1.2 / 0.05 - 1)
    assert [f.feature for f in check.leaning_less] == ["attendance_rate"]
    assert AttributionCheck.from_data(check.as_data()) == check


def test_no_explanation_or_no_attributions_is_no_check() -> None:
    assert attribution_drift(_day(REFERENCE), _day(REFERENCE), {}, 0.5, FairnessConfig()) is None
    plain = _day({})
    assert attribution_drift(plain, plain, MANIFEST, 0.5, FairnessConfig()) is None


def test_top_reason_change_counts_flagged_learners_seen_both_days() -> None:
    yesterday = pd.DataFrame({"learner_id": [1, 2, 3, 4], "reason_1": ["A", "B", "C", None]})
    today = pd.DataFrame(
        {
            "learner_id": [1, 2, 3, 4, 5],
            "score": [0.9, 0.9, 0.1, 0.9, 0.9],  # 3 not flagged; 5 not scored yesterday
            "reason_1": ["A", "X", "Y", None, "B"],
        }
    )
    share, compared = top_reason_changed(today, yesterday, 0.5)
    assert (share, compared) == (pytest.approx(1 / 3), 3)
    assert top_reason_changed(today, yesterday.iloc[:0], 0.5) == (None, 0)
    assert top_reason_changed(today.drop(columns="reason_1"), yesterday, 0.5) == (None, 0)
