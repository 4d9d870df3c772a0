"""Is a training window complete? Every day a training run reads must be decided by the contract.

A training run reads, for every day of its window (``as_of - training_window_days`` up to the day
before ``as_of``), the accepted partitions of its model's feature sources (Feast's offline store)
and of its label source. A window that a ``bantay_features`` run is still loading looks exactly
like a complete one to the point-in-time join, so a model fitted on half of it passes for a model
of all of it. Training therefore starts fitting only when every (source, day) is *decided*:

``accepted``
    the contract passed it (``accepted/<source>/date=D/part-0.parquet``).
``quarantined``
    the contract rejected it and said why (``quarantine/<source>/date=D/attempt-N/reason.json``)
    and nothing was delivered since. A verdict, not a gap: those rows are untrustworthy and are
    never read, and waiting would hold every retrain until a person re-delivers the day, which
    may never happen. The day is listed in the check's result, so the run says what it lacks.
``absent``
    nothing was ever delivered and the day is *closed* (below): it will not come by itself.
    Training goes on without it and lists it, as for a quarantined day.

It waits while a day is

``in a run``
    a queued or running ``bantay_features`` run covers it (its days, and the earlier days its
    allowed lateness reaches back into): it is being validated, rewritten or materialized now.
    A run that has not planned its days yet holds the whole window until it has.
``being written``
    ``accepted/<source>/date=D/.part-0.parquet.tmp`` exists: the contract is replacing the day.
``delivered``
    raw rows are there with no verdict yet (a backfill not run yet, or a re-delivery after a
    quarantine): the contract has yet to see them, and they never become absent.
``missing``
    nothing delivered, and the day is not closed yet.

A day with nothing delivered is closed when ``bantay_features`` can no longer pick it up on its
own: (1) a later day has been decided, at least ``max_lateness_days`` (and at least one day)
later for a feature source (the run of that day is the last to look for a late delivery), or at
least ``max_lateness_days`` later for a label source, whose feed delivers only when outcomes
mature, judged on the days when every feature source was decided (the run that validated them
checked the labels delivered by then); and (2) the features run of the day itself has stopped
waiting: ``features.sensor_timeout_hours`` after the end of the day have passed.

Materialization into the online store is not waited for: training reads the offline store (the
accepted tree) and bantay keeps no per-day record of the online store; a features run that is
still materializing is a run in progress and holds its days anyway.

:func:`check_window` is the rule, pure over plain values; :func:`bantay.features.lake.scan` reads
the lake (listings and file tests only, no parquet is opened).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bantay.features.lake import SourceDays, scan
from bantay.layout import Layout
from bantay.settings import FeatureSettings, ModelSettings

if TYPE_CHECKING:
    from feast import FeatureStore

FEATURES_DAG_ID = "bantay_features"
_LISTED_RANGE = 4  # this many consecutive days or more are written as "first .. last"


class DayStatus(enum.StrEnum):
    ACCEPTED = "accepted"
    QUARANTINED = "quarantined"
    ABSENT = "absent"
    IN_RUN = "in a run"
    WRITING = "being written"
    DELIVERED = "delivered"
    MISSING = "missing"


DECIDED = frozenset({DayStatus.ACCEPTED, DayStatus.QUARANTINED, DayStatus.ABSENT})


@dataclass(frozen=True)
class FeaturesRun:
    """A ``bantay_features`` run that is queued or running, and the days it planned."""

    run_id: str
    state: str
    days: frozenset[dt.date] | None = None  # None: not planned yet

    def reach(self, lateness_days: int) -> frozenset[dt.date] | None:
        """The days the run may write: its own, and the earlier ones late rows reach back into
        (the contract re-checks them when delivered, materialization re-reads them)."""
        if self.days is None:
            return None
        if not self.days:
            return frozenset()
        first = min(self.days)
        earlier = {first - dt.timedelta(days=i) for i in range(1, lateness_days + 1)}
        return self.days | earlier

    def describe(self) -> str:
        planned = "" if self.days is not None else ", its days not planned yet"
        return f"{FEATURES_DAG_ID} run {self.run_id} {self.state}{planned}"


def plan_days(planned: Any) -> frozenset[dt.date] | None:
    """A features run's days from its ``plan`` task's return value (ISO dates), None when the
    run has not planned yet or returned something else (then it holds the whole window)."""
    if not isinstance(planned, list | tuple):
        return None
    try:
        return frozenset(dt.date.fromisoformat(str(d)) for d in planned)
    except ValueError:
        return None


@dataclass(frozen=True)
class DayState:
    status: DayStatus
    run: FeaturesRun | None = None  # the run holding the day, for IN_RUN

    @property
    def reason(self) -> str:
        if self.status is DayStatus.IN_RUN and self.run is not None:
            return self.run.describe()
        return _REASONS[self.status]


_REASONS = {
    DayStatus.WRITING: "the data contract is writing them (a staging file in accepted/)",
    DayStatus.DELIVERED: "delivered to raw/, no data-contract verdict yet",
    DayStatus.MISSING: "nothing delivered yet",
    DayStatus.ACCEPTED: "accepted",
    DayStatus.QUARANTINED: "quarantined by the data contract",
    DayStatus.ABSENT: "never delivered; closed",
}

_WHAT_TO_DO = {
    DayStatus.IN_RUN: "let the {features} run(s) named above finish; if one is stuck, mark it "
    "failed in the UI and re-run those days",
    DayStatus.WRITING: "a data-contract write did not finish: trigger {features} with "
    "start_date/end_date over those days",
    DayStatus.DELIVERED: "trigger {features} with start_date/end_date over those days, so the "
    "data contract accepts or quarantines them",
    DayStatus.MISSING: "deliver the partitions to raw/<source>/date=<day>/ and trigger "
    "{features} for those days; a day that will never come counts as absent once a later day "
    "is accepted and {features}' own wait for it (features.sensor_timeout_hours) is over",
}


def _days_text(days: Sequence[dt.date]) -> str:
    """ISO days, comma-separated; a long run of consecutive days as ``first .. last``."""
    groups: list[list[dt.date]] = []
    for day in sorted(days):
        if groups and day - groups[-1][-1] == dt.timedelta(days=1):
            groups[-1].append(day)
        else:
            groups.append([day])
    parts = []
    for group in groups:
        if len(group) >= _LISTED_RANGE:
            parts.append(f"{group[0]} .. {group[-1]}")
        else:
            parts.extend(d.isoformat() for d in group)
    return ", ".join(parts)


def _plural(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


@dataclass(frozen=True)
class WindowCheck:
    """Every (source, day) of a training window and what it is waiting for, if anything."""

    first: dt.date
    last: dt.date
    checked_at: dt.datetime
    days: Mapping[str, Mapping[dt.date, DayState]] = field(default_factory=dict)

    def _having(self, statuses: Iterable[DayStatus]) -> dict[str, list[dt.date]]:
        wanted = set(statuses)
        out = {}
        for source, states in self.days.items():
            found = sorted(d for d, s in states.items() if s.status in wanted)
            if found:
                out[source] = found
        return out

    @property
    def waiting(self) -> dict[str, list[dt.date]]:
        """The days not decided yet, by source: what holds the training run."""
        return self._having(set(DayStatus) - DECIDED)

    @property
    def quarantined(self) -> dict[str, list[dt.date]]:
        return self._having([DayStatus.QUARANTINED])

    @property
    def absent(self) -> dict[str, list[dt.date]]:
        return self._having([DayStatus.ABSENT])

    @property
    def ready(self) -> bool:
        return not self.waiting

    @property
    def runs(self) -> list[str]:
        """The features runs holding a day of the window."""
        held = {s.run.run_id for st in self.days.values() for s in st.values() if s.run}
        return sorted(held)

    def lines(self) -> list[str]:
        """One line per source and reason, e.g. ``waiting for 3 days of learning_activity:
        2026-11-02, 2026-11-03, 2026-11-04 (bantay_features run manual__x running)``."""
        out = []
        for source, states in self.days.items():
            by_reason: dict[str, list[dt.date]] = {}
            for day, state in sorted(states.items()):
                if state.status not in DECIDED:
                    by_reason.setdefault(state.reason, []).append(day)
            for reason, days in by_reason.items():
                out.append(
                    f"waiting for {_plural(len(days))} of {source}: {_days_text(days)} ({reason})"
                )
        return out

    def decided_lines(self) -> list[str]:
        """What the run goes on without: quarantined and absent days, by source."""
        out = []
        for what, found in (("quarantined", self.quarantined), ("absent", self.absent)):
            for source, days in found.items():
                out.append(f"without {_plural(len(days))} of {source} ({what}): {_days_text(days)}")
        return out

    def summary(self) -> str:
        window = f"training window {self.first} .. {self.last}"
        if not self.ready:
            return f"{window} incomplete:\n" + "\n".join(self.lines())
        decided = self.decided_lines()
        if not decided:
            return f"{window} complete: every day of every source accepted"
        return f"{window} decided; training goes on " + "; ".join(decided)

    def timeout_message(self, model: str, as_of: str, waited: dt.timedelta) -> str:
        """Why the run gave up, naming every day still missing, and what to do about it."""
        hours = waited.total_seconds() / 3600
        present = {s.status for st in self.days.values() for s in st.values()}
        todo = [
            "- " + text.format(features=FEATURES_DAG_ID)
            for status, text in _WHAT_TO_DO.items()
            if status in present
        ]
        return (
            f"the training window of model {model!r} ({self.first} .. {self.last}, as of "
            f"{as_of}) is still incomplete after {hours:.1f} h, so nothing was fitted:\n"
            + "\n".join(f"- {line}" for line in self.lines())
            + "\nWhat to do:\n"
            + "\n".join(todo)
            + "\nThen clear wait_for_window to check again, or trigger a new run with an "
            "earlier as_of whose window is complete."
        )

    def to_dict(self) -> dict[str, Any]:
        """For XCom: readable in the UI as it is."""

        def iso(found: dict[str, list[dt.date]]) -> dict[str, list[str]]:
            return {s: [d.isoformat() for d in days] for s, days in found.items()}

        return {
            "window": [self.first.isoformat(), self.last.isoformat()],
            "ready": self.ready,
            "waiting": iso(self.waiting),
            "why": self.lines(),
            "quarantined": iso(self.quarantined),
            "absent": iso(self.absent),
            "holding_runs": self.runs,
        }


def _closed(
    day: dt.date,
    reference: Iterable[dt.date],
    min_gap: int,
    now: dt.datetime,
    sensor_timeout: dt.timedelta,
) -> bool:
    """Whether bantay_features can no longer pick ``day`` up by itself (see the module doc)."""
    later = any((ref - day).days >= min_gap for ref in reference)
    end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
    return later and now >= end_of_day + sensor_timeout


def check_window(
    lake: Mapping[str, SourceDays],
    days: Sequence[dt.date],
    sources: Sequence[str],
    *,
    labels: Sequence[str] = (),
    runs: Sequence[FeaturesRun] = (),
    now: dt.datetime,
    lateness_days: int,
    sensor_timeout: dt.timedelta,
) -> WindowCheck:
    """Decide every (source, day) of a training window.

    ``lake`` is what :func:`scan` saw per source (a source not in it holds nothing); ``days``
    the window; ``sources`` the model's feature sources and ``labels`` its label source(s);
    ``runs`` the ``bantay_features`` runs queued or running now; ``now`` the time of the check
    (a day with nothing delivered closes with time); ``lateness_days`` and ``sensor_timeout``
    the features DAG's ``contract.max_lateness_days`` and ``sensor_timeout_hours``.
    """
    if not days:
        raise ValueError("an empty training window: training_window_days must be at least 1")
    if now.tzinfo is None:
        raise ValueError(f"now={now} has no time zone; pass an aware UTC time")
    window = sorted(set(days))
    reach = [(run, run.reach(lateness_days)) for run in sorted(runs, key=lambda r: r.run_id)]
    empty = SourceDays()
    features_decided = (
        frozenset.intersection(*(lake.get(s, empty).decided for s in sources))
        if sources
        else frozenset()
    )
    result: dict[str, dict[dt.date, DayState]] = {}
    for source in dict.fromkeys([*sources, *labels]):
        held = lake.get(source, empty)
        is_label = source in labels and source not in sources
        reference = features_decided if is_label else held.decided
        min_gap = lateness_days if is_label else max(lateness_days, 1)
        states: dict[dt.date, DayState] = {}
        for day in window:
            run = next((r for r, covered in reach if covered is None or day in covered), None)
            if run is not None:
                states[day] = DayState(DayStatus.IN_RUN, run)
            elif day in held.writing:
                states[day] = DayState(DayStatus.WRITING)
            elif day in held.accepted:
                states[day] = DayState(DayStatus.ACCEPTED)
            elif day in held.delivered:
                # Raw rows without a verdict (also a re-delivery after a quarantine): the
                # contract has yet to see them; they never close on their own.
                states[day] = DayState(DayStatus.DELIVERED)
            elif day in held.quarantined:
                states[day] = DayState(DayStatus.QUARANTINED)
            elif _closed(day, reference, min_gap, now, sensor_timeout):
                states[day] = DayState(DayStatus.ABSENT)
            else:
                states[day] = DayState(DayStatus.MISSING)
        result[source] = states
    return WindowCheck(window[0], window[-1], now, result)


def model_sources(
    model: ModelSettings, *, feast: FeatureStore, validated: Sequence[str]
) -> list[str]:
    """The feature sources a model reads, from its feature service in Feast's registry.

    bantay's feature views are named after the source they read (``accepted/<view>/``); a view
    that ``bantay_features`` does not validate (not in ``validated``, its ``features.sources``)
    could never be checked, so it is refused here rather than trained on unchecked."""
    service = feast.get_feature_service(model.feature_service)
    views = sorted({p.name for p in service.feature_view_projections})
    unknown = [v for v in views if v not in validated]
    if unknown:
        raise ValueError(
            f"feature service {model.feature_service!r} of model {model.name!r} reads feature "
            f"view(s) {unknown}, which bantay_features does not validate (features.sources: "
            f"{list(validated)}); add them to features.sources in bantay.yaml "
            "or take them out of the feature service"
        )
    return views


def check_training_window(
    days: Sequence[dt.date],
    sources: Sequence[str],
    labels: Sequence[str],
    runs: Sequence[FeaturesRun] = (),
    *,
    layout: Layout,
    features: FeatureSettings,
    now: dt.datetime | None = None,
) -> WindowCheck:
    """:func:`check_window` over the lake of ``layout`` as it is now, with the features DAG's
    settings (``features``: its allowed lateness and its sensor's wait).

    The wall clock, not a logical date: whether a never-delivered day can still arrive is a
    fact about the present."""
    return check_window(
        scan(layout.data, [*sources, *labels], days),
        days,
        sources,
        labels=labels,
        runs=runs,
        now=now or dt.datetime.now(dt.UTC),
        lateness_days=features.contract.max_lateness_days,
        sensor_timeout=dt.timedelta(hours=features.sensor_timeout_hours),
    )
