"""The simulator: deterministic by seed, realistic mess, and drift knobs that do what they say."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from bantay import simulate as sim
from bantay.layout import partition_path
from bantay.simulate.catalogue import FEATURES, LABEL_SOURCE, SOURCE_FEATURES, SOURCES
from bantay.simulate.labels import is_observation_day, label_partition
from bantay.simulate.scenario import BROKEN_KINDS, parse_broken, parse_concept, parse_shift
from bantay.simulate.world import feature_partition

DAY = dt.date(2026, 9, 2)
BASE = sim.Scenario(learners=3000, seed=11)


def test_same_date_twice_gives_identical_bytes(tmp_path):
    a = sim.write_day(tmp_path / "a", DAY, BASE)
    b = sim.write_day(tmp_path / "b", DAY, BASE)
    for source in SOURCES:
        assert a[source].read_bytes() == b[source].read_bytes(), source


def test_a_day_alone_equals_the_same_day_inside_a_range(tmp_path):
    sim.write_range(tmp_path / "range", DAY - dt.timedelta(days=3), 4, BASE)
    sim.write_day(tmp_path / "alone", DAY, BASE)
    for source in SOURCES:
        left = partition_path(tmp_path / "range", source, DAY).read_bytes()
        right = partition_path(tmp_path / "alone", source, DAY).read_bytes()
        assert left == right, source


def test_seed_changes_data():
    a = sim.partition("learning_activity", DAY, BASE)
    b = sim.partition("learning_activity", DAY, sim.Scenario(learners=3000, seed=12))
    assert not np.allclose(
        a["quiz_score_avg"].to_numpy()[:100], b["quiz_score_avg"].to_numpy()[:100]
    )


def test_timestamps_are_utc_microseconds_and_late_rows_are_from_yesterday():
    frame = sim.partition("learning_activity", DAY, BASE)
    assert str(frame["event_timestamp"].dtype) == "datetime64[us, UTC]"
    days = frame["event_timestamp"].dt.date
    late = (days == DAY - dt.timedelta(days=1)).sum()
    assert set(days.unique()) == {DAY, DAY - dt.timedelta(days=1)}
    assert 0 < late < 0.03 * len(frame)


def test_missing_days_some_learners_absent():
    frame = sim.partition("family_contact", DAY, BASE)
    on_time = frame[frame["event_timestamp"].dt.date == DAY]
    assert 0.9 * BASE.learners < len(on_time) < 0.99 * BASE.learners


def test_label_rate_is_imbalanced_and_labels_mature_with_delay():
    rates = []
    for offset in range(0, 28):
        day = DAY + dt.timedelta(days=offset)
        labels = sim.partition(LABEL_SOURCE, day, BASE)
        if len(labels):
            observed = labels["event_timestamp"].dt.date.unique()
            assert list(observed) == [day - dt.timedelta(days=BASE.label_delay_days)]
            rates.append(labels["at_risk"].mean())
    assert len(rates) == 4  # weekly observations
    assert all(0.10 <= r <= 0.20 for r in rates), rates


def _observation_day() -> dt.date:
    return next(d for i in range(7) if is_observation_day(d := DAY + dt.timedelta(days=i), BASE))


def _labelled_frame(scenario: sim.Scenario, observed: dt.date):
    labels = label_partition(observed + dt.timedelta(days=scenario.label_delay_days), scenario)
    feats = feature_partition("learning_activity", observed, scenario)
    feats = feats[feats["event_timestamp"].dt.date == observed]
    return labels.merge(feats, on="learner_id")


def test_features_carry_signal_about_the_label():
    observed = _observation_day()
    frame = _labelled_frame(BASE, observed)
    assert len(frame) > 2000
    gap = frame.groupby("at_risk")["quiz_score_avg"].mean()
    assert gap[0] - gap[1] > 8  # at-risk learners score clearly lower


def test_covariate_shift_moves_only_chosen_features_from_the_start_date():
    start = DAY
    shifted = sim.Scenario(
        learners=3000, seed=11, covariate=(sim.CovariateShift(("study_minutes",), start, 2.0),)
    )
    before = sim.partition("learning_activity", start - dt.timedelta(days=2), shifted)
    before_base = sim.partition("learning_activity", start - dt.timedelta(days=2), BASE)
    assert before.equals(before_base)
    after = sim.partition("learning_activity", start + dt.timedelta(days=1), shifted)
    after_base = sim.partition("learning_activity", start + dt.timedelta(days=1), BASE)
    delta = after["study_minutes"].mean() - after_base["study_minutes"].mean()
    assert delta > 50  # ~2 standard deviations of 35 minutes, less clipping
    assert after["quiz_score_avg"].equals(after_base["quiz_score_avg"])


def test_concept_shift_weakens_the_feature_label_relation():
    observed = _observation_day()
    concept = sim.Scenario(learners=3000, seed=11, concept=sim.ConceptShift(observed, 0.9))
    base = _labelled_frame(BASE, observed)
    drifted = _labelled_frame(concept, observed)
    corr_base = abs(np.corrcoef(base["quiz_score_avg"], base["at_risk"])[0, 1])
    corr_drift = abs(np.corrcoef(drifted["quiz_score_avg"], drifted["at_risk"])[0, 1])
    assert corr_drift < corr_base / 2
    assert drifted["quiz_score_avg"].equals(base["quiz_score_avg"])  # the inputs did not move


@pytest.mark.parametrize("kind", BROKEN_KINDS)
def test_broken_feed(kind):
    bug = sim.BrokenFeed("study_minutes", DAY, kind)
    scenario = sim.Scenario(learners=3000, seed=11, broken=(bug,))
    frame = sim.partition("learning_activity", DAY, scenario)
    base = sim.partition("learning_activity", DAY, BASE)
    col = frame["study_minutes"]
    if kind == "nulls":
        assert col.isna().mean() > 0.85
    elif kind == "frozen":
        later = sim.partition("learning_activity", DAY + dt.timedelta(days=3), scenario)
        assert col.nunique() == 1 and set(later["study_minutes"]) == set(col)  # one constant
    elif kind == "stuck":
        before = sim.partition("learning_activity", DAY - dt.timedelta(days=1), BASE)
        later = sim.partition("learning_activity", DAY + dt.timedelta(days=4), scenario)
        last = before.drop_duplicates("learner_id", keep="last").set_index("learner_id")
        for day_frame in (frame, later):
            known = day_frame[day_frame["learner_id"].isin(last.index)]
            expected = last.loc[known["learner_id"], "study_minutes"].to_numpy()
            assert (known["study_minutes"].to_numpy() == expected).mean() > 0.97
        assert col.nunique() > 1000  # each learner keeps a different value
    else:
        assert np.allclose(col.to_numpy(), base["study_minutes"].to_numpy() * 60)
    others = [c for c in FEATURES if c in frame and c != "study_minutes"]
    assert frame[others].equals(base[others])


@pytest.mark.parametrize("feature", ["late_submissions", "calls_with_parent", "study_minutes"])
def test_shift_size_is_measured_in_sds_and_small_shifts_of_counts_survive(feature):
    source = next(s for s, cols in SOURCE_FEATURES.items() if feature in cols)
    day = DAY + dt.timedelta(days=1)
    moved = []
    for size in (0.1, 0.3):
        scenario = sim.Scenario(
            learners=3000, seed=11, covariate=(sim.CovariateShift((feature,), DAY, size),)
        )
        after = sim.partition(source, day, scenario)[feature]
        base = sim.partition(source, day, BASE)[feature]
        moved.append((after.mean() - base.mean()) / base.std(ddof=0))
    assert moved[0] == pytest.approx(0.1, abs=0.04), moved
    assert moved[1] == pytest.approx(0.3, abs=0.06), moved


def test_knob_errors_name_the_input():
    with pytest.raises(ValueError, match="unknown numeric feature"):
        parse_shift("shoe_size@2026-01-01:1")
    with pytest.raises(ValueError, match="allowed"):
        parse_broken("study_minutes@2026-01-01:melted")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_concept("yesterday")
