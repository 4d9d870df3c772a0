"""The e-mail that closes a drift-triggered retrain: promoted, rejected by the gate, or waiting
for a person's approval, with the candidate against production on the same test rows.

On-call got the drift e-mail that said retraining started; this one says what came of it. The
training DAG's ``tell_on_call`` task decides with :func:`retrain_outcome` once publishing is done
or skipped (promoted, or rejected by the gate), the approval task when it starts waiting for a
person; both send with :func:`send_retrain_outcome`. Scheduled and manual runs send nothing.
"""

from __future__ import annotations

import email.policy
import logging
import re
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from bantay.layout import Layout
from bantay.notify.mailer import send_email
from bantay.notify.templates import environment
from bantay.settings import ModelSettings
from bantay.settings.core import NotifySettings

log = logging.getLogger(__name__)

Outcome = Literal["promoted", "rejected", "waiting_for_approval"]


def retrain_outcome(
    trigger: str | None, *, passed: bool, promoted: bool = False, waiting: bool = False
) -> Outcome | None:
    """What to tell on-call about a training run; None: nothing to send.

    ``trigger`` is the plan's (schedule | drift | manual): only a drift-triggered run reports.
    ``passed`` is the gate's verdict, ``promoted`` whether publish_and_promote succeeded and
    ``waiting`` whether a person's approval is being requested now. A candidate that passed and
    was neither promoted nor is waiting was rejected by a person, who needs no e-mail about it.
    """
    if trigger != "drift":
        return None
    if promoted:
        return "promoted"
    if not passed:
        return "rejected"
    if waiting:
        return "waiting_for_approval"
    return None


_PHRASE = {
    "promoted": "new model promoted",
    "rejected": "candidate rejected, production unchanged",
    "waiting_for_approval": "candidate waits for your approval",
}


def outcome_subject(model: str, outcome: Outcome, version: str, why: str = "") -> str:
    """``[bantay] RETRAIN <model>: <outcome>; <version> <why>`` (the outcome first)."""
    tail = f"{version}" + (f", {why}" if why else "")
    return f"[bantay] RETRAIN {model}: {_PHRASE[outcome]}; {tail}"


def render_retrain_outcome(
    *,
    model: str,
    version: str,
    outcome: Outcome,
    drift_summary: str,
    metrics: Mapping[str, Any],
    production_metrics: Mapping[str, Any] | None,
    reasons: Sequence[str] = (),
    run_url: str,
    test_window: Sequence[str] | None = None,
) -> EmailMessage:
    """The outcome of a drift-triggered retrain as a plain-text + HTML message (no charts)."""
    if outcome not in _PHRASE:
        raise ValueError(f"outcome {outcome!r}; allowed: {sorted(_PHRASE)}")
    keys = ("roc_auc", "pr_auc", "recall_at_precision")
    rows = [
        {
            "metric": k,
            "candidate": _fmt(metrics.get(k)),
            "production": _fmt((production_metrics or {}).get(k)),
        }
        for k in keys
        if k in metrics
    ]
    why = reasons[0] if outcome == "rejected" and reasons else ""
    ctx = {
        "model": model,
        "version": version,
        "outcome": outcome,
        "phrase": _PHRASE[outcome],
        "drift_summary": drift_summary,
        "rows": rows,
        "reasons": list(reasons),
        "run_url": run_url,
        "test_window": " to ".join(test_window) if test_window else "",
    }
    env = environment()
    msg = EmailMessage()
    msg["Subject"] = outcome_subject(model, outcome, version, why)
    msg["X-Bantay-Model"] = model
    msg["X-Bantay-Retrain-Outcome"] = outcome
    msg.set_content(env.get_template("retrain_outcome.txt.j2").render(ctx))
    msg.add_alternative(env.get_template("retrain_outcome.html.j2").render(ctx), subtype="html")
    return msg


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.3f}"


def outbox_path(layout: Layout, model: str, run_id: str, outcome: Outcome) -> Path:
    """Where the outcome e-mail of one run is kept (next to the drift e-mails)."""
    key = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id)
    path = layout.outbox(model) / f"retrain-{key}-{outcome}.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def send_retrain_outcome(
    ctx: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    outcome: Outcome,
    run_url: str,
    *,
    notify: NotifySettings,
    model: ModelSettings,
    layout: Layout,
) -> dict[str, Any]:
    """Render the outcome of a run for the model's drift recipients, keep it, and send it.

    ``ctx`` is the plan's run context and ``evaluation`` the evaluate task's result (candidate
    and production metrics on the same test rows, the gate's reasons). A failed send is logged
    as a warning and returned as ``sent: False``: the outcome already happened (production moved
    or did not), a retry would not change it, and the message stays in the outbox.
    """
    window = [str(day)[:10] for day in evaluation.get("test_window") or ()]
    msg = render_retrain_outcome(
        model=model.name,
        version=evaluation["version"],
        outcome=outcome,
        drift_summary=ctx["reason"],
        # Side by side on the same rows: the candidate where production was scored.
        metrics=evaluation.get("compared_metrics") or evaluation["metrics"],
        production_metrics=evaluation.get("production_metrics"),
        reasons=evaluation.get("reasons") or (),
        run_url=run_url,
        test_window=window or None,
    )
    msg["From"] = notify.sender
    msg["To"] = ", ".join(model.recipients)
    path = outbox_path(layout, model.name, ctx["run_id"], outcome)
    path.write_bytes(msg.as_bytes(policy=email.policy.SMTP))
    conn_id = notify.smtp_conn_id
    try:
        send_email(msg, conn_id)
        sent = True
    except Exception as exc:  # the hook, smtplib and sockets each raise their own kind
        log.warning(
            "the %s e-mail for %s was not sent through the Airflow connection %r (%s: %s); the "
            "model is unaffected. Fix that connection (host, port, TLS, login, from_email) in "
            "the UI or as AIRFLOW_CONN_%s; the message is kept at %s",
            outcome,
            model.name,
            conn_id,
            type(exc).__name__,
            exc,
            conn_id.upper(),
            path,
        )
        sent = False
    return {"outcome": outcome, "subject": str(msg["Subject"]), "sent": sent, "email": str(path)}
