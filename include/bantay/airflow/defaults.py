"""The header every bantay DAG shares (:func:`bantay_dag`): owner, retries, timeouts, the failure
e-mail, no catch-up, one active run, and a cron schedule that an empty setting turns off.

Imported by DAG files at parse time, so it stays light: settings (pydantic, a YAML read) and the
SMTP notifier class; no Connection or Variable lookups, no heavy libraries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import CronDataIntervalTimetable, CronTriggerTimetable, dag

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


def cron(expression: str | None, *, interval: bool = True) -> Any:
    """A UTC cron timetable, or None (manual only) when the setting is empty.

    ``interval``: runs cover the data interval that just ended (a day's check, a day's features);
    otherwise a plain trigger at the given time (a deadline, a weekly retrain).
    """
    if not expression:
        return None
    timetable = CronDataIntervalTimetable if interval else CronTriggerTimetable
    return timetable(expression, timezone="UTC")


def bantay_dag(
    dag_id: str,
    *,
    settings: Settings,
    doc_md: str | None,
    tags: Sequence[str],
    timeout: dt.timedelta,
    schedule: Any = None,
    params: Mapping[str, Any] | None = None,
    retries: int = 2,
    **extra: Any,
) -> Callable[..., Any]:
    """``@dag(...)`` with the header every bantay DAG shares; ``extra`` passes anything else on.

    No catch-up and one active run per DAG: a day's run is re-run by hand for that day (its
    ``date`` param), never back-filled by the scheduler, and two runs never race on one model.
    """
    return dag(
        dag_id=dag_id,
        doc_md=doc_md,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["bantay", *tags],
        default_args=default_args(settings, execution_timeout=timeout, retries=retries),
        params=dict(params or {}),
        **extra,
    )
