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
from bantay.notify.charts import chart_png, chart_title
from bantay.notify.fairness_wording import attribution_lines, fairness_lines
from bantay.notify.templates import environment
from bantay.notify.wording import Approval, as_decision, decision_phrase, subject_line, what_to_do
from bantay.vocabulary import Action

__all__ = ["render_drift_email", "report_banner", "subject_line", "what_to_do"]

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


MAX_EMAIL_BYTES = 300_000


def _fmt_score(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _context(
    result: DriftResult,
    *,
    model: str,
    date: date | str,
    decision: Decision | None,
    report_url: str,
    run_url: str,
    charts: Sequence[dict[str, str]],
    approval: Approval = "auto",
) -> dict[str, Any]:
    cls = result.classification
    return {
        "model": model,
        "date": str(date),
        "verdict": str(result.verdict),
        "verdict_key": result.verdict.name.lower(),
        "what_to_do": what_to_do(result, decision, approval),
        "decision_phrase": decision_phrase(decision, result.verdict, approval),
        "watched": [f.column for f in result.watched],
        "performance": result.performance,
        "day": result.day or str(date),
        "decision": decision,
        "decision_action": str(decision.action) if decision else "",
        "decision_reason": decision.reason if decision else "",
        "result": result,
        "rows": _feature_rows(result),
        "findings": _finding_rows(result),
        "prediction": result.prediction,
        "quality": _quality_rows(result),
        "quality_rows": cls.current_labelled_rows if cls else 0,
        "charts": charts,
        "report_url": report_url,
        "run_url": run_url,
        "drifted_pct": f"{result.drifted_share:.0%}",
        "share_threshold_pct": f"{result.drift_share_threshold:.0%}",
        "fairness": fairness_lines(result.fairness),
        "attribution": attribution_lines(result.attribution),
    }


def _feature_rows(result: DriftResult) -> list[dict[str, str]]:
    """The feature table, most drifted first."""
    return [
        {
            "column": f.column,
            "kind": f.kind,
            "method": f.method,
            "score": _fmt_score(f.score),
            "threshold": f"{f.threshold:g}",
            "drifted": "yes" if f.drifted else "no",
            "window_score": _fmt_score(f.window_score),
            "window_drifted": "yes" if f.window_drifted else "no",
        }
        for f in result.ranked_features()
    ]


def _finding_rows(result: DriftResult) -> list[dict[str, str]]:
    kind_by_column = {f.column: f.kind for f in result.features}
    return [
        {
            "column": f.column,
            "kind": kind_by_column.get(f.column, ""),
            "issue": f.issue,
            "detail": f.detail,
            "day": f.day or "",
        }
        for f in result.data_quality
    ]


def _quality_rows(result: DriftResult) -> list[dict[str, str]] | None:
    """Quality on labelled rows, current against reference; None without labelled rows."""
    cls = result.classification
    if cls is None:
        return None
    return [
        {
            "metric": k,
            "current": _fmt_score(cls.current.get(k)),
            "reference": _fmt_score(cls.reference.get(k)) if cls.reference else "n/a",
        }
        for k in ("roc_auc", "pr_auc", "log_loss", "positive_rate")
    ]


def _build(
    result: DriftResult,
    *,
    model: str,
    date: date | str,
    decision: Decision | None,
    report_url: str,
    run_url: str,
    charts: Sequence[tuple[str, bytes]],
    approval: Approval = "auto",
) -> EmailMessage:
    env = environment()
    # Content-IDs only need to be unique within the message; deterministic ones keep renders
    # reproducible (Message-ID, unique per send, is set by send_email).
    cids = [f"<chart-{i}.png>" for i in range(len(charts))]
    chart_ctx = [
        {"cid": cid[1:-1], "title": title} for cid, (title, _) in zip(cids, charts, strict=True)
    ]
    ctx = _context(
        result,
        model=model,
        date=date,
        decision=decision,
        report_url=report_url,
        run_url=run_url,
        charts=chart_ctx,
        approval=approval,
    )
    msg = EmailMessage()
    msg["Subject"] = subject_line(
        result, model=model, date=date, decision=decision, approval=approval
    )
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
) -> EmailMessage:
    """The on-call e-mail: verdict subject, what to do, feature table, inline charts, links.

    ``reference_sample``/``current_sample`` feed the charts (the frames given to ``run_drift``
    or the same samples); only the charted columns are read. Charts are dropped, last first,
    while the message exceeds ``max_bytes``. From/To are the caller's to set (see
    :func:`bantay.notify.drift_day.compose_day_email`).
    """
    d = as_decision(decision)
    charts: list[tuple[str, bytes]] = []
    for column in result.evidence_columns(len(result.features) + 1):
        if len(charts) >= top_n_charts:
            break
        if column not in reference_sample.columns or column not in current_sample.columns:
            continue
        kind = next((f.kind for f in result.features if f.column == column), "numerical")
        title = chart_title(result, column)
        png = chart_png(column, kind, reference_sample[column], current_sample[column], title)
        charts.append((title, png))
    while True:
        msg = _build(
            result,
            model=model,
            date=date,
            decision=d,
            report_url=report_url,
            run_url=run_url,
            charts=charts,
            approval=approval,
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
