"""The nightly deadline: is day D's cycle done by the configured time, and if not, which DAG is late.

Day D's cycle is: ``bantay_features`` accepts D's partitions and materializes them,
``bantay_scoring`` writes each model's prediction log for D, ``bantay_drift`` records each model's
check of D. Lateness is judged from what those DAGs leave behind (accepted partitions, prediction
partitions, drift report rows), not from Airflow's run records: a scoring run started by an Asset
has no logical date to look it up by, and a run that is green but wrote nothing is still late.

For each model the first missing stage is reported (a missing feature day makes scoring and drift
late too, so it is reported once, for the project). ``bantay_deadline`` sends one e-mail when the
list is not empty.

A model that has never had a production version has nothing to score, so its nights are not late:
its data engineers and on-call are told once that it has no production version yet (a marker
under ``<data>/deadline/`` remembers that they were), and nothing more until it is promoted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from collections.abc import Callable, Collection, Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from bantay.layout import Layout, attempt_dirs, partition_path
from bantay.notify.templates import environment
from bantay.settings import FeatureSettings, ModelSettings
from bantay.settings.core import NotifySettings

if TYPE_CHECKING:
    from bantay.stores.registry import Registry

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
    layout: Layout,
    models: Sequence[ModelSettings],
    day: dt.date,
    drift_days: dict[str, set[dt.date]],
    never_served: Collection[str] = (),
    sources: Sequence[str] | None = None,
) -> list[Late]:
    """What of ``day``'s cycle is missing; ``drift_days`` maps a model to the days it was checked.

    ``sources``: the features feeds the night waits for (``features.sources``; default: the
    default feeds'). Models in ``never_served`` (no production version ever) owe no scoring and
    no drift check."""
    feeds = FeatureSettings().sources if sources is None else sources
    not_accepted = [s for s in feeds or () if not partition_path(layout.accepted, s, day).exists()]
    if not_accepted:
        held = [s for s in not_accepted if attempt_dirs(layout.quarantine, s, day)]
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
    late: list[Late] = []
    for model in models:
        if model.name in never_served:
            continue
        if not layout.prediction_path(model.name, day).exists():
            late.append(Late(SCORING_DAG, model.name, f"no prediction log for {day}"))
        elif day not in drift_days.get(model.name, set()):
            late.append(Late(DRIFT_DAG, model.name, f"no drift check of {day}"))
    return late


def deadline_subject(day: dt.date, late: list[Late], deadline: str) -> str:
    """``[bantay] LATE <day>: <dag>, <dag> not done by <deadline>`` (the DAGs first: phones cut)."""
    dags = ", ".join(dict.fromkeys(item.dag_id for item in late))
    return f"[bantay] LATE {day}: {dags} not done by {deadline}"


def render_deadline_email(
    notify: NotifySettings,
    models: Sequence[ModelSettings],
    day: dt.date,
    late: list[Late],
    deadline: str,
) -> EmailMessage:
    """The one e-mail for a late night: per DAG, what is missing and a link to its runs."""
    base = notify.airflow_base_url.rstrip("/")
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
    env = environment()
    msg = EmailMessage()
    msg["Subject"] = deadline_subject(day, late, deadline)
    msg["From"] = notify.sender
    msg["To"] = ", ".join(deadline_recipients(notify, models, late))
    msg["X-Bantay-Deadline-Day"] = day.isoformat()
    msg.set_content(env.get_template("deadline.txt.j2").render(ctx))
    msg.add_alternative(env.get_template("deadline.html.j2").render(ctx), subtype="html")
    return msg


def deadline_recipients(
    notify: NotifySettings, models: Sequence[ModelSettings], late: list[Late]
) -> list[str]:
    """The data engineers, and the on-call people of every model whose cycle is late."""
    names = {item.model for item in late}
    everyone = None in names
    found = list(notify.failure_recipients)
    for model in models:
        if everyone or model.name in names:
            found.extend(model.recipients)
    return list(dict.fromkeys(found))


def never_served(models: Sequence[ModelSettings], registry: Registry) -> list[str]:
    """The configured models that have never had a production version (none now, no promotion
    in the audit log): new models, still waiting for their first approved training run."""
    return [
        m.name
        for m in models
        if registry.versions.production(m.name) is None and not registry.promotions.of(m.name)
    ]


def render_no_production_email(
    notify: NotifySettings, models: Sequence[ModelSettings]
) -> EmailMessage:
    """The one-time notice that ``models`` have no production version yet (not a late night)."""
    names = ", ".join(m.name for m in models)
    base = notify.airflow_base_url.rstrip("/")
    lines = [
        f"No production version yet: {names}. Until one is promoted, the nightly cycle does "
        "not score these models or check their drift, and their nights are not counted as late.",
    ]
    for m in models:
        lines.append(
            f"- {m.name}: training runs on '{m.training_schedule or 'manual'}' "
            f"(approval: {m.approval}); runs: {base}/dags/bantay_training_{m.name}/runs"
        )
    lines.append(
        "\nWHAT TO DO: nothing if a first training run is planned. To serve sooner, trigger the "
        "training DAG above; once a version is approved and promoted, the cycle covers the model "
        "and this notice is not sent again."
    )
    msg = EmailMessage()
    msg["Subject"] = f"[bantay] {names}: no production version yet"
    msg["From"] = notify.sender
    msg["To"] = ", ".join(
        deadline_recipients(notify, models, [Late("", m.name, "") for m in models])
    )
    msg.set_content("\n".join(lines) + "\n")
    paragraphs = "".join(f"<p>{html.escape(line.strip())}</p>\n" for line in lines)
    msg.add_alternative(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"></head>'
        f'<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;">\n'
        f"{paragraphs}</body></html>\n",
        subtype="html",
    )
    return msg


def check_night(
    day: dt.date,
    deadline: str,
    *,
    models: Sequence[ModelSettings],
    layout: Layout,
    notify: NotifySettings,
    registry: Registry,
    send: Callable[[EmailMessage], Any],
    sources: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Judge ``day``'s cycle, e-mail what is late (``send``), and tell once about each model that
    has no production version yet. Returns what was found and what was sent."""
    new = never_served(models, registry)
    checked = {
        m.name: {r.report_date for r in registry.drift.reports(m.name, since=day)}
        for m in models
        if m.name not in new
    }
    late = late_stages(layout, models, day, checked, never_served=new, sources=sources)
    sent: list[str] = []
    untold = [m for m in models if m.name in new and not layout.deadline_marker(m.name).exists()]
    if untold:
        notice = render_no_production_email(notify, untold)
        send(notice)
        sent.append(notice["Subject"])
        for m in untold:  # after the send: a failed send is retried, not forgotten
            marker = layout.deadline_marker(m.name)
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"told on {day.isoformat()}\n")
    if late:
        msg = render_deadline_email(notify, models, day, late, deadline)
        send(msg)
        sent.append(msg["Subject"])
    return {"late": [dataclasses.asdict(x) for x in late], "never_served": new, "sent": sent}
