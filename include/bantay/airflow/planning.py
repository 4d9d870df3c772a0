"""Run planning: which day, model and reason a run is for, from its Params, its asset events and
its data interval. Pure functions over plain values, so every rule is unit-tested without Airflow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bantay.vocabulary import DRIFT_REASON_PREFIX

DRIFT_DAG_ID = "bantay_drift"


class PlanError(ValueError):
    """A run cannot start as asked; the message says what to fill in or fix."""


@dataclass(frozen=True)
class AssetEvent:
    """What planning needs of one triggering asset event."""

    asset: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    source_dag_id: str | None = None


def events_from_context(
    triggering_asset_events: Mapping[Any, Iterable[Any]] | None,
) -> list[AssetEvent]:
    """Every queued event of an asset-triggered run (Airflow hands them all over at once)."""
    events = []
    for asset, queued in (triggering_asset_events or {}).items():
        for event in queued:
            events.append(
                AssetEvent(
                    asset=getattr(asset, "name", str(asset)),
                    extra=dict(event.extra or {}),
                    source_dag_id=getattr(event, "source_dag_id", None),
                )
            )
    return events


def drift_reason(model: str, events: list[AssetEvent]) -> str:
    """One reason for all of a model's queued drift events, deduplicated by the day checked.

    Events from ``bantay_drift`` carry its summary and report; an event created by hand (the
    "create asset event" button) must say why in its extra, or the run is refused: a retrain
    that skipped the guards needs a person's reason as much as a manual trigger does.
    """
    mine = [e for e in events if e.asset == f"drift/{model}"]
    if not mine:
        raise PlanError(f"no drift/{model} event among {[e.asset for e in events]}")
    parts: dict[str, str] = {}
    for event in mine:
        if event.source_dag_id == DRIFT_DAG_ID:
            day = str(event.extra.get("date", "?"))
            parts[day] = (
                f"{DRIFT_REASON_PREFIX} on {day}: {event.extra.get('summary', 'drift confirmed')} "
                f"(report {event.extra.get('report_json', 'n/a')})"
            )
            continue
        reason = str(event.extra.get("reason") or "").strip()
        if not reason:
            raise PlanError(
                f"a drift/{model} event not sent by {DRIFT_DAG_ID} (source: "
                f"{event.source_dag_id or 'created by hand'}) has no 'reason' in its extra; "
                'create it with extra {"reason": "why retrain now"}, or trigger the training '
                "DAG with a reason"
            )
        parts[f"manual:{reason}"] = f"{DRIFT_REASON_PREFIX} by hand: {reason}"
    return "; ".join(parts[k] for k in sorted(parts))


def drift_as_of(model: str, events: list[AssetEvent]) -> dt.datetime | None:
    """The end of the newest day that ``bantay_drift`` checked among the events: a drift retrain
    learns the data that the decision saw, keyed on its data time, never on when the event
    happened to be processed (None: no checked day, e.g. an event created by hand)."""
    days = []
    for event in events:
        if event.asset == f"drift/{model}" and event.source_dag_id == DRIFT_DAG_ID:
            try:
                days.append(dt.date.fromisoformat(str(event.extra.get("date"))))
            except ValueError:
                continue
    if not days:
        return None
    return dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time(), dt.UTC)


@dataclass(frozen=True)
class TrainingPlan:
    reason: str
    as_of: str
    force_reason: str | None
    trigger: str  # schedule | drift | manual


def plan_training(
    model: str,
    params: Mapping[str, Any],
    run_type: str,
    events: list[AssetEvent],
    run_after: dt.datetime,
) -> TrainingPlan:
    """Why this training run happens, and as of when; PlanError when a person must say more."""
    run_type = str(run_type).lower()
    reason = str(params.get("reason") or "").strip()
    if events:
        trigger, reason = "drift", drift_reason(model, events)
    elif "scheduled" in run_type:
        trigger, reason = "schedule", reason or "training schedule"
    elif reason:
        trigger = "manual"
    else:
        raise PlanError("a manual training run needs a 'reason' in the trigger form")
    force_reason = None
    if params.get("force"):
        force_reason = str(params.get("force_reason") or "").strip()
        if not force_reason:
            raise PlanError(
                "'force' needs a written 'force_reason'; it is audited with the version"
            )
    as_of = params.get("as_of") or (drift_as_of(model, events) or run_after).isoformat()
    try:
        dt.datetime.fromisoformat(as_of)
    except ValueError:
        raise PlanError(
            f"as_of {as_of!r} is not an ISO date-time, e.g. 2026-11-01T00:00:00+00:00"
        ) from None
    return TrainingPlan(reason=reason, as_of=as_of, force_reason=force_reason, trigger=trigger)


def training_window(as_of: str | dt.datetime, window_days: int) -> list[dt.date]:
    """The days a training run reads: ``window_days`` days ending the day before ``as_of``.

    The day of ``as_of`` itself is not waited for: its partitions are still arriving, and
    ``bantay_features`` validates a day only once it has ended.
    """
    if window_days < 1:
        raise PlanError(f"training_window_days is {window_days}; it must be at least 1")
    when = as_of if isinstance(as_of, dt.datetime) else dt.datetime.fromisoformat(as_of)
    last = when.date() - dt.timedelta(days=1)
    return [last - dt.timedelta(days=i) for i in range(window_days - 1, -1, -1)]


def days_to_process(
    params: Mapping[str, Any] | None,
    interval_start: dt.datetime | None,
    interval_end: dt.datetime | None,
) -> list[dt.date]:
    """The features DAG's days: the Param range (inclusive) for a backfill, else the interval."""
    if params and params.get("start_date"):
        start = dt.date.fromisoformat(params["start_date"])
        end = dt.date.fromisoformat(params.get("end_date") or params["start_date"])
    elif interval_start is not None and interval_end is not None:
        start = interval_start.date()
        end = (interval_end - dt.timedelta(microseconds=1)).date()
    else:
        raise PlanError("no data interval and no start_date: give start_date in the trigger form")
    if end < start:
        raise PlanError(f"end_date {end} is before start_date {start}; swap them")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def days_to_score(
    params: Mapping[str, Any], events: list[AssetEvent], run_after: dt.datetime
) -> list[str]:
    """The days a scoring run may score, oldest first: the Param date alone; else every day the
    features events covered (a catch-up or a backfill accepts several); else the day before the
    run. :func:`unscored_days` narrows them per model."""
    if params.get("date"):
        return [str(params["date"])]
    days = sorted({d for e in events for d in e.extra.get("days", [])})
    return days or [(run_after.date() - dt.timedelta(days=1)).isoformat()]


def unscored_days(days: list[str], scored: Callable[[str], bool]) -> list[str]:
    """Of ``days`` (oldest first), those with no prediction log yet (``scored(day)`` false), and
    always the newest: a features run that accepted several days (after an outage, or a range
    given by hand) gets each of them scored once, while a day already scored keeps the log of
    what was served then. The newest day is scored again, as a re-run of the night would."""
    return [d for d in days[:-1] if not scored(d)] + days[-1:]


def held_by_features(events: list[AssetEvent]) -> dict[str, str]:
    """Models a features run held back from scoring (a feed they read was quarantined or
    missing), with why; a model any of the queued events released is not held."""
    released = {m for e in events for m in e.extra.get("models", [])}
    return {
        model: why
        for e in events
        for model, why in (e.extra.get("held") or {}).items()
        if model not in released
    }
