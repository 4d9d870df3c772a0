"""What a drift day says, once: the facts the drift e-mail and the drift day page both show
(what to do, the verdict and its reason, prediction drift, quality on matured labels, the feature
table, the charts), every number written by :mod:`bantay.notify.fmt`, and rendered by the same
partials (``templates/parts/``). The e-mail gives them inline styles (mail clients drop
``<style>``); the page gives none and styles them by class, so both read the same text.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bantay.monitoring.guards import Decision
from bantay.monitoring.results import DriftResult, FeatureDrift
from bantay.notify import fmt
from bantay.notify.fairness_wording import attribution_lines, fairness_lines
from bantay.notify.templates import environment
from bantay.notify.wording import Approval, decision_phrase, subject_line, what_to_do

if TYPE_CHECKING:
    import pandas as pd

# The ``url_route`` of the pages' nav entry (``plugins/bantay_plugin.py``) and the app's own
# mount: the Airflow shell shows the framed page ``/bantay/<path>`` at
# ``/plugin/<url_route>/bantay/<path>`` (the frame's path under the route).
PAGES_ROUTE = "bantay"
APP_PREFIX = "bantay"

_COLORS = {
    "ok": "#2b8a3e",
    "watch": "#e67700",
    "drift": "#d9480f",
    "performance": "#862e9c",
    "data_quality": "#c92a2a",
    "fairness": "#1864ab",
}
# The partials, in the order the e-mail shows them.
PARTS = ("day_head", "day_facts", "day_fairness", "day_tables", "day_charts")
_CELL = "padding:3px 8px;border-bottom:1px solid #e9ecef;text-align:left;"


def drift_day_url(airflow_base_url: str, model: str, day: date | str) -> str:
    """The drift day page as Airflow's shell shows it (behind Airflow's sign-in)."""
    base = airflow_base_url.rstrip("/")
    page = f"{APP_PREFIX}/models/{quote(model, safe='')}/drift/{day}"
    return f"{base}/plugin/{PAGES_ROUTE}/{page}"


def email_css(verdict_key: str) -> dict[str, str]:
    """Inline styles of the parts in an e-mail, by the part's element."""
    color = _COLORS[verdict_key]
    return {
        "badge": f"background:{color};color:#fff;padding:2px 8px;font-weight:bold;",
        "head": "margin:0 0 4px 0;",
        "todo": f"font-size:16px;border-left:4px solid {color};padding:6px 10px;"
        "background:#f8f9fa;",
        "list": "padding-left:18px;",
        "h": "margin:16px 0 4px 0;",
        "table": "border-collapse:collapse;",
        "cell": _CELL,
        "drifted": "background:#fff4e6;",
        "chart": "margin:4px 0;",
    }


def page_css() -> defaultdict[str, str]:
    """No inline style on the page: its stylesheet styles the parts by class, in both themes."""
    return defaultdict(str)


def day_parts(
    result: DriftResult,
    decision: Decision | None,
    *,
    model: str,
    date: date | str,
    approval: Approval = "auto",
) -> dict[str, Any]:
    """The facts of the day as text, ready for the partials."""
    key = result.verdict.name.lower()
    return {
        "model": model,
        "date": str(date),
        "day": result.day or str(date),
        "verdict": str(result.verdict),
        "verdict_key": key,
        "verdict_class": key.replace("_", "-"),
        "subject": subject_line(
            result, model=model, date=date, decision=decision, approval=approval
        ),
        "what_to_do": what_to_do(result, decision, approval),
        "decision_phrase": decision_phrase(decision, result.verdict, approval),
        "decision_action": str(decision.action) if decision else "",
        "decision_reason": decision.reason if decision else "",
        "n_drifted": fmt.count(result.n_drifted),
        "n_features": fmt.count(result.n_features),
        "drifted_pct": fmt.pct(result.drifted_share, 0),
        "share_threshold_pct": fmt.pct(result.drift_share_threshold, 0),
        "window_days": fmt.count(result.window_days),
        "watched": [f.column for f in result.watched],
        "performance": _performance(result),
        "prediction": _feature(result.prediction) if result.prediction else None,
        "rows_compared": {
            "current": fmt.count(result.current_rows),
            "current_total": fmt.count(result.current_rows_total),
            "reference": fmt.count(result.reference_rows),
            "reference_total": fmt.count(result.reference_rows_total),
        },
        "rows": [_feature(f) for f in result.ranked_features()],
        "fairness": fairness_lines(result.fairness),
        "attribution": attribution_lines(result.attribution),
        "findings": _findings(result),
        "quality": _quality(result),
        "quality_rows": fmt.count(
            result.classification.current_labelled_rows if result.classification else 0
        ),
    }


def _feature(f: FeatureDrift) -> dict[str, str]:
    return {
        "column": f.column,
        "kind": f.kind,
        "method": f.method,
        "score": fmt.num(f.score),
        "threshold": fmt.num(f.threshold),
        "drifted": "yes" if f.drifted else "no",
        "window_score": fmt.num(f.window_score),
        "window_drifted": "yes" if f.window_drifted else "no",
    }


def _performance(result: DriftResult) -> dict[str, str] | None:
    p = result.performance
    if p is None:
        return None
    return {
        "labelled_day": str(p.labelled_day),
        "rows": fmt.count(p.rows),
        **{k: fmt.num(getattr(p, k)) for k in ("current", "reference", "drop", "low", "high")},
        "tolerance": fmt.num(p.tolerance),
    }


def _findings(result: DriftResult) -> list[dict[str, str]]:
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


def _quality(result: DriftResult) -> list[dict[str, str]] | None:
    """Quality on labelled rows, current against reference; None without labelled rows."""
    cls = result.classification
    if cls is None:
        return None
    return [
        {
            "metric": k,
            "current": fmt.num(cls.current.get(k)),
            "reference": fmt.num(cls.reference.get(k)) if cls.reference else fmt.MISSING,
        }
        for k in ("roc_auc", "pr_auc", "log_loss", "positive_rate")
    ]


def chart_columns(
    result: DriftResult,
    reference_sample: pd.DataFrame,
    current_sample: pd.DataFrame,
    top_n: int = 3,
) -> list[tuple[str, str, str]]:
    """``(column, kind, title)`` of the charts of the day: the ``top_n`` evidence columns both
    samples hold (cheap: nothing is drawn)."""
    from bantay.notify.charts import chart_title  # noqa: PLC0415 (matplotlib)

    columns = [
        c
        for c in result.evidence_columns(len(result.features) + 1)
        if c in reference_sample.columns and c in current_sample.columns
    ][:top_n]
    kinds = {f.column: f.kind for f in result.features}
    return [(c, kinds.get(c, "numerical"), chart_title(result, c)) for c in columns]


def day_charts(
    result: DriftResult,
    reference_sample: pd.DataFrame,
    current_sample: pd.DataFrame,
    top_n: int = 3,
) -> list[tuple[str, bytes]]:
    """``(title, png)`` of the charts of the day (:func:`chart_columns`), reference against
    current."""
    from bantay.notify.charts import chart_png  # noqa: PLC0415 (matplotlib)

    return [
        (title, chart_png(c, kind, reference_sample[c], current_sample[c], title))
        for c, kind, title in chart_columns(result, reference_sample, current_sample, top_n)
    ]


def render_parts(context: dict[str, Any]) -> dict[str, str]:
    """Each partial rendered alone (HTML, escaped), by name: the page places them itself."""
    env = environment()
    return {name: env.get_template(f"parts/{name}.html.j2").render(context) for name in PARTS}
