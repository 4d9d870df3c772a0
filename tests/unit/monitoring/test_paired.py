"""The shadow comparison on matured labels: which learner-days count, the decision, each
version's own threshold, and the slices. Prediction logs and labels are built in memory."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bantay.monitoring.paired import (
    BETTER,
    MATURED,
    NOT_YET,
    WORSE,
    PairedDataError,
    compare_shadow,
    version_threshold,
)

DAY0 = dt.date(2026, 3, 2)
DELAY = 14


def log_and_labels(days, learners=600, shadow_gain=0.0, seed=0, shadow=True):
    """A log of ``days`` (offsets from DAY0) scored by production p1 and shadow s1, and every
    day's label; the shadow's scores carry ``shadow_gain`` more signal than production's."""
    rng = np.random.default_rng(seed)
    logs, labels = [], []
    for offset in days:
        day = DAY0 + dt.timedelta(days=offset)
        ts = pd.Timestamp(dt.datetime.combine(day, dt.time(23, 59), dt.UTC))
        y = (rng.random(learners) < 0.3).astype(int)
        frame = pd.DataFrame(
            {
                "learner_id": np.arange(learners),
                "event_timestamp": ts,
                "region": np.where(np.arange(learners) % 3 == 0, "ncr", "luzon"),
                "grade_level": np.arange(learners) % 12 + 1,
                "score": 1 / (1 + np.exp(-(1.0 * y + rng.normal(0, 1, learners)))),
                "model_version": "p1",
            }
        )
        if shadow:
            signal = (1.0 + shadow_gain) * y + rng.normal(0, 1, learners)
            frame["shadow_score"] = 1 / (1 + np.exp(-signal))
            frame["shadow_version"] = "s1"
        logs.append(frame)
        matured = pd.Timestamp(day + dt.timedelta(days=DELAY))
        labels.append(
            pd.DataFrame(
                {"learner_id": frame["learner_id"], "event_timestamp": ts, "at_risk": y}
            ).assign(**{MATURED: matured})
        )
    return pd.concat(logs, ignore_index=True), pd.concat(labels, ignore_index=True)


def compare(log, labels, as_of, **kw):
    kw.setdefault("bootstrap", 200)
    return compare_shadow(
        log,
        labels,
        model="learner_risk",
        label="at_risk",
        as_of=as_of,
        label_delay_days=DELAY,
        **kw,
    )


def test_only_learner_days_whose_label_window_closed_count():
    """Days 0..9 scored; on day 20 only days 0..6 are 14 days old. Labels of the younger days
    are in the frame (as if early) and must still not be used."""
    log, labels = log_and_labels(range(10), learners=200)
    labels[MATURED] = pd.Timestamp(DAY0)  # every label present already
    result = compare(log, labels, DAY0 + dt.timedelta(days=20))
    m = result.maturity
    assert (m.matured_rows, m.unmatured_rows) == (7 * 200, 3 * 200)
    assert m.next_maturity == DAY0 + dt.timedelta(days=7 + DELAY)
    assert result.learners == 200  # each learner once, however many matured days


def test_a_label_that_arrived_after_the_day_is_not_used():
    log, labels = log_and_labels([0, 7], learners=300)
    late = labels["event_timestamp"].dt.date == DAY0 + dt.timedelta(days=7)
    labels.loc[late, MATURED] = pd.Timestamp(DAY0 + dt.timedelta(days=40))
    result = compare(log, labels, DAY0 + dt.timedelta(days=30))
    assert result.maturity.matured_rows == 600
    assert result.maturity.unlabelled_rows == 300  # day 7's labels have not arrived by day 30


def test_each_learner_counts_once_on_their_newest_matured_day():
    log, labels = log_and_labels([0, 7], learners=300)
    newest = labels["event_timestamp"].dt.date == DAY0 + dt.timedelta(days=7)
    expected = labels[newest]["at_risk"].sum()
    result = compare(log, labels, DAY0 + dt.timedelta(days=30))
    assert result.learners == 300
    assert result.positives == expected


def test_no_shadow_names_the_command_that_stages_one():
    log, labels = log_and_labels([0], shadow=False)
    with pytest.raises(PairedDataError, match="no shadow has scored learner_risk.*bantay shadow"):
        compare(log, labels, DAY0 + dt.timedelta(days=30))


def test_no_matured_label_says_when_the_first_will():
    log, labels = log_and_labels([3, 4])
    with pytest.raises(PairedDataError, match="1200 learner-days still inside") as err:
        compare(log, labels, DAY0 + dt.timedelta(days=10))
    assert str(DAY0 + dt.timedelta(days=3 + DELAY)) in str(err.value)


@pytest.mark.parametrize(("gain", "expected"), [(1.0, BETTER), (-0.7, WORSE), (0.0, NOT_YET)])
def test_decision_follows_delong_at_alpha(gain, expected):
    log, labels = log_and_labels([0], learners=3000, shadow_gain=gain, seed=4)
    result = compare(log, labels, DAY0 + dt.timedelta(days=DELAY))
    assert result.decision == expected
    assert (result.p_value < 0.05) == (expected != NOT_YET)
    assert np.sign(result.roc_auc_difference) == np.sign(
        result.shadow.roc_auc - result.production.roc_auc
    )
    low, high = result.pr_auc_interval
    assert low <= result.pr_auc_difference <= high


def test_too_few_positives_is_not_yet_whatever_the_difference():
    log, labels = log_and_labels([0], learners=3000, shadow_gain=2.0)
    result = compare(log, labels, DAY0 + dt.timedelta(days=DELAY), min_class_rows=5000)
    assert result.decision == NOT_YET
    assert "at least 5000 of each" in result.reason


def test_recall_uses_each_versions_own_threshold():
    log, labels = log_and_labels([0], learners=2000)
    as_of = DAY0 + dt.timedelta(days=DELAY)
    same = compare(log, labels, as_of, thresholds={"p1": 0.5, "s1": 0.5})
    strict_shadow = compare(log, labels, as_of, thresholds={"p1": 0.5, "s1": 0.9})
    y = labels["at_risk"].to_numpy() == 1
    expected = (log["shadow_score"].to_numpy()[y] >= 0.9).mean()
    assert strict_shadow.shadow.recall == pytest.approx(expected)
    assert strict_shadow.shadow.recall < same.shadow.recall
    assert strict_shadow.production.recall == same.production.recall
    assert strict_shadow.shadow.thresholds == {"s1": 0.9}


def test_version_threshold_reads_the_registry_metrics():
    assert version_threshold({"test": {"threshold_at_precision": 0.31}}) == 0.31
    assert version_threshold({"test": {"threshold_at_precision": None}}) == 0.5
    assert version_threshold(None) == 0.5


def test_slices_compare_both_models_per_group():
    log, labels = log_and_labels([0], learners=1500, shadow_gain=1.0, seed=2)
    result = compare(
        log, labels, DAY0 + dt.timedelta(days=DELAY), slices=["region", "grade_band", "absent"]
    )
    by = {(s.slice, s.value): s for s in result.slices}
    assert set(by) == {
        ("region", "ncr"),
        ("region", "luzon"),
        ("grade_band", "1-4"),
        ("grade_band", "5-8"),
        ("grade_band", "9-12"),
        ("absent", "*"),
    }
    assert by[("region", "ncr")].rows == 500 and by[("region", "luzon")].rows == 1000
    ncr = log["region"] == "ncr"
    from sklearn.metrics import roc_auc_score

    assert by[("region", "ncr")].shadow_roc_auc == pytest.approx(
        roc_auc_score(labels["at_risk"][ncr], log["shadow_score"][ncr])
    )
    assert by[("absent", "*")].skipped == "not in the log"


def test_a_small_slice_is_skipped_not_judged():
    log, labels = log_and_labels([0], learners=300)
    log.loc[:9, "region"] = "visayas"
    result = compare(log, labels, DAY0 + dt.timedelta(days=DELAY), slices=["region"])
    small = next(s for s in result.slices if s.value == "visayas")
    assert small.skipped == "fewer than 50 rows" and small.shadow_roc_auc is None


def test_table_and_dict_carry_the_decision_and_exclusions():
    log, labels = log_and_labels(range(0, 20, 7), learners=800, shadow_gain=1.0)
    result = compare(log, labels, DAY0 + dt.timedelta(days=DELAY + 7), slices=["region"])
    text = result.as_table()
    assert text.splitlines()[-1].startswith(f"learner_risk: {BETTER}")
    assert "800 learner-days inside their 14-day label window" in text
    as_dict = result.to_dict()
    assert as_dict["maturity"]["next_maturity"] == str(DAY0 + dt.timedelta(days=14 + DELAY))
    assert as_dict["decision"] == BETTER


def test_below_the_acting_cut_leaves_out_either_models_daily_top():
    """Two days of 6 learners; capacity 2: each day, production's top 2 and the shadow's top 2
    are left out (4 learners where they differ, 2 where they agree)."""
    from bantay.monitoring.paired import below_acting_cut

    rows = pd.DataFrame(
        {
            "learner_id": [1, 2, 3, 4, 5, 6] * 2,
            "event_timestamp": [pd.Timestamp("2026-03-02", tz="UTC")] * 6
            + [pd.Timestamp("2026-03-09", tz="UTC")] * 6,
            "score": [0.9, 0.8, 0.1, 0.2, 0.3, 0.4] * 2,
            "shadow_score": [0.1, 0.2, 0.9, 0.8, 0.3, 0.4] + [0.9, 0.8, 0.1, 0.2, 0.3, 0.4],
        }
    )
    kept, excluded = below_acting_cut(rows, 2)
    assert excluded == 6
    first = kept[kept["event_timestamp"].dt.day == 2]["learner_id"].tolist()
    second = kept[kept["event_timestamp"].dt.day == 9]["learner_id"].tolist()
    assert (first, second) == ([5, 6], [3, 4, 5, 6])


def test_acted_on_outcomes_do_not_reach_a_comparison_below_the_cut():
    """Production's top 100 flags of the day had their outcomes prevented (all set to 0): the
    comparison below the acting cut is the same as on the untouched outcomes."""
    log, labels = log_and_labels([0], learners=2000, seed=8)
    as_of = DAY0 + dt.timedelta(days=DELAY)
    acted = log["score"].rank(ascending=False) <= 100
    treated = labels.copy()
    treated.loc[acted.to_numpy(), "at_risk"] = 0
    clean = compare(log, labels, as_of, acting_capacity=100)
    cut = compare(log, treated, as_of, acting_capacity=100)
    assert cut.maturity.excluded_acting == clean.maturity.excluded_acting >= 100
    assert cut.roc_auc_difference == clean.roc_auc_difference
    everyone = compare(log, treated, as_of)
    assert everyone.roc_auc_difference != clean.roc_auc_difference
    assert "learner-days in either model's top 100" in cut.as_table()
