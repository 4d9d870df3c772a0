"""The drift e-mail end to end: Evidently result -> rendered mail -> Airflow SmtpHook -> a real
SMTP server (aiosmtpd on 127.0.0.1) -> parsed back from the received bytes."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date

import pytest

from bantay.monitoring.day_check import DayCheck
from bantay.monitoring.drift import run_drift
from bantay.monitoring.guards import DayRecord, decide_retrain
from bantay.notify.drift_day import outbox_path, send_day_email
from bantay.notify.email import MAX_EMAIL_BYTES, render_drift_email
from bantay.notify.mailer import EmailDeliveryError, EmailRefused, send_email
from bantay.settings import load_settings
from bantay.settings.drift import GuardConfig
from bantay.vocabulary import Verdict
from support import smtp as fixtures_smtp
from support.monitoring_frames import learner_config, learner_frame
from support.smtp import MailSink, free_port, smtp_conn_json, table_rows

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


@pytest.mark.promise("e-mail", "a real SMTP server; the message parsed by the standard library")
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

    # The message arrives as it was built: text, then HTML with its charts inline.
    assert got.get_content_type() == "multipart/alternative"
    plain, related = got.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *chart_parts = related.get_payload()
    assert html_part.get_content_type() == "text/html" and len(chart_parts) == 3
    for part in chart_parts:
        assert part.get_content_type() == "image/png"
        assert part.get_content_disposition() == "inline" and part["Content-ID"]
    assert not [p for p in got.walk() if p.get_content_type() == "application/octet-stream"]
    text = got.get_body(("plain",)).get_content()
    html = got.get_body(("html",)).get_content()
    assert text.replace("\r\n", "\n") == msg.get_body(("plain",)).get_content()

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


@pytest.mark.promise("e-mail", "a transient 421 refusal")
def test_one_send_per_attempt_and_the_next_attempt_delivers(
    drift_case, smtp_server, smtp_connection
) -> None:
    """No retry layer of bantay's own: a failure raises for the task to retry."""
    msg = _msg(drift_case)
    smtp_server.fail_next(1, "421 4.3.0 mailbox busy, try again later")

    with pytest.raises(EmailDeliveryError, match="421") as err:
        send_email(msg, smtp_connection, recipients=TO)  # attempt 1 (retry_limit 0)
    assert not isinstance(err.value, EmailRefused)  # transient: the task retries
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


@pytest.mark.promise("e-mail", "no server listening")
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


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("554 5.7.1 message rejected as spam", "refused the message (554"),
        ("552 5.3.4 message too big", "refused the message (552"),
    ],
)
@pytest.mark.promise("e-mail", "a permanent 550 refusal")
def test_a_permanent_refusal_fails_at_once(drift_case, monkeypatch, reply, expected) -> None:
    """Even with retries configured, a 5xx is not retried: it would be refused again."""
    from airflow.sdk.exceptions import AirflowFailException

    with fixtures_smtp.running_smtp_server() as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_RETRYING",
            smtp_conn_json(server.host, server.port, retry_limit=3),
        )
        server.fail_next(4, reply)
        with pytest.raises(EmailRefused, match=re.escape(expected)) as err:
            send_email(_msg(drift_case), "smtp_retrying", recipients=TO)
        assert server.data_attempts == 1 and server.messages == []
    assert isinstance(err.value, AirflowFailException)  # the task does not retry either


class _Authenticator:
    """Accepts one login (bantay / the right password)."""

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"bantay",
            b"right-password",
        )
        return AuthResult(success=ok, handled=False)


class _RefusingRecipients:
    """Refuses recipients at nowhere.example.org (550), accepts the others."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@nowhere.example.org"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


def _controller(handler, **kwargs):
    from aiosmtpd.controller import Controller

    port = free_port()
    return Controller(handler, hostname="127.0.0.1", port=port, **kwargs), port


@pytest.mark.promise("e-mail", "a wrong password")
def test_a_wrong_password_fails_at_once_naming_the_server_and_the_fix(
    drift_case, monkeypatch
) -> None:
    controller, port = _controller(
        _RefusingRecipients(),
        authenticator=_Authenticator(),
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        conn = smtp_conn_json("127.0.0.1", port, retry_limit=3)
        conn = conn.replace('"port"', '"login": "bantay", "password": "wrong-pa55word", "port"')
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_AUTH", conn)
        with pytest.raises(EmailRefused) as err:
            send_email(_msg(drift_case), "smtp_auth", recipients=TO)
        message = str(err.value)
        assert f"127.0.0.1:{port}" in message and "'smtp_auth'" in message
        assert "refused the login of user 'bantay'" in message and "password" in message
        assert "wrong-pa55word" not in message
        # the right password delivers, through the same path
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_AUTH", conn.replace("wrong-pa55word", "right-password")
        )
        send_email(_msg(drift_case), "smtp_auth", recipients=TO)
        assert len(controller.handler.messages) == 1
    finally:
        controller.stop()


@pytest.mark.promise("e-mail", "a refused recipient")
def test_a_refused_recipient_fails_at_once_naming_it(drift_case, monkeypatch) -> None:
    handler = _RefusingRecipients()
    controller, port = _controller(handler)
    controller.start()
    try:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_STRICT", smtp_conn_json("127.0.0.1", port, retry_limit=3)
        )
        with pytest.raises(EmailRefused, match=r"refused every recipient: oncall@nowhere"):
            send_email(_msg(drift_case), "smtp_strict", recipients=["oncall@nowhere.example.org"])
        assert handler.messages == []
        # One good, one bad: delivered once to the good one, and the bad one is named.
        with pytest.raises(EmailRefused, match=r"refused oncall@nowhere.example.org \(550"):
            send_email(
                _msg(drift_case),
                "smtp_strict",
                recipients=["oncall@nowhere.example.org", "ml-team@example.org"],
            )
        assert len(handler.messages) == 1
    finally:
        controller.stop()


def test_a_long_subject_arrives_as_it_was_written(smtp_server, smtp_connection) -> None:
    """Subjects open with "[bantay]": no fold before it, so filters and phones see it first."""
    from email.message import EmailMessage

    subject = (
        "[bantay] LATE 2026-10-21: bantay_drift, bantay_scoring not done by 2026-10-22 08:00 UTC"
    )
    msg = EmailMessage()
    msg["Subject"] = subject
    msg.set_content("late\n")
    msg.add_alternative("<p>late</p>", subtype="html")
    send_email(msg, smtp_connection, recipients=TO)
    got = email.message_from_bytes(smtp_server.messages[0].content, policy=email.policy.default)
    assert got["Subject"] == subject


@pytest.mark.promise(
    "e-mail",
    "the server drops the connection in the middle of DATA",
    says="A connection dropped before the server's reply is a transient failure naming the "
    "server: the task retries, the outbox keeps the message, and the retry delivers it once.",
)
def test_a_connection_dropped_mid_message_is_retried_and_the_retry_delivers_once(
    drift_case, monkeypatch
) -> None:
    ref, cur, result, decision = drift_case
    check = DayCheck(
        model="learner_risk",
        day=DAY,
        result=result,
        decision=decision,
        report_html=None,
        report_json=None,
        report_url=REPORT_URL,
        baseline=None,
        reference_sample=ref[["study_minutes", "attendance_rate"]],
        current_sample=cur[["study_minutes", "attendance_rate"]],
    )
    sink = MailSink()
    controller, port = _controller(
        sink, authenticator=_Authenticator(), auth_require_tls=False, auth_required=True
    )
    controller.start()
    try:
        conn = smtp_conn_json("127.0.0.1", port)  # retry_limit 0: one send per attempt
        conn = conn.replace('"port"', '"login": "bantay", "password": "right-password", "port"')
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_FLAKY", conn)
        settings = load_settings(
            models=[{"name": "learner_risk", "recipients": TO}],
            notify={"smtp_conn_id": "smtp_flaky"},
        )
        model = settings.model("learner_risk")

        def attempt() -> str:  # what the drift DAG's e-mail task runs, once per try
            return send_day_email(check, model, settings.layout, settings.notify, run_url=RUN_URL)

        sink.drop_next(1)
        with pytest.raises(EmailDeliveryError) as err:
            attempt()
        assert not isinstance(err.value, EmailRefused)  # transient: the task's retry sends it
        message = str(err.value)
        assert f"127.0.0.1:{port}" in message and "'smtp_flaky'" in message
        assert "SMTPServerDisconnected" in message and "the task retries" in message
        assert "right-password" not in message
        assert sink.data_attempts == 1 and sink.messages == []  # the server kept nothing

        kept = outbox_path(settings.layout, "learner_risk", DAY)
        outbox = email.message_from_bytes(kept.read_bytes(), policy=email.policy.default)
        assert outbox["Subject"].startswith("[bantay] DRIFT learner_risk 2026-11-22: ")

        subject = attempt()  # the task's retry

        assert sink.data_attempts == 2 and len(sink.messages) == 1
        received = sink.messages[0]
        assert sorted(received.rcpt_tos) == sorted(TO)
        got = email.message_from_bytes(received.content, policy=email.policy.default)
        assert got["Subject"] == subject == outbox["Subject"]
        assert got.get_content_type() == "multipart/alternative" and got.defects == []
        text = got.get_body(("plain",)).get_content()
        html = got.get_body(("html",)).get_content()
        assert text.replace("\r\n", "\n") == outbox.get_body(("plain",)).get_content().replace(
            "\r\n", "\n"
        )
        assert "WHAT TO DO" in text and RUN_URL in text
        assert html.rstrip().endswith("</html>") and len(table_rows(html, "features")) == 12
    finally:
        controller.stop()
