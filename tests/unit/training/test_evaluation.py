"""Unit tests of bantay.training.evaluation: metrics on hand-checkable and seeded synthetic scores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bantay.training.evaluation import evaluate, evaluate_slices, grade_band, recall_gap


def test_evaluate_perfect_ranking():
    y = [0, 0, 0, 1, 1]
    m = evaluate(y, [0.1, 0.2, 0.3, 0.8, 0.9])
    assert m["roc_auc"] == 1.0 and m["pr_auc"] == 1.0
    assert m["recall_at_precision"] == 1.0 and m["threshold_at_precision"] == 0.8
    assert m["rows"] == 5 and m["positives"] == 2 and m["label_rate"] == pytest.approx(0.4)
    assert m["brier"] == pytest.approx(np.mean(np.square(np.array([0.1, 0.2, 0.3, 0.8, 0.9]) - y)))
    json.dumps(m)


def test_recall_at_precision_is_the_largest_recall_meeting_the_target():
    # Sorted by score: 1 1 0 1 0 0 1 -> at the top-2 cut precision is 1.0 (recall 0.5); at the
    # top-4 cut precision is 0.75 (recall 0.75); flagging everyone gives precision 4/7.
    y = [1, 1, 0, 1, 0, 0, 1]
    s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    assert evaluate(y, s, target_precision=0.75)["recall_at_precision"] == pytest.approx(0.75)
    assert evaluate(y, s, target_precision=0.5)["recall_at_precision"] == pytest.approx(1.0)
    assert evaluate(y, s, target_precision=0.9)["recall_at_precision"] == pytest.approx(0.5)


def test_recall_at_precision_is_zero_when_the_target_is_unreachable():
    m = evaluate([1, 0, 0, 0], [0.1, 0.9, 0.8, 0.7], target_precision=0.5)
    assert m["recall_at_precision"] == 0.0 and m["threshold_at_precision"] is None


def test_evaluate_with_a_class_absent_returns_none_instead_of_crashing():
    no_pos = evaluate([0, 0, 0], [0.1, 0.5, 0.2])
    assert no_pos["roc_auc"] is None and no_pos["pr_auc"] is None
    assert no_pos["recall_at_precision"] is None and no_pos["brier"] is not None
    no_neg = evaluate([1, 1], [0.4, 0.6])
    assert no_neg["roc_auc"] is None and no_neg["pr_auc"] is None
    assert no_neg["recall_at_precision"] == 1.0
    empty = evaluate([], [])
    assert empty["rows"] == 0 and empty["label_rate"] is None and empty["brier"] is None


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([0, 1], [0.2], "y_true has 2 rows but y_score has 1"),
        ([0, 1], [0.2, np.nan], "1 NaN or infinite scores"),
        ([0, 2], [0.2, 0.3], "0/1 labels"),
        ([0, np.nan], [0.2, 0.3], "1 missing labels"),
    ],
)
def test_evaluate_rejects_bad_inputs_with_a_clear_message(y, s, message):
    with pytest.raises(ValueError, match=message):
        evaluate(y, s)


def test_grade_band_buckets_grades():
    bands = grade_band(pd.Series([1, 4, 5, 8, 9, 12, 0, None]))
    assert bands.tolist() == ["1-4", "1-4", "5-8", "5-8", "9-12", "9-12", "missing", "missing"]


def _scored_frame(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "region": rng.choice(
                ["ncr", "luzon", "visayas", "mindanao"], n, p=[0.4, 0.3, 0.28, 0.02]
            ),
            "grade_level": rng.integers(1, 13, n),
            "parent_abroad": rng.binomial(1, 0.4, n),
            "at_risk": rng.binomial(1, 0.2, n),
        }
    )
    score = np.clip(0.3 * df["at_risk"] + rng.normal(0.35, 0.15, n), 0, 1).to_numpy()
    return df, score


def test_evaluate_slices_reports_each_value_and_skips_small_slices():
    df, score = _scored_frame()
    out = evaluate_slices(df, score, min_slice_rows=50)
    assert set(out) == {"region", "grade_band", "parent_abroad"}
    assert set(out["grade_band"]) == {"1-4", "5-8", "9-12"}
    assert set(out["parent_abroad"]) == {"0", "1"}
    small = out["region"]["mindanao"]
    assert small["skipped"] is True and small["rows"] < 50 and "roc_auc" not in small
    ncr = out["region"]["ncr"]
    assert ncr["skipped"] is False and ncr["rows"] == int((df["region"] == "ncr").sum())
    # One operating threshold for every group, so their recalls are comparable.
    thresholds = {m["threshold"] for d in out.values() for m in d.values() if not m["skipped"]}
    assert len(thresholds) == 1
    json.dumps(out)


def test_evaluate_slices_recall_is_measured_at_the_shared_threshold():
    df, score = _scored_frame()
    out = evaluate_slices(df, score, threshold=0.5)
    ncr = (df["region"] == "ncr").to_numpy()
    pos = ncr & (df["at_risk"] == 1).to_numpy()
    assert out["region"]["ncr"]["recall"] == pytest.approx((score[pos] >= 0.5).mean())


def test_evaluate_slices_names_a_missing_column():
    df, score = _scored_frame()
    with pytest.raises(KeyError, match="Slice 'region' uses column 'region'"):
        evaluate_slices(df.drop(columns=["region"]), score)


def test_evaluate_slices_accepts_custom_slices():
    df, score = _scored_frame()
    out = evaluate_slices(df, score, slices={"abroad": lambda d: d["parent_abroad"] == 1})
    # Booleans are labelled like 0/1 codes so a bool column and an int column slice alike.
    assert set(out) == {"abroad"} and set(out["abroad"]) == {"0", "1"}


def _m(recall: float, positives: int = 30, skipped: bool = False) -> dict:
    return {"recall": recall, "positives": positives, "skipped": skipped, "rows": 200}


def test_recall_gap_finds_the_largest_gap_within_a_dimension():
    metrics = {
        "region": {"ncr": _m(0.8), "luzon": _m(0.7), "visayas": _m(0.5)},
        "parent_abroad": {"0": _m(0.75), "1": _m(0.72)},
    }
    gap, worst, best = recall_gap(metrics)
    assert gap == pytest.approx(0.3)
    assert (worst, best) == ("region=visayas", "region=ncr")


def test_recall_gap_ignores_skipped_and_low_positive_groups():
    metrics = {
        "region": {
            "ncr": _m(0.8),
            "luzon": _m(0.7),
            "visayas": _m(0.1, positives=3),
            "mindanao": {"skipped": True, "rows": 10, "reason": "fewer than 50 rows"},
        }
    }
    gap, worst, best = recall_gap(metrics, min_positives=5)
    assert gap == pytest.approx(0.1) and worst == "region=luzon"
    assert recall_gap({"region": {"ncr": _m(0.8)}}) == (None, None, None)
