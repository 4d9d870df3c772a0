"""Retrain guards, pure: the verdict plus history becomes an action (persistence, cooldown, rate
limit, a retrain already running), so every guard is unit-testable without I/O."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bantay.monitoring.config import GuardConfig, Verdict

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


class Action(StrEnum):
    RETRAIN_TRIGGERED = "retrain_triggered"
    ALREADY_TRIGGERED = "already_triggered"
    HELD_PERSISTENCE = "guard_held:persistence"
    HELD_COOLDOWN = "guard_held:cooldown"
    HELD_RUNNING = "guard_held:running"
    HELD_RATE_LIMIT = "guard_held:rate_limit"
    HELD_DATA_QUALITY = "guard_held:data_quality"
    HELD_LABELS = "guard_held:labels"
    HELD_SCHEDULED = "guard_held:scheduled"
    NO_ACTION = "no_action"
    DATA_QUALITY_ALERT = "data_quality_alert"


@dataclasses.dataclass(frozen=True)
class DayRecord:
    """One prior daily drift decision for a model (a registry ``drift_reports`` row)."""

    date: date
    verdict: str
    decision: str


@dataclasses.dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    until: date | None = None  # when the hold ends (cooldown, labels, the scheduled run)
    streak: int = 0  # consecutive DRIFT days incl. today
    needed: int = 0  # consecutive DRIFT days the persistence guard asks for

    @property
    def triggers_retrain(self) -> bool:
        return self.action is Action.RETRAIN_TRIGGERED


def _field(rec: Any, *names: str) -> Any:
    for n in names:
        if isinstance(rec, Mapping) and n in rec:
            return rec[n]
        if hasattr(rec, n):
            return getattr(rec, n)
    raise ValueError(f"history record {rec!r} has none of the fields {names}")


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _coerce(rec: Any) -> DayRecord:
    """Accept DayRecord, mappings, or registry rows (``report_date``) alike."""
    if isinstance(rec, DayRecord):
        return rec
    return DayRecord(
        date=_as_date(_field(rec, "date", "report_date")),
        verdict=str(_field(rec, "verdict")),
        decision=str(_field(rec, "decision") or ""),
    )


def decide_retrain(
    verdict: Verdict | str,
    today: date,
    history: Iterable[Any],
    cfg: GuardConfig,
    *,
    retrain_running: bool = False,
    retrains: Iterable[date | datetime] = (),
    data_quality_days: Sequence[date | str] = (),
    labels_ready: date | None = None,
    next_scheduled: date | None = None,
) -> Decision:
    """Decide whether today's verdict triggers a retrain, without I/O.

    ``history``: prior daily records (date, verdict, decision) of this model; a record for
    ``today`` itself (a re-run) is honoured for idempotency and otherwise ignored.
    ``retrains``: data times of promoted retrains that drift did not trigger (schedule, a
    person); with the drift-triggered ones in ``history`` they feed the cooldown and the rate
    limit. A candidate that was never promoted changes nothing and does not count.
    ``data_quality_days``: days of the window with a data-quality finding: no drift retrain
    while the window holds broken data. ``labels_ready``: the day the labels of the drifted
    period mature, when that is after today: a retrain before then learns pre-drift data only.
    ``next_scheduled``: the day of the next scheduled training run, said when it comes first.
    """
    verdict = Verdict(str(verdict))
    records = sorted((_coerce(r) for r in history), key=lambda r: r.date)
    same_day = [r for r in records if r.date == today]
    past = [r for r in records if r.date < today]
    if any(r.decision == Action.RETRAIN_TRIGGERED for r in same_day):
        return Decision(
            Action.ALREADY_TRIGGERED,
            f"a retrain was already triggered for {today}; re-running the date does not repeat it",
        )
    if verdict is Verdict.DATA_QUALITY:
        return Decision(
            Action.DATA_QUALITY_ALERT,
            "broken feed: retraining on it would learn the breakage; fix the feed first",
        )
    if verdict in (Verdict.OK, Verdict.WATCH):
        return Decision(Action.NO_ACTION, "no drift" if verdict is Verdict.OK else "watching")

    streak, needed = _drift_streak(today, past), cfg.persistence_days
    held = {"streak": streak, "needed": needed}
    if data_quality_days:
        days = ", ".join(sorted({str(d)[:10] for d in data_quality_days}))
        return Decision(
            Action.HELD_DATA_QUALITY,
            f"the window holds data-quality findings ({days}); no retrain on broken data",
            **held,
        )
    if retrain_running:
        return Decision(Action.HELD_RUNNING, "a retrain of this model is already running", **held)
    if streak < needed:
        return Decision(
            Action.HELD_PERSISTENCE,
            f"drift on {streak} of {needed} consecutive days needed",
            **held,
        )
    if verdict is Verdict.DRIFT and labels_ready is not None and labels_ready > today:
        return Decision(
            Action.HELD_LABELS,
            f"the labels of the drifted period mature on {labels_ready}; a retrain before then "
            "would learn pre-drift data only, so it starts then if the drift persists",
            until=labels_ready,
            **held,
        )
    triggered = [r.date for r in past if r.decision == Action.RETRAIN_TRIGGERED]
    done = sorted({*(_as_date(t) for t in retrains), *triggered})
    last = max((d for d in done if d <= today), default=None)
    if last is not None and (today - last).days < cfg.cooldown_days:
        until = last + timedelta(days=cfg.cooldown_days)
        if next_scheduled is not None and today <= next_scheduled <= until:
            return Decision(
                Action.HELD_SCHEDULED,
                f"retrained on {last}; the scheduled retrain on {next_scheduled} comes before "
                f"the {cfg.cooldown_days}-day cooldown ends",
                until=next_scheduled,
                **held,
            )
        return Decision(
            Action.HELD_COOLDOWN,
            f"retrained on {last}; cooldown of {cfg.cooldown_days} days until {until}",
            until=until,
            **held,
        )
    recent = [d for d in done if 0 <= (today - d).days < 7]
    if len(recent) >= cfg.max_retrains_per_7d:
        return Decision(
            Action.HELD_RATE_LIMIT,
            f"{len(recent)} drift-triggered or promoted retrains in the last 7 days "
            f"(limit {cfg.max_retrains_per_7d}); a person must look",
            **held,
        )
    return Decision(
        Action.RETRAIN_TRIGGERED,
        f"{verdict} on {streak} consecutive days (needed {cfg.persistence_days})",
        **held,
    )


def drift_start(today: date, history: Iterable[Any]) -> date:
    """The first day of the drift streak that ends today (today when the streak is new)."""
    past = [r for r in (_coerce(x) for x in history) if r.date < today]
    return today - timedelta(days=_drift_streak(today, past) - 1)


def _drift_streak(today: date, past: Sequence[DayRecord]) -> int:
    """Consecutive DRIFT or PERFORMANCE days ending today (today counts); a missing day breaks
    the streak."""
    by_day = {r.date: r.verdict for r in past}
    streak, day = 1, today - timedelta(days=1)
    while by_day.get(day) in (Verdict.DRIFT, Verdict.PERFORMANCE):
        streak += 1
        day -= timedelta(days=1)
    return streak
