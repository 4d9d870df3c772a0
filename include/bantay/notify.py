"""The on-call drift e-mail: render it (Jinja2 + small inline charts) and send it over SMTP.

On-call reads this at 7 a.m. and must know in ten seconds whether to act, so the subject carries
the verdict and what happened, and the body opens with one sentence saying what to do. Details
follow (features by drift score, a few reference-vs-current charts); the full Evidently report
is megabytes and is only linked (a presigned URL), never attached. No learner ids, no secrets:
the e-mail is built from the drift result's column-level numbers only.

Sending goes through Airflow's SMTP provider so the ``smtp_default`` Connection (Mailpit, a
relay, or the test server) decides where mail goes; the message is prebuilt
(``multipart/alternative`` with a ``multipart/related`` HTML part), so it is handed to the
hook's authenticated client rather than to ``send_email_smtp``, which builds its own MIME.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
import uuid
from collections.abc import Sequence
from datetime import date
from email.message import EmailMessage
from email.utils import getaddresses
from functools import cache
from typing import TYPE_CHECKING, Any

from bantay.monitoring import Action, Decision, DriftResult, Verdict

if TYPE_CHECKING:
    import jinja2
    import pandas as pd

log = logging.getLogger(__name__)

MAX_EMAIL_BYTES = 300_000
CHART_SIZE_PX = (480, 160)
_CHART_DPI = 100
_MAX_BARS = 15  # integer columns with at most this many values are drawn as bars
_GREY, _ORANGE = "#9e9e9e", "#d9480f"


class EmailDeliveryError(RuntimeError):
    """The drift e-mail could not be delivered; the message names the server, never secrets."""


# ---------------------------------------------------------------------------------------------
# wording
# ---------------------------------------------------------------------------------------------


def _as_decision(decision: Decision | Action | str | None) -> Decision | None:
    if decision is None or isinstance(decision, Decision):
        return decision
    return Decision(Action(str(decision)), reason="")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _broken_summary(result: DriftResult) -> str:
    columns = [c for c in result.broken_columns if c != "*"]
    parts = []
    if columns:
        parts.append(f"broken feed in {_plural(len(columns), 'column')}")
    if any(f.issue == "too_few_rows" for f in result.data_quality):
        parts.append(f"only {result.current_rows_total} rows in the window")
    return " and ".join(parts) or "data-quality problem"


def _decision_phrase(decision: Decision | None) -> str:
    if decision is None:
        return ""
    phrases = {
        Action.RETRAIN_TRIGGERED: "retraining started",
        Action.ALREADY_TRIGGERED: "retraining already started",
        Action.HELD_COOLDOWN: f"guard held (cooldown until {decision.until})",
        Action.HELD_PERSISTENCE: (
            f"guard held (persistence: day {decision.streak} of {decision.needed})"
            if decision.needed
            else "guard held (persistence)"
        ),
        Action.HELD_RUNNING: "guard held (a retrain is already running)",
        Action.HELD_RATE_LIMIT: "guard held (retrain rate limit reached)",
        Action.DATA_QUALITY_ALERT: "retraining blocked",
        Action.NO_ACTION: "",
    }
    return phrases[decision.action]


def subject_line(
    result: DriftResult,
    *,
    model: str,
    date: date | str,
    decision: Decision | Action | str | None = None,
) -> str:
    """``[bantay] <VERDICT> <model> <date>: <what happened>, <what the guards did>``."""
    d = _as_decision(decision)
    n, total = result.n_drifted, result.n_features
    if result.verdict is Verdict.DATA_QUALITY:
        what = _broken_summary(result)
        tail = "retraining blocked"
    elif result.verdict is Verdict.DRIFT:
        what = f"{n} of {total} features drifted"
        if result.prediction is not None and result.prediction.drifted:
            what = f"prediction drifted, {what}"
        tail = _decision_phrase(d)
    elif n == 0:
        what, tail = f"no drift (0 of {total} features)", ""
    else:
        what = (
            f"no dataset drift ({n} of {total} features drifted, "
            f"below {result.drift_share_threshold:.0%})"
        )
        tail = ""
    text = f"[bantay] {result.verdict} {model} {date}: {what}"
    return f"{text}, {tail}" if tail else text


def what_to_do(result: DriftResult, decision: Decision | Action | str | None = None) -> str:
    """The one sentence on-call needs first, by verdict and guard decision."""
    d = _as_decision(decision)
    if result.verdict is Verdict.DATA_QUALITY:
        columns = [c for c in result.broken_columns if c != "*"]
        issues = sorted({f.issue.replace("_", " ") for f in result.data_quality})
        where = f"for {', '.join(columns)}" if columns else "(row volume)"
        return (
            f"Data engineers: check the upstream feed {where} ({', '.join(issues)}); "
            "do not retrain on this data. Automatic retraining is blocked until the feed is fixed."
        )
    if result.verdict is Verdict.OK:
        return "Nothing to do: the model's inputs and predictions look like its reference."
    action = d.action if d else None
    if action is Action.RETRAIN_TRIGGERED:
        return (
            "Nothing to do now: retraining started automatically. Review the candidate model "
            "when the training run asks for approval."
        )
    if action is Action.ALREADY_TRIGGERED:
        return "Nothing to do: retraining for this date was already started."
    if action is Action.HELD_PERSISTENCE:
        days = f" (day {d.streak} of {d.needed})" if d and d.needed else ""
        return (
            f"Watch: drift is new{days}; retraining starts automatically if it persists. "
            "Check the top features below for an upstream cause."
        )
    if action is Action.HELD_COOLDOWN:
        return (
            f"The model was retrained recently; automatic retraining is held until "
            f"{d.until if d else 'the cooldown ends'}. If quality is suffering, trigger the "
            "training DAG manually in Airflow."
        )
    if action is Action.HELD_RUNNING:
        return "A retrain is already running: follow it in Airflow; no new one was started."
    if action is Action.HELD_RATE_LIMIT:
        return (
            "A person must look: drift keeps returning after automatic retrains (rate limit "
            "reached). Look for a lasting change or a broken feature before training again."
        )
    return "Review the drifted features below and decide whether to retrain."


# ---------------------------------------------------------------------------------------------
# charts
# ---------------------------------------------------------------------------------------------


def _chart_columns(result: DriftResult, top_n: int) -> list[str]:
    """Broken columns first (the evidence for DATA QUALITY), then the most drifted features."""
    if top_n <= 0 or result.verdict is Verdict.OK:
        return []
    drifted = [f.column for f in result.ranked_features() if f.drifted]
    broken = [c for c in result.broken_columns if c != "*"]
    return list(dict.fromkeys([*broken, *drifted]))[:top_n]


def chart_png(
    column: str, kind: str, reference: pd.Series, current: pd.Series, title: str
) -> bytes:
    """A small reference-vs-current histogram (numerical) or share bar chart (categorical)."""
    import io

    import numpy as np
    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(CHART_SIZE_PX[0] / _CHART_DPI, CHART_SIZE_PX[1] / _CHART_DPI))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ref_n = pd.to_numeric(reference, errors="coerce").dropna()
    cur_n = pd.to_numeric(current, errors="coerce").dropna()
    both = pd.concat([ref_n, cur_n])
    discrete = kind == "categorical" or (
        both.nunique() <= _MAX_BARS and bool((both == both.round()).all())
    )
    if discrete:
        if kind == "categorical":
            ref_s = reference.dropna().astype(str).value_counts(normalize=True)
            cur_s = current.dropna().astype(str).value_counts(normalize=True)
        else:
            ref_s = ref_n.value_counts(normalize=True)
            cur_s = cur_n.value_counts(normalize=True)
        cats = sorted(set(ref_s.index) | set(cur_s.index))[:_MAX_BARS]
        x = np.arange(len(cats))
        ax.bar(x - 0.2, [ref_s.get(c, 0.0) for c in cats], 0.4, label="reference", color=_GREY)
        ax.bar(x + 0.2, [cur_s.get(c, 0.0) for c in cats], 0.4, label="current", color=_ORANGE)
        labels = [f"{c:g}" if isinstance(c, float) else str(c)[:12] for c in cats]
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_ylabel("share", fontsize=7)
    elif len(both):
        lo, hi = np.quantile(both.to_numpy(dtype=float), [0.005, 0.995])
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 31)
        for values, label, color in ((ref_n, "reference", _GREY), (cur_n, "current", _ORANGE)):
            if len(values):
                ax.hist(
                    values.clip(lo, hi).to_numpy(dtype=float),
                    bins=bins,
                    density=True,
                    histtype="step",
                    linewidth=1.5,
                    label=label,
                    color=color,
                )
        ax.set_yticks([])
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=8, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    fig.tight_layout(pad=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_CHART_DPI)
    return buf.getvalue()


def _chart_title(result: DriftResult, column: str) -> str:
    feature = next((f for f in result.features if f.column == column), None)
    issues = [f.issue.replace("_", " ") for f in result.data_quality if f.column == column]
    parts = [column]
    if feature is not None and feature.score is not None:
        parts.append(f"{feature.method} {feature.score:.3g} (threshold {feature.threshold:g})")
    if issues:
        parts.append(", ".join(dict.fromkeys(issues)))
    return " | ".join(parts)


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------


@cache
def _env() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("bantay", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


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
) -> dict[str, Any]:
    kind_by_column = {f.column: f.kind for f in result.features}
    rows = [
        {
            "column": f.column,
            "kind": f.kind,
            "method": f.method,
            "score": _fmt_score(f.score),
            "threshold": f"{f.threshold:g}",
            "drifted": "yes" if f.drifted else "no",
        }
        for f in result.ranked_features()
    ]
    cls = result.classification
    quality = None
    if cls is not None:
        keys = ("roc_auc", "pr_auc", "log_loss", "positive_rate")
        quality = [
            {
                "metric": k,
                "current": _fmt_score(cls.current.get(k)),
                "reference": _fmt_score(cls.reference.get(k)) if cls.reference else "n/a",
            }
            for k in keys
        ]
    return {
        "model": model,
        "date": str(date),
        "verdict": str(result.verdict),
        "verdict_key": result.verdict.name.lower(),
        "what_to_do": what_to_do(result, decision),
        "decision": decision,
        "decision_action": str(decision.action) if decision else "",
        "decision_reason": decision.reason if decision else "",
        "result": result,
        "rows": rows,
        "findings": [
            {
                "column": f.column,
                "kind": kind_by_column.get(f.column, ""),
                "issue": f.issue,
                "detail": f.detail,
            }
            for f in result.data_quality
        ],
        "prediction": result.prediction,
        "quality": quality,
        "quality_rows": cls.current_labelled_rows if cls else 0,
        "charts": charts,
        "report_url": report_url,
        "run_url": run_url,
        "drifted_pct": f"{result.drifted_share:.0%}",
        "share_threshold_pct": f"{result.drift_share_threshold:.0%}",
    }


def _build(
    result: DriftResult,
    *,
    model: str,
    date: date | str,
    decision: Decision | None,
    report_url: str,
    run_url: str,
    charts: Sequence[tuple[str, bytes]],
) -> EmailMessage:
    env = _env()
    # Content-IDs only need to be unique within the message; deterministic ones keep renders
    # reproducible (Message-ID, unique per send, is set by send_email).
    cids = [f"<chart-{i}@bantay.local>" for i in range(len(charts))]
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
    )
    msg = EmailMessage()
    msg["Subject"] = subject_line(result, model=model, date=date, decision=decision)
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
) -> EmailMessage:
    """The on-call e-mail: verdict subject, what to do, feature table, inline charts, links.

    ``reference_sample``/``current_sample`` feed the charts (the frames given to ``run_drift``
    or the same samples); only the charted columns are read. Charts are dropped, last first,
    while the message exceeds ``max_bytes``. From/To are set by :func:`send_email`.
    """
    d = _as_decision(decision)
    charts: list[tuple[str, bytes]] = []
    for column in _chart_columns(result, top_n_charts):
        if column not in reference_sample.columns or column not in current_sample.columns:
            continue
        kind = next((f.kind for f in result.features if f.column == column), "numerical")
        title = _chart_title(result, column)
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
        )
        size = len(msg.as_bytes())
        if size <= max_bytes or not charts:
            break
        log.warning("drift e-mail is %d bytes (> %d); dropping a chart", size, max_bytes)
        charts = charts[:-1]
    if size > max_bytes:
        log.warning("drift e-mail is %d bytes even without charts (limit %d)", size, max_bytes)
    return msg


# ---------------------------------------------------------------------------------------------
# sending
# ---------------------------------------------------------------------------------------------


def _addresses(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [addr for _, addr in getaddresses(items) if addr]


def _is_transient(exc: BaseException) -> bool:
    """Worth retrying: the server was unreachable, dropped us, or answered 4xx."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(exc, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPException | ssl.SSLError):
        return False
    if isinstance(exc, OSError):  # refused, reset, timed out
        return True
    return "Unable to connect to smtp server" in str(exc)  # the hook's own retries gave up


def _hint(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "check the connection's login and password"
    if isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLError):
        return "check the connection's TLS/SSL extras (disable_tls, disable_ssl) and login"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "check the recipient addresses"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return "check the sender address (from_email)"
    return "check that the SMTP server is up and reachable from the worker"


def send_email(
    msg: EmailMessage,
    conn_id: str = "smtp_default",
    *,
    recipients: str | Sequence[str] | None = None,
    sender: str | None = None,
    attempts: int = 4,
    backoff_seconds: float = 2.0,
) -> None:
    """Send a prebuilt message through the Airflow SMTP connection ``conn_id``.

    Recipients default to the message's To/Cc; the sender to its From, then the connection's
    ``from_email`` extra. Transient failures (unreachable, disconnected, 4xx) are retried with
    exponential backoff; permanent ones (5xx, auth, TLS) fail at once.
    """
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    to = _addresses(recipients) or _addresses([*msg.get_all("To", []), *msg.get_all("Cc", [])])
    if not to:
        raise ValueError("no recipients: pass recipients= or set the message's To header")
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")

    where = f"connection {conn_id!r}"
    last: BaseException | None = None
    for attempt in range(1, attempts + 1):
        hook = SmtpHook(smtp_conn_id=conn_id)
        try:
            with hook:
                conn = hook.conn
                where = f"{conn.host}:{conn.port} (connection {conn_id!r})"
                from_addr = sender or (_addresses(msg["From"]) or [None])[0] or hook.from_email
                if not from_addr:
                    raise EmailDeliveryError(
                        f"no sender for the e-mail via {where}: pass sender= or set the "
                        "connection's from_email extra"
                    )
                out = _addressed(msg, from_addr, to)
                client = getattr(hook, "_smtp_client", None)
                if client is None:
                    raise EmailDeliveryError(
                        "the installed SMTP provider exposes no client on SmtpHook; bantay "
                        "expects apache-airflow-providers-smtp 3.x"
                    )
                refused = client.send_message(out, from_addr=from_addr, to_addrs=to)
            if refused:
                log.warning("SMTP %s refused recipients %s", where, sorted(refused))
            log.info("drift e-mail sent via %s to %d recipient(s)", where, len(to) - len(refused))
            return
        except EmailDeliveryError:
            raise
        except Exception as exc:  # classified below: transient -> retry, else fail now
            c = getattr(hook, "smtp_connection", None)
            if c is not None:
                where = f"{c.host}:{c.port} (connection {conn_id!r})"
            if "connection is not found" in str(exc):
                raise EmailDeliveryError(
                    f"Airflow connection {conn_id!r} is not defined: add it in the UI or set "
                    f"AIRFLOW_CONN_{conn_id.upper()}"
                ) from exc
            if not _is_transient(exc):
                raise EmailDeliveryError(
                    f"sending the e-mail via SMTP {where} failed: {type(exc).__name__}: {exc}; "
                    f"{_hint(exc)} (not retried: the error is not transient)"
                ) from exc
            last = exc
            if attempt < attempts:
                delay = backoff_seconds * 2 ** (attempt - 1)
                log.warning(
                    "SMTP %s attempt %d/%d failed (%s: %s); retrying in %.1fs",
                    where,
                    attempt,
                    attempts,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                time.sleep(delay)
    raise EmailDeliveryError(
        f"could not send the e-mail via SMTP {where} after {attempts} attempts: "
        f"{type(last).__name__}: {last}; {_hint(last) if last else ''}"
    ) from last


def _addressed(msg: EmailMessage, sender: str, to: Sequence[str]) -> EmailMessage:
    """A copy with From/To/Date set, leaving the caller's message untouched."""
    import copy
    from email.utils import formatdate

    out = copy.deepcopy(msg)
    if out["From"] is None:
        out["From"] = sender
    if out["To"] is None:
        out["To"] = ", ".join(to)
    if out["Date"] is None:
        out["Date"] = formatdate(localtime=False)
    if out["Message-ID"] is None:
        out["Message-ID"] = f"<{uuid.uuid4().hex}@bantay.local>"
    return out
