"""Fairness per slice: flag rates (four-fifths), recall gaps with intervals, too-small groups."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bantay.monitoring.fairness import decision_threshold, flag_rates, judge_fairness
from bantay.monitoring.fairness_results import FairnessCheck
from bantay.settings.drift import FairnessConfig
from bantay.training.evaluation import MISSING

CFG = FairnessConfig(min_slice_rows=50, min_slice_positives=20, n_boot=300)


def _scored(rates: dict[str, float], rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Rows per region with the given share scored above 0.5."""
    rng = np.random.default_rng(seed)
    parts = []
    for region, rate in rates.items():
        flagged = rng.random(rows) < rate
        parts.append(
            pd.DataFrame(
                {
                    "region": region,
                    "grade_level": rng.integers(1, 13, rows),
                    "score": np.where(flagged, 0.9, 0.1),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _labelled(recalls: dict[str, float], positives: int = 200, seed: int = 0) -> pd.DataFrame:
    """Per region ``positives`` positive learners caught at the given recall, and as many
    negatives never flagged, spread over ten labelled days."""
    rng = np.random.default_rng(seed)
    parts = []
    for region, recall in recalls.items():
        caught = rng.random(positives) < recall
        parts.append(
            pd.DataFrame(
                {
                    "region": region,
                    "at_risk": np.r_[np.ones(positives), np.zeros(positives)].astype(int),
                    "score": np.r_[np.where(caught, 0.8, 0.2), np.full(positives, 0.1)],
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    days = pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(np.arange(len(frame)) % 10, "D")
    return frame.assign(event_timestamp=days)


def test_flag_rate_ratio_is_against_the_most_flagged_group() -> None:
    rates = flag_rates(_scored({"north": 0.4, "south": 0.2}), ["region"], 0.5, CFG, "score")
    by = {r.group: r for r in rates}
    assert by["north"].ratio == pytest.approx(1.0)
    assert by["south"].ratio == pytest.approx(by["south"].flag_rate / by["north"].flag_rate)
    assert 0.35 < by["south"].ratio < 0.65


def test_flag_rates_are_fairlearns_per_group_rates_and_counts() -> None:
    """The grouped mean gives MetricFrame's groups, rates and counts, missing values a group."""
    from fairlearn.metrics import MetricFrame, count, selection_rate

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "region": rng.choice(["north", "south", "east", None], 5_000, p=[0.5, 0.3, 0.19, 0.01]),
            "score": rng.random(5_000),
        }
    )
    rates = flag_rates(frame, ["region"], 0.7, CFG, "score")
    flagged = frame["score"] >= 0.7
    groups = frame["region"].astype(object).where(frame["region"].notna(), MISSING)
    expected = MetricFrame(
        metrics={"rate": selection_rate, "rows": count},
        y_true=flagged,
        y_pred=flagged,
        sensitive_features=groups.astype(str).rename("region"),
    ).by_group
    assert [r.group for r in rates] == [str(g) for g in expected.index]
    assert [r.rows for r in rates] == expected["rows"].astype(int).tolist()
    np.testing.assert_allclose([r.flag_rate for r in rates], expected["rate"].astype(float))


def test_small_groups_are_too_small_never_fair() -> None:
    frame = pd.concat([_scored({"north": 0.3}), _scored({"islands": 0.0}, rows=10)])
    rates = {r.group: r for r in flag_rates(frame, ["region"], 0.5, CFG, "score")}
    assert rates["islands"].too_small and rates["islands"].ratio is None
    check = FairnessCheck(
        threshold=0.5, min_flag_ratio=0.8, allowed_gap=0.1, rates=tuple(rates.values())
    )
    assert [r.group for r in check.below_ratio] == []


def test_grade_band_is_derived_from_grade_level() -> None:
    rates = flag_rates(_scored({"north": 0.3}, rows=900), ["grade_band"], 0.5, CFG, "score")
    assert sorted(r.group for r in rates) == ["1-4", "5-8", "9-12"]
    assert sum(r.rows for r in rates) == 900


def test_recall_gap_beyond_allowed_is_regressed() -> None:
    labelled = _labelled({"north": 0.8, "south": 0.35})
    check = judge_fairness(
        labelled.iloc[:0], labelled, ["region"], 0.5, CFG, allowed_gap=0.2, target="at_risk"
    )
    south = next(r for r in check.recalls if r.group == "south")
    assert south.gap == pytest.approx(
        next(r.recall for r in check.recalls if r.group == "north") - south.recall
    )
    assert south.gap_low <= south.gap <= south.gap_high
    assert [r.group for r in check.regressed] == ["south"]


def test_small_gap_within_noise_is_not_regressed() -> None:
    labelled = _labelled({"north": 0.7, "south": 0.62})
    check = judge_fairness(
        labelled.iloc[:0], labelled, ["region"], 0.5, CFG, allowed_gap=0.1, target="at_risk"
    )
    assert check.regressed == []
    assert all(r.low <= r.recall <= r.high for r in check.recalls)


def test_group_with_few_positives_is_too_small_for_recall() -> None:
    labelled = pd.concat(
        [_labelled({"north": 0.8, "south": 0.8}), _labelled({"islands": 0.0}, positives=10)]
    )
    check = judge_fairness(
        labelled.iloc[:0], labelled, ["region"], 0.5, CFG, allowed_gap=0.1, target="at_risk"
    )
    islands = next(r for r in check.recalls if r.group == "islands")
    assert islands.too_small and islands.recall is None and islands not in check.regressed


def test_only_the_newest_labelled_days_are_judged() -> None:
    labelled = _labelled({"north": 0.8, "south": 0.8})
    check = judge_fairness(
        labelled.iloc[:0],
        labelled,
        ["region"],
        0.5,
        FairnessConfig(label_days=3),
        allowed_gap=0.1,
        target="at_risk",
    )
    assert check.labelled_days == ("2026-03-08", "2026-03-09", "2026-03-10")
    assert sum(r.rows for r in check.recalls) < len(labelled) / 2


def test_configured_gap_overrides_the_gates() -> None:
    cfg = FairnessConfig(max_recall_gap=0.05)
    check = judge_fairness(pd.DataFrame(), None, ["region"], 0.5, cfg, allowed_gap=0.25, target="y")
    assert check.allowed_gap == 0.05 and check.recalls == ()


def test_round_trips_as_data() -> None:
    labelled = _labelled({"north": 0.8, "south": 0.3})
    check = judge_fairness(
        _scored({"north": 0.3, "south": 0.1}),
        labelled,
        ["region"],
        0.5,
        CFG,
        allowed_gap=0.2,
        target="at_risk",
    )
    assert FairnessCheck.from_data(check.as_data()) == check


def test_decision_threshold_reads_the_test_metrics() -> None:
    assert decision_threshold({"metrics": {"test": {"threshold_at_precision": 0.37}}}) == 0.37
    assert decision_threshold({"metrics": {}}) == 0.5


def test_as_data_is_plain_json() -> None:
    labelled = _labelled({"north": 0.8, "south": 0.3})
    check = judge_fairness(
        _scored({"north": 0.3, "south": 0.1}),
        labelled,
        ["region"],
        0.5,
        CFG,
        allowed_gap=0.2,
        target="at_risk",
    )
    assert FairnessCheck.from_data(json.loads(json.dumps(check.as_data()))) == check
