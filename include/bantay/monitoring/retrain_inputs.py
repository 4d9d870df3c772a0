"""What the retrain decision weighs besides the day's verdict: retrains that already answered the
drift (promoted, or fitted on its rows), whether production's quality holds on labels since the
drift began, when the drifted period's labels mature, and the next scheduled training run."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pandas as pd
from croniter import croniter

from bantay.monitoring.episodes import episode_start
from bantay.monitoring.guards import Decision
from bantay.monitoring.results import DriftResult
from bantay.monitoring.window import MATURED
from bantay.schema import TIMESTAMP
from bantay.settings import ModelSettings
from bantay.training.lineage import fitted_until
from bantay.vocabulary import DRIFT_VERDICTS, Action, Verdict, is_drift_reason

if TYPE_CHECKING:
    from bantay.stores.registry import BaselineRecord


def labels_ready_on(labels: pd.DataFrame, drift_start: dt.date, label: str) -> dt.date | None:
    """When the first labels observed on or after ``drift_start`` mature; None if they have.

    Estimated from the label feed itself: the delay between observation and maturity, and
    the spacing of observation days.
    """
    if labels.empty:
        return None
    observed = pd.to_datetime(labels[TIMESTAMP], utc=True).dt.date
    if observed.max() >= drift_start:
        return None
    delay = (labels[MATURED].dt.date - observed).map(lambda d: d.days).median()
    days = sorted(observed.unique())
    step = min((b - a).days for a, b in zip(days, days[1:], strict=False)) if len(days) > 1 else 7
    nxt = days[-1]
    while nxt < drift_start:
        nxt += dt.timedelta(days=max(step, 1))
    return nxt + dt.timedelta(days=int(delay))


def next_scheduled(model: ModelSettings, day: dt.date) -> dt.date | None:
    """The day of the model's next scheduled training run after ``day`` (None: manual)."""
    if not model.training_schedule:
        return None
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return croniter(model.training_schedule, start).get_next(dt.datetime).date()


def fitted_after(lineage: dict[str, Any], day: dt.date) -> bool:
    """Whether a version was fitted on rows observed on or after ``day``."""
    until = fitted_until({"lineage": lineage})
    return until is not None and until.date() >= day


def promoted_retrains(reg: Any, model: str, drift_began: dt.date | None = None) -> list[dt.date]:
    """Data times of promoted versions that drift did not trigger (schedule, a person) and that
    answer the drift under judgement.

    Drift-triggered retrains are counted from the drift history; a candidate that was never
    promoted changed nothing in production and starts no cooldown. With ``drift_began``, a
    promotion counts only if its version was fitted on rows from that day on: a scheduled
    version fitted on pre-drift data alone has not answered the drift, so it must neither
    silence it nor hold its retrain off.
    """
    versions = {v.version: v for v in reg.versions.of(model)}
    out = []
    for p in reg.promotions.of(model):
        v = versions.get(p.to_version)
        if p.kind != "promote" or v is None or is_drift_reason(v.reason):
            continue
        lineage = v.lineage or {}
        if drift_began is not None and not fitted_after(lineage, drift_began):
            continue
        as_of = lineage.get("as_of")
        out.append(dt.datetime.fromisoformat(as_of).date() if as_of else p.at.date())
    return out


def quality_holds(result: DriftResult, began: dt.date | None, tolerance: float) -> str | None:
    """What shows that production's quality holds on labels observed since the drift began
    (None: not measured on such labels, or it does not hold)."""
    p = result.performance
    if began is None or p is None or p.degraded or p.drop > tolerance:
        return None
    if dt.date.fromisoformat(p.labelled_day) < began:
        return None
    return (
        f"{p.metric} {p.current:.3f} against {p.reference:.3f} at training, within the "
        f"{tolerance:.2f} the gate allows, on {p.rows:,} labels observed {p.labelled_day}"
    )


def answered(
    result: DriftResult,
    history: list[Any],
    day: dt.date,
    manifest: dict[str, Any],
    baseline: BaselineRecord | None,
) -> Decision | None:
    """On the first quiet day after a drift, whether the version that serves answers it: fitted
    on rows from the drift's first day on, or re-baselined by a person since. None otherwise
    (the inputs went back by themselves, or nothing changed and the alarm is only quieter)."""
    past = [r for r in history if r.report_date < day]
    quiet = result.verdict in (Verdict.OK, Verdict.WATCH)
    if not quiet or not past or past[-1].verdict not in DRIFT_VERDICTS:
        return None
    began = episode_start(past[-1].report_date, past)
    version = manifest["version"]
    if baseline is not None and baseline.last_day >= began:
        return Decision(
            Action.DRIFT_ANSWERED,
            f"the drift that began on {began} is answered: {baseline.actor} re-baselined "
            f"{version} on {baseline.at:%Y-%m-%d} ({baseline.reason})",
        )
    fitted = (manifest.get("lineage") or {}).get("fitted") or {}
    if not fitted.get("rows_after_drift") or not fitted_after(manifest["lineage"], began):
        return None
    return Decision(
        Action.DRIFT_ANSWERED,
        f"the drift that began on {began} is answered: production {version} was fitted on "
        f"{fitted['rows_after_drift']:,} rows observed since {fitted['drift_since']}",
    )
