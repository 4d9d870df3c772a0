"""The drift day's e-mail: composed from what the check handed on (a
:class:`~bantay.monitoring.day_check.DayCheck`), kept in the outbox, sent through the SMTP
connection. The check has already stored the report and recorded the day, so this can fail and
be retried on its own without judging again."""

from __future__ import annotations

import datetime as dt
import email.policy
from email.message import EmailMessage
from pathlib import Path

from bantay.layout import Layout
from bantay.monitoring.day_check import DayCheck
from bantay.notify.day_parts import drift_day_url
from bantay.notify.email import render_drift_email
from bantay.notify.mailer import send_email
from bantay.notify.wording import subject_line
from bantay.settings import ModelSettings
from bantay.settings.core import NotifySettings


def day_subject(check: DayCheck, model: ModelSettings) -> str:
    """The subject of the day's e-mail (also the summary of the ``drift/<model>`` event)."""
    return subject_line(
        check.result,
        model=check.model,
        date=check.day,
        decision=check.decision,
        approval=model.approval,
    )


def compose_day_email(
    check: DayCheck, model: ModelSettings, notify: NotifySettings, *, run_url: str
) -> EmailMessage:
    """The on-call e-mail of the day, charts from the rows the verdict judged."""
    message = render_drift_email(
        check.result,
        model=check.model,
        date=check.day,
        decision=check.decision,
        report_url=check.report_url,
        run_url=run_url,
        reference_sample=check.reference_sample,
        current_sample=check.current_sample,
        approval=model.approval,
        page_url=drift_day_url(notify.airflow_base_url, check.model, check.day),
        experiment=check.experiment,
    )
    message["From"] = notify.sender
    message["To"] = ", ".join(model.recipients)
    return message


def outbox_path(layout: Layout, model: str, day: dt.date) -> Path:
    """Where the day's e-mail is kept (``<outbox>/<model>/<day>.eml``); re-runs replace it."""
    path = layout.outbox(model) / f"{day.isoformat()}.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def send_day_email(
    check: DayCheck,
    model: ModelSettings,
    layout: Layout,
    notify: NotifySettings,
    *,
    run_url: str,
) -> str:
    """Compose the day's e-mail, keep its copy in the outbox, and send it through
    ``notify.smtp_conn_id`` (the task retries a transient failure). Returns its subject."""
    message = compose_day_email(check, model, notify, run_url=run_url)
    outbox_path(layout, check.model, check.day).write_bytes(
        message.as_bytes(policy=email.policy.SMTP)
    )
    send_email(message, notify.smtp_conn_id)
    return str(message["Subject"])
