"""Attribution drift: NDCG of the window's importance ranking against the version's own, the
shift of attribution shares over all scored and among the flagged learners against the drift
reference, per-feature change, and the share of flagged learners whose top reason changed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bantay.monitoring.attribution import attribution_drift, ranking_ndcg, top_reason_changed
from bantay.monitoring.fairness_results import AttributionCheck
from bantay.settings.drift import FairnessConfig

REFERENCE = {"attendance_rate": 0.9, "quiz_score_avg": 0.5, "study_minutes": 0.2, "region": 0.05}
MANIFEST = {"explanation": {"global": {"mean_abs_attribution": REFERENCE}}}
FLAGGED = {"attendance_rate": 1.5, "quiz_score_avg": 0.6, "study_minutes": 0.2, "region": 0.05}
EXPLAINED = {
    "explanation": {
        "global": {"mean_abs_attribution": {k: 2 * v for k, v in REFERENCE.items()}},
        "reference": {
            "rows": 20_000,
            "flagged_rows": 4_000,  # a fifth flagged, as in _window
            "mean_abs_attribution": REFERENCE,
            "flagged_mean_abs_attribution": FLAGGED,
        },
    }
}
CUT = 0.8


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
    day = _day(REFERENCE)
    check = attribution_drift(day, day, day, MANIFEST, 0.5, FairnessConfig())
    assert check is not None and not check.drifted
    assert all(abs(f.change) < 1e-9 for f in check.features)
    assert check.leaning_more == [] and check.leaning_less == []


def test_shifted_importance_alarms_and_names_the_feature() -> None:
    today = _day({**REFERENCE, "region": 1.2, "attendance_rate": 0.3})
    check = attribution_drift(today, today, today.iloc[:0], MANIFEST, 0.5, FairnessConfig())
    assert check.drifted and check.ndcg < 0.9
    assert [f.feature for f in check.leaning_more] == ["region"]
    assert check.leaning_more[0].change == pytest.approx(1.2 / 0.05 - 1)
    assert [f.feature for f in check.leaning_less] == ["attendance_rate"]
    assert AttributionCheck.from_data(check.as_data()) == check


def test_no_explanation_or_no_attributions_is_no_check() -> None:
    day = _day(REFERENCE)
    assert attribution_drift(day, day, day, {}, 0.5, FairnessConfig()) is None
    plain = _day({})
    assert attribution_drift(plain, plain, plain, MANIFEST, 0.5, FairnessConfig()) is None


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


def _window(population: dict[str, float], flagged: dict[str, float], rows: int = 4000):
    """A window whose flagged rows (score >= CUT, a fifth of them) and the rest have the given
    mean |attribution| per feature, so the population's is their mix."""
    top = _day(flagged, rows // 5, seed=1).assign(score=0.9)
    rest = {k: (5 * population[k] - flagged[k]) / 4 for k in population}
    return pd.concat(
        [top, _day(rest, rows - rows // 5, seed=2).assign(score=0.1)], ignore_index=True
    )


def test_the_window_is_judged_against_the_drift_reference_and_a_steady_one_is_calm() -> None:
    window = _window(REFERENCE, FLAGGED)
    check = attribution_drift(window, window, window.iloc[:0], EXPLAINED, CUT, FairnessConfig())
    assert check.basis == "drift reference" and check.rows == 4000 and check.flagged_rows == 800
    assert check.shift == pytest.approx(0, abs=1e-9)
    assert check.flagged_shift == pytest.approx(0, abs=1e-9)
    assert not check.drifted and check.leaning_more == []


def test_flags_resting_on_other_features_alarm_while_the_population_does_not_move() -> None:
    # The flagged learners lean less on attendance and more on quizzes; over all learners the
    # attribution is unchanged (a feature that stopped tracking its learner, for an additive
    # model): the NDCG and the population's shift stay calm, the flagged share shift alarms.
    moved = {**FLAGGED, "attendance_rate": 1.2, "quiz_score_avg": 0.9}
    window = _window(REFERENCE, moved)
    check = attribution_drift(window, window, window.iloc[:0], EXPLAINED, CUT, FairnessConfig())
    assert check.ndcg == pytest.approx(1.0) and check.shift == pytest.approx(0, abs=1e-9)
    assert check.flagged_shift == pytest.approx(0.3 / 2.35, rel=1e-6)
    assert check.drifted
    assert [f.feature for f in check.leaning_more] == ["quiz_score_avg"]
    assert [f.feature for f in check.leaning_less] == ["attendance_rate"]
    assert AttributionCheck.from_data(check.as_data()) == check


def test_a_small_move_or_too_few_flagged_rows_do_not_alarm() -> None:
    slight = {**FLAGGED, "attendance_rate": 1.47, "quiz_score_avg": 0.63}
    window = _window(REFERENCE, slight)
    check = attribution_drift(window, window, window.iloc[:0], EXPLAINED, CUT, FairnessConfig())
    assert 0 < check.flagged_shift < 0.02 and not check.drifted
    moved = {**FLAGGED, "attendance_rate": 1.2, "quiz_score_avg": 0.9}
    few = _window(REFERENCE, moved, rows=1000)  # 200 flagged: under min_attribution_rows
    check = attribution_drift(few, few, few.iloc[:0], EXPLAINED, CUT, FairnessConfig())
    assert check.flagged_shift is None and check.shift is not None and not check.drifted


def test_against_the_test_rows_an_older_version_is_reported_never_alarmed() -> None:
    window = _window({k: 2 * v for k, v in REFERENCE.items()}, FLAGGED)
    moved = window.assign(attr_region=window["attr_region"] * 3)
    check = attribution_drift(moved, moved, moved.iloc[:0], MANIFEST, CUT, FairnessConfig())
    assert check.basis == "test rows" and check.flagged_shift is None
    assert check.shift is not None and check.shift > 0.02
    assert not check.drifted  # the NDCG alone could alarm; the ranking holds here
    assert check.ndcg >= 0.9


def test_a_flag_rate_that_rises_alone_compares_the_same_share_of_highest_scores() -> None:
    # Twice as many learners now score above the cut, the extra ones leaning as the population
    # does; the highest-scored fifth is still the reference's flagged fifth: calm. Cut by the
    # threshold instead (no flagged share recorded), the flagged profile would have moved.
    window = _window(REFERENCE, FLAGGED)
    rest = window[window["score"] < CUT]
    window.loc[rest.index[: len(rest) // 4], "score"] = 0.85
    check = attribution_drift(window, window, window.iloc[:0], EXPLAINED, CUT, FairnessConfig())
    assert check.flagged_rows == 800 and check.flagged_shift == pytest.approx(0, abs=1e-9)
    assert not check.drifted
    unknown = {
        "explanation": {
            **EXPLAINED["explanation"],
            "reference": {
                k: v
                for k, v in EXPLAINED["explanation"]["reference"].items()
                if k not in ("rows", "flagged_rows")
            },
        }
    }
    check = attribution_drift(window, window, window.iloc[:0], unknown, CUT, FairnessConfig())
    assert check.flagged_rows == 1600 and check.flagged_shift > 0.02


def test_a_reason_whose_value_moved_is_the_same_reason() -> None:
    """Reasons as scoring writes them: the learner's value and the day's median change every
    day; only a reason about something else counts as changed."""
    yesterday = pd.DataFrame(
        {
            "learner_id": [1, 2, 3, 4],
            "reason_1": [
                "Attendance: attendance 62% (most learners: 88%)",
                "Engagement: study time 35 min (most learners: 90 min)",
                "Coursework: late submissions 4 (most learners: 1)",
                "Family contact: days since last contact missing (most learners: 3)",
            ],
        }
    )
    today = pd.DataFrame(
        {
            "learner_id": [1, 2, 3, 4],
            "score": [0.9, 0.9, 0.9, 0.9],
            "reason_1": [
                "Attendance: attendance 58% (most learners: 87%)",  # same, value moved
                "Engagement: study time 20 min (most learners: 91 min)",  # same
                "Attendance: attendance 70% (most learners: 87%)",  # about something else
                "Family contact: days since last contact 12 (most learners: 3)",  # same
            ],
        }
    )
    share, compared = top_reason_changed(today, yesterday, 0.5)
    assert (share, compared) == (pytest.approx(1 / 4), 4)
