"""The e-mail that closes a drift-triggered retrain: promoted, rejected by the gate, or waiting
for a person's approval, with the candidate against production on the same test rows.

The training DAG calls :func:`render_retrain_outcome` when a run started by a drift event ends
(after ``publish_and_promote``, after a gate rejection, and when the approval task starts
waiting) and sends it with :func:`bantay.monitoring.mailer.send_email`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any, Literal

Outcome = Literal["promoted", "rejected", "waiting_for_approval"]

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
    from bantay.monitoring.email import _env

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
    env = _env()
    msg = EmailMessage()
    msg["Subject"] = outcome_subject(model, outcome, version, why)
    msg["X-Bantay-Model"] = model
    msg["X-Bantay-Retrain-Outcome"] = outcome
    msg.set_content(env.get_template("retrain_outcome.txt.j2").render(ctx))
    msg.add_alternative(env.get_template("retrain_outcome.html.j2").render(ctx), subtype="html")
    return msg


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{float(x):.3f}"
