"""The on-call drift e-mail: rendered with Jinja2 and small inline charts (sent by
:mod:`bantay.notify.mailer`), and the banner that opens the stored Evidently report.

On-call reads this at 7 a.m. and must know in ten seconds whether to act, so the subject carries
the verdict and what happened, and the body opens with one sentence saying what to do. Details
follow (features by drift score, a few reference-vs-current charts); the full Evidently report
is megabytes and is only linked (a presigned URL), never attached. No learner ids, no secrets:
the e-mail is built from the drift result's column-level numbers only.

The message is built here once (``multipart/alternative`` with a ``multipart/related`` HTML
part) and sent as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from bantay.monitoring.guards import Decision
from bantay.monitoring.results import DriftResult
from bantay.notify.day_parts import day_charts, day_parts, email_css
from bantay.notify.templates import environment
from bantay.notify.wording import Approval, as_decision, decision_phrase, subject_line, what_to_do
from bantay.vocabulary import Action

__all__ = ["render_drift_email", "report_banner", "subject_line", "what_to_do"]

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


MAX_EMAIL_BYTES = 300_000


def experiment_line(experiment: dict[str, Any] | None) -> str | None:
    """One sentence: the day was scored in an experiment's arms, which version each served."""
    if not experiment:
        return None
    served = experiment.get("served") or {}
    share = experiment.get("share")
    part = f"{share:.0%} of learners" if isinstance(share, int | float) else "its arm"
    return (
        f"Scored in experiment {experiment['id']}: the challenger "
        f"{served.get('challenger') or '-'} was served to {part}, production "
        f"{served.get('control') or '-'} to the rest."
    )


def _context(
    result: DriftResult,
    *,
    model: str,
    date: date | str,
    decision: Decision | None,
    report_url: str,
    run_url: str,
    page_url: str | None,
    charts: Sequence[dict[str, str]],
    approval: Approval = "auto",
    experiment: dict[str, Any] | None = None,
) -> dict[str, Any]:
    parts = day_parts(result, decision, model=model, date=date, approval=approval)
    return {
        **parts,
        "experiment_line": experiment_line(experiment),
        "css": email_css(parts["verdict_key"]),
        "charts": charts,
        "report_url": report_url,
        "run_url": run_url,
        "page_url": page_url,
    }


def _build(
    result: DriftResult,
    *,
    model: str,
    date: date | str,
    decision: Decision | None,
    report_url: str,
    run_url: str,
    page_url: str | None,
    charts: Sequence[tuple[str, bytes]],
    approval: Approval = "auto",
    experiment: dict[str, Any] | None = None,
) -> EmailMessage:
    env = environment()
    # Content-IDs only need to be unique within the message; deterministic ones keep renders
    # reproducible (Message-ID, unique per send, is set by send_email).
    cids = [f"<chart-{i}.png>" for i in range(len(charts))]
    chart_ctx = [
        {"src": f"cid:{cid[1:-1]}", "title": title}
        for cid, (title, _) in zip(cids, charts, strict=True)
    ]
    ctx = _context(
        result,
        model=model,
        date=date,
        decision=decision,
        report_url=report_url,
        run_url=run_url,
        page_url=page_url,
        charts=chart_ctx,
        approval=approval,
        experiment=experiment,
    )
    msg = EmailMessage()
    msg["Subject"] = ctx["subject"]
    msg["X-Bantay-Model"] = model
    msg["X-Bantay-Verdict"] = str(result.verdict)
    if decision is not None:
        msg["X-Bantay-Decision"] = str(decision.action)
    msg.set_content(env.get_template("drift_email.txt.j2").render(ctx))
    msg.add_alternative(env.get_template("drift_email.html.j2").render(ctx), subtype="html")
    html_part = msg.get_payload()[1]
    for cid, (title, png) in zip(cids, charts, strict=True):
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=cid,
            filename=f"{title.split(' | ')[0]}.png",
            disposition="inline",
        )
    return msg


def render_drift_email(
    result: DriftResult,
    *,
    model: str,
    date: date | str,
    decision: Decision | Action | str | None,
    report_url: str,
    run_url: str,
    top_n_charts: int = 3,
    reference_sample: pd.DataFrame,
    current_sample: pd.DataFrame,
    max_bytes: int = MAX_EMAIL_BYTES,
    approval: Approval = "auto",
    page_url: str | None = None,
    experiment: dict[str, Any] | None = None,
) -> EmailMessage:
    """The on-call e-mail: verdict subject, what to do, feature table, inline charts, links.

    ``experiment``: the experiment the day was scored in (``day_arms``), said in one line.
    ``reference_sample``/``current_sample`` feed the charts (the frames given to ``run_drift``
    or the same samples); only the charted columns are read. ``page_url``: the drift day page
    the e-mail leads to (the presigned report link stays as a fallback line). Charts are dropped, last first,
    while the message exceeds ``max_bytes``. From/To are the caller's to set (see
    :func:`bantay.notify.drift_day.compose_day_email`).
    """
    d = as_decision(decision)
    charts = day_charts(result, reference_sample, current_sample, top_n_charts)
    while True:
        msg = _build(
            result,
            model=model,
            date=date,
            decision=d,
            report_url=report_url,
            run_url=run_url,
            page_url=page_url,
            charts=charts,
            approval=approval,
            experiment=experiment,
        )
        size = len(msg.as_bytes())
        if size <= max_bytes or not charts:
            break
        log.warning("drift e-mail is %d bytes (> %d); dropping a chart", size, max_bytes)
        charts = charts[:-1]
    if size > max_bytes:
        log.warning("drift e-mail is %d bytes even without charts (limit %d)", size, max_bytes)
    return msg


def report_banner(
    result: DriftResult,
    *,
    model: str,
    decision: Decision | Action | str | None,
    approval: Approval = "auto",
) -> str:
    """The block that opens the Evidently HTML report: bantay's verdict and decision first,
    so the report never contradicts the e-mail that links it."""
    d = as_decision(decision)
    return (
        environment()
        .get_template("report_banner.html.j2")
        .render(
            verdict=str(result.verdict),
            verdict_key=result.verdict.name.lower(),
            model=model,
            day=result.day or "",
            decision=decision_phrase(d, result.verdict, approval),
            reason=d.reason if d else "",
            what_to_do=what_to_do(result, d, approval),
            drifted=[f.column for f in result.ranked_features() if f.drifted],
            watched=[f.column for f in result.watched],
            n_features=result.n_features,
        )
    )
