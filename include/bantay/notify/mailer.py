"""Sending bantay's e-mails through Airflow's ``SmtpHook`` (the ``smtp_default`` Connection).

The message is built once, by its renderer (``multipart/alternative``: the plain text, then a
``multipart/related`` HTML part whose charts are inline ``image/png`` parts referenced by
Content-ID), and sent as it is through the hook's authenticated client: the hook connects, does
TLS and logs in as the Connection says. Its ``send_email_smtp`` is not used, because it builds a
MIME message of its own (no plain-text part, images as ``application/octet-stream`` attachments).

One send per task attempt: the Connection's ``retry_limit`` retries a transient refusal (a 4xx
reply) inside the attempt, and the task's own retries do the rest. A permanent refusal (a login
the server rejects, a refused sender or recipient, any 5xx reply) raises ``EmailRefused``, an
``AirflowFailException``: the task fails at once with the reason, since a retry would be refused
the same way.
"""

from __future__ import annotations

import copy
import email.policy
import logging
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

from airflow.providers.smtp.hooks.smtp import SmtpHook
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowNotFoundException

log = logging.getLogger(__name__)

# On the wire: CRLF line ends, and headers folded only past RFC 5322's hard limit. The default
# policy folds a header longer than 78 characters before its first word when that word starts
# with "[" (as every bantay subject does), which parsers read back with a leading space.
_WIRE = email.policy.SMTP.clone(max_line_length=998)


class EmailDeliveryError(RuntimeError):
    """An e-mail could not be delivered; the message names the server, never secrets."""


class EmailRefused(EmailDeliveryError, AirflowFailException):
    """The SMTP server refused for good (login, sender, recipient, 5xx): retrying cannot help,
    so a task that raises it fails without using its retries."""


def _addresses(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [addr for _, addr in getaddresses(items) if addr]


def airflow_run_url(base_url: str, dag_id: str, run_id: str) -> str:
    """The link to a DAG run in Airflow's UI that bantay's e-mails carry."""
    return f"{base_url.rstrip('/')}/dags/{dag_id}/runs/{run_id}"


def send_email(
    msg: EmailMessage,
    conn_id: str = "smtp_default",
    *,
    recipients: str | Sequence[str] | None = None,
    sender: str | None = None,
) -> None:
    """Send ``msg`` as built through the Airflow SMTP connection ``conn_id``.

    Recipients default to the message's To/Cc; the sender to its From, then the connection's
    ``from_email`` extra. ``msg`` is not changed (the outbox keeps it as rendered); the copy that
    is sent gets a fresh Message-ID and a Date. A transient failure raises
    ``EmailDeliveryError`` (the task retries), a permanent one ``EmailRefused`` (it does not).
    """
    to = _addresses(recipients) or _addresses([*msg.get_all("To", []), *msg.get_all("Cc", [])])
    if not to:
        raise ValueError("no recipients: pass recipients= or set the message's To header")
    if msg.get_body(("html",)) is None or msg.get_body(("plain",)) is None:
        raise ValueError(
            f"the e-mail {msg['Subject']!r} needs a plain-text and an HTML part; build it with "
            "set_content() and add_alternative(..., subtype='html')"
        )
    try:  # the hook turns a missing connection into a generic error: ask first
        conn = SmtpHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise EmailDeliveryError(
            f"Airflow connection {conn_id!r} is not defined: add it in the UI or set "
            f"AIRFLOW_CONN_{conn_id.upper()}"
        ) from exc
    where = f"the SMTP server {conn.host}:{conn.port} of connection {conn_id!r}"
    message = _to_send(msg)
    try:
        with SmtpHook(conn_id) as hook:  # connects, TLS and login as the Connection says
            from_addr = sender or (_addresses(message["From"]) or [None])[0] or hook.from_email
            if not from_addr:
                raise EmailRefused(
                    f"no sender for the e-mail via connection {conn_id!r}: pass sender= or "
                    "set the connection's from_email extra"
                )
            if sender or message["From"] is None:
                del message["From"]
                message["From"] = from_addr
            if message["To"] is None:
                message["To"] = ", ".join(to)
            # The provider has no public call that sends a prebuilt message; its client is the
            # one it connected and logged in (the same one its own test_connection uses).
            _send(hook._smtp_client, message, from_addr, to, hook.smtp_retry_limit, where)
    except smtplib.SMTPException as exc:
        raise _classified(exc, where, conn) from None
    except (OSError, AirflowException) as exc:
        if isinstance(exc, EmailDeliveryError):
            raise
        raise EmailDeliveryError(
            f"cannot reach {where} ({type(exc).__name__}: {exc}); check that the server is up "
            "and the connection's host and port. The task retries"
        ) from None
    log.info(
        "e-mail %r sent via connection %r to %d recipient(s)", msg["Subject"], conn_id, len(to)
    )


def _to_send(msg: EmailMessage) -> EmailMessage:
    """The copy of ``msg`` that is sent: a fresh Message-ID, its subject unfolded, a Date."""
    message = copy.deepcopy(msg)
    del message["Message-ID"]
    message["Message-ID"] = make_msgid(domain="bantay.local")
    subject = " ".join(str(message["Subject"] or "").split())  # unfolded, as it was rendered
    del message["Subject"]
    message["Subject"] = subject
    if message["Date"] is None:
        message["Date"] = formatdate(usegmt=True)
    return message


def _send(
    client: Any, message: EmailMessage, from_addr: str, to: list[str], retries: int, where: str
) -> None:
    """One ``sendmail`` of the message as built, retried (the connection's ``retry_limit``) only
    for transient refusals."""
    for attempt in range(retries + 1):
        try:
            refused = client.sendmail(from_addr, to, message.as_bytes(policy=_WIRE))
        except smtplib.SMTPException as exc:
            if _is_permanent(exc) or attempt == retries:
                raise
            log.warning("%s refused the message for now (%s); retrying", where, exc)
            continue
        if refused:
            # Delivered to the others: a retry would send them a second copy.
            raise EmailRefused(
                f"{where} delivered {message['Subject']!r} but refused "
                + ", ".join(
                    f"{addr} ({code} {_text(reply)})" for addr, (code, reply) in refused.items()
                )
                + "; fix these addresses in the recipients of bantay.yaml"
            )
        return


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _is_permanent(exc: smtplib.SMTPException) -> bool:
    """5xx replies and refused logins are permanent; 4xx and dropped connections are not."""
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPNotSupportedError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500


def _classified(exc: smtplib.SMTPException, where: str, conn: Any) -> EmailDeliveryError:
    """The error a person reads: what the server said and what to change."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return EmailRefused(
            f"{where} refused the login of user {conn.login!r} ({exc.smtp_code} "
            f"{_text(exc.smtp_error)}); fix the login and password of the connection. Not "
            "retried: the same password would be refused again"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return EmailRefused(
            f"{where} does not support what the connection asks for ({exc}); remove the login "
            "from the connection or enable TLS (the server may offer AUTH only after STARTTLS)"
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(
            f"{addr} ({code} {_text(reply)})" for addr, (code, reply) in exc.recipients.items()
        )
        if _is_permanent(exc):
            return EmailRefused(
                f"{where} refused every recipient: {refused}; fix the recipients in bantay.yaml"
            )
        return EmailDeliveryError(f"{where} refused the recipients for now: {refused}; retried")
    if isinstance(exc, smtplib.SMTPSenderRefused) and _is_permanent(exc):
        return EmailRefused(
            f"{where} refused the sender {exc.sender} ({exc.smtp_code} {_text(exc.smtp_error)}); "
            "set notify.sender in bantay.yaml (or from_email in the connection) to an address "
            "the server accepts"
        )
    if _is_permanent(exc):
        return EmailRefused(
            f"{where} refused the message ({exc.smtp_code} {_text(exc.smtp_error)}); not "
            "retried: the server would refuse it again"
        )
    return EmailDeliveryError(
        f"{where} failed for now ({type(exc).__name__}: {exc}); the task retries"
    )
