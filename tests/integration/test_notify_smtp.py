"""The drift e-mail end to end: Evidently result -> rendered mail -> Airflow SmtpHook -> a real
SMTP server (aiosmtpd on 127.0.0.1) -> parsed back from the received bytes."""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
from datetime import date

import pytest

import fixtures_smtp
from bantay.monitoring.config import GuardConfig, Verdict
from bantay.monitoring.drift import run_drift
from bantay.monitoring.email import MAX_EMAIL_BYTES, EmailDeliveryError, render_drift_email
from bantay.monitoring.guards import DayRecord, decide_retrain
from bantay.monitoring.mailer import send_email
from fixtures_monitoring import learner_config, learner_frame
from fixtures_smtp import free_port, smtp_conn_json, table_rows

pytestmark = pytest.mark.integration

# pytest fixtures from tests/fixtures_smtp.py (bound here so pytest finds them in this module)
smtp_server = fixtures_smtp.smtp_server
smtp_connection = fixtures_smtp.smtp_connection

DAY = date(2026, 11, 22)
REPORT_URL = (
    "http://127.0.0.1:9/bantay/reports/drift/learner_risk/2026-11-22/report.html"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=604800&X-Amz-Signature=abc123"
)
RUN_URL = "http://localhost:8080/dags/bantay_drift/runs/scheduled__2026-11-22T00:00:00+00:00"
TO = ["oncall@example.org", "ml-team@example.org"]


@pytest.fixture(scope="module")
def drift_case():
    """Realistic volume: 20k reference rows, 5k current rows with 4 shifted features."""
    ref = learner_frame(20_000, seed=11)
    cur = learner_frame(
        5_000,
        seed=12,
        shift={
            "study_minutes": -0.7,
            "attendance_rate": -0.6,
            "quiz_score_avg": -0.8,
            "calls_with_parent": -0.6,
        },
    )
    cfg = learner_config(sample_size=5_000)
    result = run_drift(ref, cur, cfg, labels_current=cur["at_risk"])
    history = [DayRecord(date(2026, 11, 21), "DRIFT", "guard_held:persistence")]
    decision = decide_retrain(result.verdict, DAY, history, GuardConfig())
    return ref, cur, result, decision


def test_drift_email_arrives_complete_small_and_without_learner_ids(
    drift_case, smtp_server, smtp_connection
) -> None:
    ref, cur, result, decision = drift_case
    assert result.verdict is Verdict.DRIFT and decision.triggers_retrain
    msg = render_drift_email(
        result,
        model="learner_risk",
        date=DAY,
        decision=decision,
        report_url=REPORT_URL,
        run_url=RUN_URL,
        reference_sample=ref,
        current_sample=cur,
    )

    send_email(msg, smtp_connection, recipients=TO, sender="bantay@example.org")

    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert sorted(received.rcpt_tos) == sorted(TO)
    raw = received.content
    assert len(raw) < MAX_EMAIL_BYTES
    got = email.message_from_bytes(raw, policy=email.policy.default)

    assert got["Subject"].startswith("[bantay] DRIFT learner_risk 2026-11-22: ")
    assert "retraining started" in got["Subject"].split(";")[0]  # the decision comes first
    assert got["From"] == "bantay@example.org" and got["Message-ID"] and got["Date"]
    assert got["X-Bantay-Verdict"] == "DRIFT"

    # The hook sends the HTML (with its charts); the plain-text part stays in the outbox .eml.
    text = msg.get_body(("plain",)).get_content()
    html = got.get_body(("html",)).get_content()

    # what to do comes first, then the table sorted by drift score (descending)
    assert html.index("What to do") < html.index('id="features"')
    rows = table_rows(html, "features")  # the header row has <th>, not <td>
    assert len(rows) == 12
    severity = [float(row[2]) / float(row[3]) for row in rows]  # score relative to threshold
    assert severity == sorted(severity, reverse=True)
    drifted = {row[0] for row in rows if row[4] == "yes"}
    assert drifted == {"study_minutes", "attendance_rate", "quiz_score_avg", "calls_with_parent"}
    assert html.index("What to do") < html.index('id="features"')

    # inline charts: every cid referenced in the HTML is an image/png part of the message
    cids = re.findall(r'src="cid:([^"]+)"', html)
    assert len(cids) == 3
    images = {part["Content-ID"].strip("<>"): part for part in got.walk() if part["Content-ID"]}
    assert set(cids) == set(images)
    for part in images.values():
        png = part.get_content()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < 40_000

    # both links, in both parts (href attributes are HTML-escaped)
    assert REPORT_URL.replace("&", "&amp;") in html and RUN_URL in html
    assert REPORT_URL in text and RUN_URL in text
    assert "WHAT TO DO" in text and "study_minutes" in text

    # nothing identifies a learner
    for body in (raw.decode("ascii", errors="replace"), html, text):
        assert "learner_id" not in body
    ids = {str(i) for i in ref["learner_id"]} | {str(i) for i in cur["learner_id"]}
    for blob in (raw.decode("ascii", errors="replace"), html, text):
        digit_runs = set(re.findall(r"\d{10}", blob))
        assert not digit_runs & ids


def _msg(drift_case):
    _, _, result, decision = drift_case
    return render_drift_email(
        result,
        model="learner_risk",
        date=DAY,
        decision=decision,
        report_url=REPORT_URL,
        run_url=RUN_URL,
        top_n_charts=0,
        reference_sample=drift_case[0],
        current_sample=drift_case[1],
    )


def test_one_send_per_attempt_and_the_next_attempt_delivers(
    drift_case, smtp_server, smtp_connection
) -> None:
    """No retry layer of bantay's own: a failure raises for the task to retry."""
    msg = _msg(drift_case)
    smtp_server.fail_next(1, "421 4.3.0 mailbox busy, try again later")

    with pytest.raises(smtplib.SMTPException):
        send_email(msg, smtp_connection, recipients=TO)  # attempt 1 (retry_limit 0)
    send_email(msg, smtp_connection, recipients=TO)  # attempt 2: the task's retry

    assert smtp_server.data_attempts == 2
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0].mail_from == "bantay@example.org"  # connection's from_email


def test_the_connections_retry_limit_retries_inside_one_attempt(
    drift_case, smtp_server, monkeypatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_RETRYING",
        smtp_conn_json(smtp_server.host, smtp_server.port, retry_limit=2),
    )
    smtp_server.fail_next(1, "451 4.3.0 local error, try again")

    send_email(_msg(drift_case), "smtp_retrying", recipients=TO)

    assert smtp_server.data_attempts == 2 and len(smtp_server.messages) == 1


def test_unreachable_server_raises_without_the_password(drift_case, monkeypatch) -> None:
    port = free_port()  # nothing listens here
    conn = smtp_conn_json("127.0.0.1", port)
    conn = conn.replace('"port"', '"login": "bantay", "password": "s3cret-pa55word", "port"')
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DOWN", conn)

    with pytest.raises(Exception) as err:  # noqa: PT011  (the hook's own error, for the task)
        send_email(_msg(drift_case), "smtp_down", recipients=TO)

    assert "s3cret-pa55word" not in str(err.value)


def test_undefined_connection_says_how_to_define_it(drift_case) -> None:
    with pytest.raises(EmailDeliveryError, match="AIRFLOW_CONN_SMTP_NOWHERE"):
        send_email(_msg(drift_case), "smtp_nowhere", recipients=TO)
