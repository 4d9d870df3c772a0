"""Drift e-mail wording and structure, from hand-built drift results (no Evidently, no SMTP)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from bantay.monitoring.guards import Decision
from bantay.monitoring.results import DataQualityFinding, DriftResult, FeatureDrift, PredictionDrift
from bantay.notify.email import render_drift_email, subject_line, what_to_do
from bantay.vocabulary import Action, Verdict
from support.monitoring_frames import learner_frame

DAY = date(2026, 11, 22)
NUMERIC = ["attendance_rate", "study_minutes", "quiz_score_avg", "late_submissions"]


def _result(
    verdict: Verdict,
    drifted: dict[str, float],
    findings: list[DataQualityFinding] | None = None,
    prediction_drifted: bool = False,
    n_features: int = 12,
) -> DriftResult:
    names = [*NUMERIC, *[f"f{i}" for i in range(n_features - len(NUMERIC))]]
    features = [
        FeatureDrift(
            c, "numerical", "wasserstein", drifted.get(c, 0.01 * (i + 1)), 0.1, c in drifted
        )
        for i, c in enumerate(names)
    ]
    n = len(drifted)
    return DriftResult(
        features=features,
        drifted_share=n / n_features,
        n_drifted=n,
        n_features=n_features,
        dataset_drift=n / n_features >= 0.3,
        drift_share_threshold=0.3,
        prediction=PredictionDrift(
            "score",
            "numerical",
            "wasserstein",
            0.3 if prediction_drifted else 0.02,
            0.1,
            prediction_drifted,
        ),
        data_quality=findings or [],
        classification=None,
        reference_rows=5000,
        current_rows=5000,
        reference_rows_total=5000,
        current_rows_total=7000,
        verdict=verdict,
        day=str(DAY),
    )


FOUR = {
    "attendance_rate": 0.6,
    "study_minutes": 0.5,
    "quiz_score_avg": 0.8,
    "late_submissions": 0.3,
}
BROKEN = [
    DataQualityFinding("study_minutes", "unit_change", "values are ~60x the reference's"),
    DataQualityFinding("attendance_rate", "nulls", "null share 55% vs 0% in the reference"),
]


@pytest.mark.parametrize(
    ("result", "decision", "expected"),
    [
        (
            _result(Verdict.DRIFT, FOUR),
            Decision(Action.RETRAIN_TRIGGERED, "", streak=2, needed=2),
            "[bantay] DRIFT learner_risk 2026-11-22: retraining started (auto-approve); "
            "4 of 12 features drifted, widespread: quiz_score_avg, attendance_rate, "
            "study_minutes ...",
        ),
        (
            _result(Verdict.OK, {}),
            Decision(Action.NO_ACTION, "no drift"),
            "[bantay] OK learner_risk 2026-11-22: nothing to do; 0 of 12 features drifted",
        ),
        (
            _result(Verdict.DATA_QUALITY, {"study_minutes": 3.0}, BROKEN),
            Decision(Action.DATA_QUALITY_ALERT, ""),
            "[bantay] DATA QUALITY learner_risk 2026-11-22: fix the feed, no retrain; "
            "nulls, unit change in study_minutes, attendance_rate",
        ),
        (
            _result(Verdict.DRIFT, {"study_minutes": 0.5}),
            Decision(Action.HELD_COOLDOWN, "", until=date(2026, 11, 25)),
            "[bantay] DRIFT learner_risk 2026-11-22: no retrain until 2026-11-25; "
            "1 of 12 features drifted: study_minutes",
        ),
        (
            _result(Verdict.DRIFT, {"study_minutes": 0.5}),
            Decision(Action.HELD_PERSISTENCE, "", streak=1, needed=2),
            "[bantay] DRIFT learner_risk 2026-11-22: watching, day 1 of 2; "
            "1 of 12 features drifted: study_minutes",
        ),
        (
            _result(Verdict.DRIFT, {"study_minutes": 0.5}, prediction_drifted=True),
            "guard_held:running",
            "[bantay] DRIFT learner_risk 2026-11-22: a retrain is already running; "
            "1 of 12 features drifted: score, study_minutes",
        ),
        (
            _result(Verdict.DRIFT, {"study_minutes": 0.5}),
            Decision(Action.HELD_LABELS, "", until=date(2026, 12, 3)),
            "[bantay] DRIFT learner_risk 2026-11-22: retrain when labels mature 2026-12-03; "
            "1 of 12 features drifted: study_minutes",
        ),
    ],
)
def test_subject_says_verdict_and_what_happened(result, decision, expected) -> None:
    subject = subject_line(result, model="learner_risk", date=DAY, decision=decision)
    assert subject == expected
    assert len(subject.split(";")[0]) <= 80  # verdict, model, date and decision come first


def test_wording_follows_the_approval_mode() -> None:
    result = _result(Verdict.DRIFT, FOUR)
    started = Decision(Action.RETRAIN_TRIGGERED, "", streak=2, needed=2)

    manual = subject_line(result, model="m", date=DAY, decision=started, approval="manual")
    auto_text = what_to_do(result, started, "auto")
    manual_text = what_to_do(result, started, "manual")

    assert "approval needed" in manual
    assert "approve" in manual_text and "Required Actions" in manual_text
    assert "approv" not in auto_text.replace("promoted automatically", "")


def test_data_quality_advice_names_the_feed_columns_and_forbids_retraining() -> None:
    text = what_to_do(_result(Verdict.DATA_QUALITY, {}, BROKEN), Action.DATA_QUALITY_ALERT)

    assert text.startswith(
        "Data engineers: check the upstream feed for study_minutes, attendance_rate"
    )
    assert "do not retrain" in text


def _render(result: DriftResult, **kw) -> object:
    ref = learner_frame(2000, seed=1)
    cur = learner_frame(2000, seed=2, shift={"study_minutes": -0.6, "attendance_rate": -0.6})
    args = {
        "model": "learner_risk",
        "date": DAY,
        "decision": Decision(Action.RETRAIN_TRIGGERED, "drift on 2 consecutive days"),
        "report_url": "https://s3.example/r.html?X-Amz-Signature=x&a=1",
        "run_url": "http://airflow.example/dags/bantay_drift/runs/r1",
        "reference_sample": ref,
        "current_sample": cur,
    }
    return render_drift_email(result, **{**args, **kw})


def test_message_is_alternative_with_related_html_and_inline_charts() -> None:
    msg = _render(_result(Verdict.DRIFT, FOUR))

    assert msg.get_content_type() == "multipart/alternative"
    plain, related = msg.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    images = [p for p in related.iter_parts() if p.get_content_type() == "image/png"]
    assert len(images) == 3
    html = msg.get_body(("html",)).get_content()
    for img in images:
        assert f'src="cid:{img["Content-ID"].strip("<>")}"' in html
    assert html.index("What to do") < html.index('id="features"')


def test_ok_mail_still_shows_charts_of_the_top_features() -> None:
    msg = _render(_result(Verdict.OK, {}), decision=Decision(Action.NO_ACTION, "no drift"))

    assert len([p for p in msg.walk() if p.get_content_type() == "image/png"]) == 3
    assert "Nothing to do" in msg.get_body(("plain",)).get_content()


def test_report_banner_opens_with_verdict_and_decision() -> None:
    from bantay.notify.email import report_banner

    result = _result(Verdict.DRIFT, {"study_minutes": 0.5})
    banner = report_banner(
        result,
        model="learner_risk",
        decision=Decision(Action.HELD_PERSISTENCE, "", streak=1, needed=2),
    )

    assert banner.index("DRIFT") < banner.index("watching, day 1 of 2")
    assert "study_minutes" in banner


def test_retrain_outcome_email_puts_the_outcome_first() -> None:
    from bantay.notify.outcome import render_retrain_outcome

    msg = render_retrain_outcome(
        model="learner_risk",
        version="v1",
        outcome="rejected",
        drift_summary="DRIFT on 2026-11-20: study_minutes",
        metrics={"roc_auc": 0.8, "pr_auc": 0.4},
        production_metrics={"roc_auc": 0.82, "pr_auc": 0.45},
        reasons=["no_regression: PR AUC fell 0.05"],
        run_url="http://airflow/run",
    )

    assert msg["Subject"].startswith("[bantay] RETRAIN learner_risk: candidate rejected")
    assert "production is unchanged" in msg.get_body(("plain",)).get_content().lower()


def test_charts_are_dropped_to_respect_the_size_limit() -> None:
    result = _result(Verdict.DRIFT, FOUR)
    full = _render(result)
    limit = len(full.as_bytes()) - 1000  # one chart too many

    smaller = _render(result, max_bytes=limit)

    n_images = sum(p.get_content_type() == "image/png" for p in smaller.walk())
    assert n_images == 2
    assert len(smaller.as_bytes()) <= limit


def test_html_escapes_values_from_the_data() -> None:
    evil = [
        DataQualityFinding(
            "region", "new_category", "values not in the reference: '<script>x</script>'"
        )
    ]
    result = _result(Verdict.DATA_QUALITY, {}, evil)

    msg = _render(result, reference_sample=pd.DataFrame(), current_sample=pd.DataFrame())

    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "'<script>x</script>'" in msg.get_body(("plain",)).get_content()  # plain text is plain


def test_an_experiment_day_says_so_in_one_line_with_each_arms_version() -> None:
    experiment = {
        "id": "20261120T000000Z-v4",
        "share": 0.3,
        "served": {"control": "v3", "challenger": "v4"},
    }
    msg = _render(_result(Verdict.OK, {}), experiment=experiment)
    line = (
        "Scored in experiment 20261120T000000Z-v4: the challenger v4 was served to 30% of "
        "learners, production v3 to the rest."
    )
    assert line in msg.get_body(("plain",)).get_content()
    assert f'<p id="experiment-line">{line}</p>' in msg.get_body(("html",)).get_content()
    plain = _render(_result(Verdict.OK, {}))
    assert "experiment" not in plain.get_body(("plain",)).get_content().lower()
    assert 'id="experiment-line"' not in plain.get_body(("html",)).get_content()
