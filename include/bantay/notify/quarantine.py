"""The on-call people of the models a broken feed holds are told, by name: which feeds were
quarantined or missing, which of their models were not released to scoring, and what to do. The
models the night released are said too, so nobody chases a model that was scored."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from email.message import EmailMessage

from bantay.settings import ModelSettings
from bantay.settings.core import NotifySettings


def quarantine_recipients(
    notify: NotifySettings, models: Sequence[ModelSettings], held: Mapping[str, str]
) -> list[str]:
    """The data engineers, and the on-call people of every held model (and of no other)."""
    found = list(notify.failure_recipients)
    for model in models:
        if model.name in held:
            found.extend(model.recipients)
    return list(dict.fromkeys(found))


def render_quarantine_email(
    notify: NotifySettings,
    models: Sequence[ModelSettings],
    held: Mapping[str, str],
    released: Sequence[str],
    detail: str,
    run_url: str,
) -> EmailMessage:
    """The notice of a features run whose contract held ``held`` (model: why)."""
    names = ", ".join(sorted(held))
    lines = [f"Not scored tonight: {names}. A feed they read broke the data contract."]
    lines += [f"- {model}: {why}" for model, why in sorted(held.items())]
    if released:
        lines.append(f"Scored as usual (their feeds passed): {', '.join(released)}.")
    lines.append(
        "\nWHAT TO DO: fix the feed (or, where the feed is right, its declaration under "
        "features.feeds in bantay.yaml), deliver the day again to raw/, and clear the run's "
        f"validate task: the held models are scored once the day passes. Run: {run_url}"
    )
    lines.append(f"\nWhat the contract found:\n{detail}")
    msg = EmailMessage()
    msg["Subject"] = f"[bantay] QUARANTINE: {names} held, not scored"
    msg["From"] = notify.sender
    msg["To"] = ", ".join(quarantine_recipients(notify, models, held))
    msg.set_content("\n".join(lines) + "\n")
    paragraphs = "".join(
        f'<p style="white-space:pre-wrap">{html.escape(line.strip())}</p>\n' for line in lines
    )
    msg.add_alternative(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"></head>'
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;">\n'
        f"{paragraphs}</body></html>\n",
        subtype="html",
    )
    return msg
