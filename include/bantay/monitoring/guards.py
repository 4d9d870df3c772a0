"""Retrain guards, pure: the verdict plus history becomes an action (persistence, cooldown, rate
limit, a retrain already running), so every guard is unit-testable without I/O."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bantay.settings.drift import GuardConfig
from bantay.vocabulary import Action, Verdict

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DayRecord:
    """One prior daily drift decision for a model (a registry ``drift_reports`` row).

    ``evidence``: the labelled day (ISO date) a PERFORMANCE verdict rested on; None when the
    day's own prediction log was the evidence (see :func:`with_evidence`).
    """

    date: date
    verdict: str
    decision: str
    evidence: str | None = None


@dataclasses.dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    until: date | None = None  # when the hold ends (cooldown, labels, the scheduled run)
    streak: int = 0  # DRIFT/PERFORMANCE days in a row incl. today, each labelled day once
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


# The registry row keeps a PERFORMANCE day's evidence in its decision detail, where a person
# reads it too: "...; evidence: labels observed on 2026-11-04".
_EVIDENCE = "evidence: labels observed on "
_EVIDENCE_RE = re.compile(re.escape(_EVIDENCE) + r"(\d{4}-\d{2}-\d{2})")


def with_evidence(detail: str, evidence: str | None) -> str:
    """``detail`` (a decision's reason) with the labelled day its verdict rested on, as the
    registry row stores it; unchanged when the day's own prediction log was the evidence."""
    return detail if evidence is None else f"{detail}; {_EVIDENCE}{evidence}"


def _evidence(rec: Any) -> str | None:
    """A record's evidence: its own ``evidence`` field, else the note in its decision detail."""

    def get(name: str) -> Any:
        return rec.get(name) if isinstance(rec, Mapping) else getattr(rec, name, None)

    for name in ("evidence", "evidence_day"):
        if get(name):
            return str(get(name))[:10]
    found = _EVIDENCE_RE.search(str(get("decision_detail") or ""))
    return found.group(1) if found else None


def _coerce(rec: Any) -> DayRecord:
    """Accept DayRecord, mappings, or registry rows (``report_date``) alike."""
    if isinstance(rec, DayRecord):
        return rec
    return DayRecord(
        date=_as_date(_field(rec, "date", "report_date")),
        verdict=str(_field(rec, "verdict")),
        decision=str(_field(rec, "decision") or ""),
        evidence=_evidence(rec),
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
    evidence: str | None = None,
    quality_holds: str | None = None,
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
    ``evidence``: the labelled day today's PERFORMANCE verdict rests on (None: today's own
    prediction log); persistence counts each labelled day once. ``quality_holds``: what shows
    that production's quality holds on labels observed since the drift began (None: not
    measured, or it does not hold); inputs that moved without hurting quality are no reason to
    retrain, and a person may re-baseline instead.
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
    if verdict is Verdict.FAIRNESS:
        return Decision(
            Action.NO_ACTION,
            "a slice's recall fell behind: a person must look; a retrain does not repair it",
        )

    streak, needed = _drift_streak(today, past, evidence), cfg.persistence_days
    held = {"streak": streak, "needed": needed}
    return (
        _hold_on_window(today, data_quality_days, retrain_running, evidence, held)
        or _hold_on_evidence(verdict, today, labels_ready, quality_holds, next_scheduled, held)
        or _hold_on_retrains(today, past, retrains, next_scheduled, cfg, held)
        or Decision(
            Action.RETRAIN_TRIGGERED,
            f"{verdict} on {streak} consecutive days (needed {cfg.persistence_days})",
            **held,
        )
    )


def _hold_on_window(
    today: date,
    data_quality_days: Sequence[date | str],
    retrain_running: bool,
    evidence: str | None,
    held: dict[str, int],
) -> Decision | None:
    """Held by the window itself: broken days in it, a retrain running, or too short a streak."""
    streak, needed = held["streak"], held["needed"]
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
        once = "; labels of one labelled day count once" if evidence is not None else ""
        return Decision(
            Action.HELD_PERSISTENCE,
            f"drift on {streak} of {needed} consecutive days needed{once}",
            until=today + timedelta(days=needed - streak),
            **held,
        )
    return None


def _hold_on_evidence(
    verdict: Verdict,
    today: date,
    labels_ready: date | None,
    quality_holds: str | None,
    next_scheduled: date | None,
    held: dict[str, int],
) -> Decision | None:
    """Held on what a retrain would learn from: labels not matured yet, or quality that holds."""
    if verdict is Verdict.DRIFT and labels_ready is not None and labels_ready > today:
        return Decision(
            Action.HELD_LABELS,
            f"the labels of the drifted period mature on {labels_ready}; a retrain before then "
            "would learn pre-drift data only, so it starts then if the drift persists",
            until=labels_ready,
            **held,
        )
    if verdict is Verdict.DRIFT and quality_holds:
        return Decision(
            Action.HELD_QUALITY,
            f"inputs moved, quality holds ({quality_holds}): no retrain; if the new inputs are "
            "the norm, re-baseline (bantay rebaseline); a scheduled retrain learns them too",
            until=next_scheduled,
            **held,
        )
    return None


def _hold_on_retrains(
    today: date,
    past: Sequence[DayRecord],
    retrains: Iterable[date | datetime],
    next_scheduled: date | None,
    cfg: GuardConfig,
    held: dict[str, int],
) -> Decision | None:
    """Held by earlier retrains: the cooldown (or the sooner scheduled run), the rate limit."""
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
        until = min(recent) + timedelta(days=7) if recent else None
        return Decision(
            Action.HELD_RATE_LIMIT,
            f"{len(recent)} drift-triggered or promoted retrains in the last 7 days "
            f"(limit {cfg.max_retrains_per_7d}); a person must look"
            + (f"; the limit releases on {until}" if until else ""),
            until=until,
            **held,
        )
    return None


def drift_start(today: date, history: Iterable[Any]) -> date:
    """The first day of the drift streak that ends today (today when the streak is new)."""
    past = [r for r in (_coerce(x) for x in history) if r.date < today]
    return today - timedelta(days=len(_streak_days(today, past)))


def _streak_days(today: date, past: Sequence[DayRecord]) -> list[DayRecord]:
    """The DRIFT or PERFORMANCE days in a row before today, newest first; a missing day or
    any other verdict ends them."""
    by_day = {r.date: r for r in past}
    days, day = [], today - timedelta(days=1)
    while (rec := by_day.get(day)) is not None and rec.verdict in (
        Verdict.DRIFT,
        Verdict.PERFORMANCE,
    ):
        days.append(rec)
        day -= timedelta(days=1)
    return days


def _drift_streak(today: date, past: Sequence[DayRecord], evidence: str | None = None) -> int:
    """Days with their own evidence in the run of DRIFT or PERFORMANCE days ending today
    (today counts).

    A day whose own prediction log moved is its own evidence. A PERFORMANCE day resting on a
    labelled day counts once for that labelled day: matured labels stay in the lookback for
    weeks, and the same labels judged again are not a second observation of the change.
    """
    labelled: set[str] = set()
    streak = 0
    for day_evidence in (evidence, *(r.evidence for r in _streak_days(today, past))):
        if day_evidence is None:
            streak += 1
        elif day_evidence not in labelled:
            labelled.add(day_evidence)
            streak += 1
    return streak
