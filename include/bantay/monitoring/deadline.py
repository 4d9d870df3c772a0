"""The nightly deadline: is day D's cycle done by the configured time, and if not, which DAG is late.

Day D's cycle is: ``bantay_features`` accepts D's partitions and materializes them,
``bantay_scoring`` writes each model's prediction log for D, ``bantay_drift`` records each model's
check of D. Lateness is judged from what those DAGs leave behind (accepted partitions, prediction
partitions, drift report rows), not from Airflow's run records: a scoring run started by an Asset
has no logical date to look it up by, and a run that is green but wrote nothing is still late.

For each model the first missing stage is reported (a missing feature day makes scoring and drift
late too, so it is reported once, for the project). ``bantay_deadline`` sends one e-mail when the
list is not empty.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from email.message import EmailMessage

from bantay.layout import accepted_root, attempt_dirs, partition_path, quarantine_root
from bantay.schema import SOURCE_FEATURES
from bantay.settings import Settings

FEATURES_DAG = "bantay_features"
SCORING_DAG = "bantay_scoring"
DRIFT_DAG = "bantay_drift"


@dataclasses.dataclass(frozen=True)
class Late:
    """One stage of day D's cycle that is not done: the DAG that owes it, and what is missing."""

    dag_id: str
    model: str | None
    missing: str


def late_stages(
    settings: Settings, day: dt.date, drift_days: dict[str, set[dt.date]]
) -> list[Late]:
    """What of ``day``'s cycle is missing; ``drift_days`` maps a model to the days it was checked."""
    accepted, quarantined = accepted_root(settings.data_dir), quarantine_root(settings.data_dir)
    not_accepted = [s for s in SOURCE_FEATURES if not partition_path(accepted, s, day).exists()]
    if not_accepted:
        held = [s for s in not_accepted if attempt_dirs(quarantined, s, day)]
        detail = (
            f"; quarantined: {', '.join(held)} (see quarantine/<source>/date={day})" if held else ""
        )
        return [
            Late(
                FEATURES_DAG,
                None,
                f"no accepted partition for {', '.join(not_accepted)} on {day}{detail}; "
                "scoring and the drift check wait for it",
            )
        ]
    from bantay.serving.scoring import prediction_path

    late: list[Late] = []
    for model in settings.models:
        if not prediction_path(settings, model.name, day).exists():
            late.append(Late(SCORING_DAG, model.name, f"no prediction log for {day}"))
        elif day not in drift_days.get(model.name, set()):
            late.append(Late(DRIFT_DAG, model.name, f"no drift check of {day}"))
    return late


def deadline_subject(day: dt.date, late: list[Late], deadline: str) -> str:
    """``[bantay] LATE <day>: <dag>, <dag> not done by <deadline>`` (the DAGs first: phones cut)."""
    dags = ", ".join(dict.fromkeys(item.dag_id for item in late))
    return f"[bantay] LATE {day}: {dags} not done by {deadline}"


def render_deadline_email(
    settings: Settings, day: dt.date, late: list[Late], deadline: str
) -> EmailMessage:
    """The one e-mail for a late night: per DAG, what is missing and a link to its runs."""
    from bantay.monitoring.email import _env

    base = settings.notify.airflow_base_url.rstrip("/")
    rows = [
        {
            "dag_id": item.dag_id,
            "model": item.model or "all models",
            "missing": item.missing,
            "url": f"{base}/dags/{item.dag_id}/runs",
        }
        for item in late
    ]
    ctx = {"day": day.isoformat(), "deadline": deadline, "rows": rows}
    env = _env()
    msg = EmailMessage()
    msg["Subject"] = deadline_subject(day, late, deadline)
    msg["From"] = settings.notify.sender
    msg["To"] = ", ".join(deadline_recipients(settings, late))
    msg["X-Bantay-Deadline-Day"] = day.isoformat()
    msg.set_content(env.get_template("deadline.txt.j2").render(ctx))
    msg.add_alternative(env.get_template("deadline.html.j2").render(ctx), subtype="html")
    return msg


def deadline_recipients(settings: Settings, late: list[Late]) -> list[str]:
    """The data engineers, and the on-call people of every model whose cycle is late."""
    models = {item.model for item in late}
    everyone = None in models
    found = list(settings.notify.failure_recipients)
    for model in settings.models:
        if everyone or model.name in models:
            found.extend(model.recipients)
    return list(dict.fromkeys(found))
