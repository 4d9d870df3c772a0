"""Defaults every bantay DAG shares: owner, retries, timeouts and the failure e-mail.

Imported by DAG files at parse time, so it stays light: settings (pydantic, a YAML read) and the
SMTP notifier class; no Connection or Variable lookups, no heavy libraries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.providers.smtp.notifications.smtp import SmtpNotifier

from bantay.settings import Settings

START_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
OWNER = "bantay"


def failure_notifier(settings: Settings) -> SmtpNotifier:
    """One e-mail per failed task to the data engineers, through ``smtp_default``."""
    return SmtpNotifier(
        to=settings.notify.failure_recipients,
        from_email=settings.notify.sender,
        smtp_conn_id=settings.notify.smtp_conn_id,
        subject="[bantay] FAILED {{ ti.dag_id }}.{{ ti.task_id }} ({{ ti.run_id }})",
    )


def default_args(
    settings: Settings, *, execution_timeout: dt.timedelta, retries: int = 2
) -> dict[str, Any]:
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": dt.timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(minutes=30),
        "execution_timeout": execution_timeout,
        "on_failure_callback": failure_notifier(settings),
    }
