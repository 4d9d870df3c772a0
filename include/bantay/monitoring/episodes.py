"""Drift episodes, decided once: when the drift still open began, and which input regime a new
version is fitted in. The drift check reads them to judge and decide; the training run is handed
them by its task edge, so a retrain records in its lineage the same first day the check e-mailed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from bantay.monitoring.guards import drift_start
from bantay.vocabulary import DRIFT_VERDICTS

# How far back an open episode is looked for; longer than any persistence or label delay.
LOOKBACK = dt.timedelta(days=120)


def episode_start(day: dt.date, history: list[Any]) -> dt.date:
    """The first day of the drift episode that ends on ``day``: its first DRIFT or PERFORMANCE
    day, or earlier the day a PERFORMANCE verdict's evidence was observed."""
    began = drift_start(day, history)
    seen = [
        r.evidence_day
        for r in history
        if began <= r.report_date <= day and getattr(r, "evidence_day", None)
    ]
    return min([began, *seen])


def drift_since(registry: Any, model: str, as_of: dt.datetime) -> dt.date | None:
    """The first day of the drift episode still open at ``as_of`` (None: none is open).

    The episode is the run of consecutive DRIFT or PERFORMANCE days that ends on the newest
    drift check before ``as_of``; it began on its first day, or earlier on the day its evidence
    was observed (a PERFORMANCE verdict rests on labels observed weeks before). Whatever started
    the run (the schedule, a drift event or a person), a version fitted on rows from that day on
    answers that drift.
    """
    reports = registry.drift.reports(model, since=as_of.date() - LOOKBACK)
    past = [r for r in reports if r.report_date < as_of.date()]
    if not past:
        return None
    newest = max(past, key=lambda r: r.report_date)
    if newest.verdict not in DRIFT_VERDICTS:
        return None
    return episode_start(newest.report_date, past)


def regime_since(registry: Any, model: str, as_of: dt.datetime) -> dt.date | None:
    """The first day of the input regime a new version is fitted in: an open drift's first
    day, else the one the serving version answered. Carried from version to version, so the
    next weekly version keeps the new regime as its reference until its own fitted days cover a
    whole reference window (else the alarm would return, the baseline moved back to old days)."""
    since = drift_since(registry, model, as_of)
    if since is not None:
        return since
    serving = registry.versions.production(model)
    fitted = ((serving.lineage or {}).get("fitted") or {}) if serving else {}
    answered = fitted.get("drift_since") if fitted.get("rows_after_drift") else None
    return dt.date.fromisoformat(answered) if answered else None
