"""The words of a FAIRNESS day and of attribution drift, in the subject, the sentence of what
to do and the e-mail's per-slice lines."""

from __future__ import annotations

import dataclasses
from datetime import date

from bantay.monitoring.fairness_results import (
    FairnessCheck,
    FeatureLean,
    SliceRate,
    SliceRecall,
)
from bantay.monitoring.guards import Decision
from bantay.monitoring.results import DriftResult
from bantay.notify.email import render_drift_email, subject_line, what_to_do
from bantay.notify.fairness_wording import attribution_lines, attribution_todo, fairness_lines
from bantay.vocabulary import Action, Verdict
from support.fairness_days import ATTRIBUTION
from support.monitoring_frames import learner_frame, quiet_result

FAIRNESS = FairnessCheck(
    threshold=0.42,
    min_flag_ratio=0.8,
    allowed_gap=0.25,
    rates=(
        SliceRate("region", "north", 900, 0.20, 1.0, False),
        SliceRate("region", "south", 800, 0.12, 0.6, False),
        SliceRate("region", "islands", 12, 0.0, None, True),
    ),
    recalls=(
        SliceRecall("region", "north", 900, 120, 0.81, 0.74, 0.88, 0.0, 0.0, 0.0, False),
        SliceRecall("region", "south", 800, 110, 0.38, 0.29, 0.47, 0.43, 0.31, 0.55, False),
        SliceRecall("region", "islands", 12, 2, None, None, None, None, None, None, True),
    ),
    labelled_days=("2026-11-10", "2026-11-11"),
    version="v4",
)


DAY = date(2026, 11, 22)


def _fair_day(verdict: Verdict = Verdict.FAIRNESS) -> DriftResult:
    return dataclasses.replace(
        quiet_result(verdict, DAY), fairness=FAIRNESS, attribution=ATTRIBUTION
    )


def test_subject_names_the_slice_and_no_retrain() -> None:
    subject = subject_line(
        _fair_day(), model="learner_risk", date=DAY, decision=Decision(Action.NO_ACTION, "")
    )
    assert subject.startswith("[bantay] FAIRNESS learner_risk 2026-11-22: a slice fell behind")
    assert "recall 0.38 for region=south vs 0.81 in north (gap 0.43 > 0.25)" in subject


def test_what_to_do_asks_a_person_and_says_a_retrain_does_not_repair() -> None:
    text = what_to_do(_fair_day(), Decision(Action.NO_ACTION, ""))
    assert text.startswith("A person must look") and "region=south" in text
    assert "2026-11-11" in text and "does not repair" in text


def test_slice_lines_say_too_small_and_below_four_fifths() -> None:
    lines = fairness_lines(FAIRNESS)
    assert "region=islands: too small (12 learners), not judged" in lines
    assert "region=south: flagged 12.0%, ratio 0.60 BELOW four-fifths" in lines
    assert "region=north: flagged 20.0%, ratio 1.00" in lines
    assert any(line.startswith("region=south: recall 0.38 (0.29-0.47)") for line in lines)


def test_attribution_lines_say_what_the_model_leans_on() -> None:
    lines = attribution_lines(ATTRIBUTION)
    assert lines[0].startswith(
        "ALARM: importance ranking against the version's test rows: NDCG 0.820"
    )
    assert "reported, never an alarm" in lines[1]
    assert any("leans on late_submissions much more than it did" in line for line in lines)
    assert any("leans on attendance_rate much less" in line for line in lines)
    assert (
        lines[-1]
        == "top reason changed since yesterday for 25% of 200 flagged learners scored both days"
    )
    calm = dataclasses.replace(ATTRIBUTION, ndcg=0.97, features=())
    assert not attribution_lines(calm)[0].startswith("ALARM")


def test_every_days_email_shows_the_slices_and_the_leaning() -> None:
    msg = render_drift_email(
        _fair_day(Verdict.OK),
        model="learner_risk",
        date=DAY,
        decision=Decision(Action.NO_ACTION, "no drift"),
        report_url="https://s3.example/r.html",
        run_url="http://airflow.example/r1",
        reference_sample=learner_frame(500, seed=1),
        current_sample=learner_frame(500, seed=2),
    )
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "FAIRNESS ACROSS SLICES" in plain and "WHAT THE MODEL LEANS ON" in plain
    assert "region=south: flagged 12.0%" in plain
    assert 'id="fairness"' in html and "late_submissions much more" in html


def test_a_shift_of_attribution_names_where_it_moved_and_what_to_do() -> None:
    moved = dataclasses.replace(
        ATTRIBUTION,
        ndcg=0.99,
        basis="drift reference",
        shift=0.004,
        flagged_shift=0.07,
        max_shift=0.02,
        flagged_rows=900,
        days=7,
        features=(
            FeatureLean("attendance_rate", 0.9, 0.89, -0.01, 0.30, 0.30, 0.35, 0.28),
            FeatureLean("support_on_time_ratio", 0.1, 0.1, 0.0, 0.10, 0.10, 0.07, 0.11),
        ),
    )
    lines = attribution_lines(moved)
    assert not lines[0].startswith("ALARM")
    assert lines[1] == (
        "ALARM: attribution moved between features over 7 day(s) against the drift reference: "
        "0.4% over all 1700 scored and 7.0% among the 900 highest-scored (alarm at 2%)"
    )
    assert any(
        line.startswith(
            "among the highest-scored learners the model now leans on support_on_time_ratio much more "
            "than it did (7% -> 11% of the attribution"
        )
        for line in lines
    )
    assert any("leans on attendance_rate much less" in line for line in lines)
    todo = attribution_todo(moved)
    assert todo.startswith("Look at what the model leans on: no input moved")
    assert "support_on_time_ratio" in todo and "No retrain is started." in todo


def test_an_older_versions_shift_is_reported_never_called_an_alarm() -> None:
    older = dataclasses.replace(
        ATTRIBUTION, ndcg=0.99, basis="test rows", shift=0.3, max_shift=0.02, days=7
    )
    lines = attribution_lines(older)
    assert not any(line.startswith("ALARM") for line in lines)
    assert "reported, never an alarm" in lines[1] and "30.0% over all 1700 scored" in lines[1]
    assert not older.drifted
