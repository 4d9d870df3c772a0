"""Sending bantay's e-mails through Airflow's ``SmtpHook`` (the ``smtp_default`` Connection).

One send per task attempt: the hook retries a failed connect or send up to the Connection's
``retry_limit``, and the task's own retries do the rest, so there is no third retry layer here.
Only the hook's public ``send_email_smtp`` is used: it builds the MIME message itself, so the
prebuilt message's HTML body goes in as ``html_content`` with ``mime_subtype="related"`` and its
inline charts as files whose Content-ID is their file name (``cid:chart-0.png``). The complete
message, with its plain-text part, stays in the outbox as an ``.eml`` file.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid
from pathlib import Path

from bantay.monitoring.email import EmailDeliveryError

log = logging.getLogger(__name__)


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
    """Send ``msg`` once through the Airflow SMTP connection ``conn_id``.

    Recipients default to the message's To/Cc; the sender to its From, then the connection's
    ``from_email`` extra. A failure raises: the task retries.
    """
    from airflow.exceptions import AirflowNotFoundException
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    to = _addresses(recipients) or _addresses([*msg.get_all("To", []), *msg.get_all("Cc", [])])
    if not to:
        raise ValueError("no recipients: pass recipients= or set the message's To header")
    html = msg.get_body(("html",))
    if html is None:
        raise ValueError("the message has no HTML part to send")
    headers = {k: str(v) for k, v in msg.items() if k.lower().startswith("x-bantay-")}
    headers["Message-ID"] = make_msgid(domain="bantay.local")
    try:  # the hook turns a missing connection into a generic error: ask first
        SmtpHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise EmailDeliveryError(
            f"Airflow connection {conn_id!r} is not defined: add it in the UI or set "
            f"AIRFLOW_CONN_{conn_id.upper()}"
        ) from exc
    with tempfile.TemporaryDirectory(prefix="bantay-mail-") as tmp, SmtpHook(conn_id) as hook:
        files = _inline_files(msg, Path(tmp))
        from_addr = sender or (_addresses(msg["From"]) or [None])[0] or hook.from_email
        if not from_addr:
            raise EmailDeliveryError(
                f"no sender for the e-mail via connection {conn_id!r}: pass sender= or set "
                "the connection's from_email extra"
            )
        hook.send_email_smtp(
            to=to,
            subject=str(msg["Subject"]),
            html_content=html.get_content(),
            from_email=from_addr,
            files=files,
            mime_subtype="related",
            custom_headers=headers,
        )
    log.info(
        "e-mail %r sent via connection %r to %d recipient(s)", msg["Subject"], conn_id, len(to)
    )


def _inline_files(msg: EmailMessage, folder: Path) -> list[str]:
    """The inline images of the message, written as files named by their Content-ID."""
    files = []
    for part in msg.walk():
        cid = str(part.get("Content-ID", "")).strip("<>")
        if part.get_content_maintype() == "image" and cid:
            path = folder / cid
            path.write_bytes(part.get_content())
            files.append(str(path))
    return files
