"""The words every stage shares, defined once: verdicts, decisions, lifecycle statuses, promotion
kinds, the reason of a drift-triggered run, and what a model or version name may be.

This is the ground floor: it imports nothing of bantay, and every other layer (the stores, the
stages, the Airflow edge, the UI) reads these words from here. The registry derives the values its
check constraints allow from these enums, so a new word is added here and in a migration, nowhere
else.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Verdict(StrEnum):
    """The one-word answer on-call reads first; stored as-is in the registry.

    ``WATCH``: a feature moved in the 7-day view but not (or no longer) on the newest day, or
    the inputs look as they did while what the model leans on moved (attribution drift);
    ``PERFORMANCE``: quality on matured labels dropped beyond the gate's tolerance;
    ``FAIRNESS``: on matured labels, a slice's recall fell behind the best slice's beyond the
    allowed gap (people are told; it opens no drift episode and triggers no retrain).
    """

    OK = "OK"
    WATCH = "WATCH"
    DRIFT = "DRIFT"
    PERFORMANCE = "PERFORMANCE"
    DATA_QUALITY = "DATA QUALITY"
    FAIRNESS = "FAIRNESS"


# The verdicts that open or extend a drift episode (a retrain may answer them). FAIRNESS is not
# one: retraining on the same data does not repair a slice; a person decides what does.
DRIFT_VERDICTS = frozenset({Verdict.DRIFT, Verdict.PERFORMANCE})


class Action(StrEnum):
    """What the drift check decided to do about a day's verdict (``drift_reports.decision``)."""

    RETRAIN_TRIGGERED = "retrain_triggered"
    ALREADY_TRIGGERED = "already_triggered"
    HELD_PERSISTENCE = "guard_held:persistence"
    HELD_COOLDOWN = "guard_held:cooldown"
    HELD_RUNNING = "guard_held:running"
    HELD_RATE_LIMIT = "guard_held:rate_limit"
    HELD_DATA_QUALITY = "guard_held:data_quality"
    HELD_LABELS = "guard_held:labels"
    HELD_SCHEDULED = "guard_held:scheduled"
    HELD_QUALITY = "guard_held:quality_holds"
    NO_ACTION = "no_action"
    DRIFT_ANSWERED = "drift_answered"
    DATA_QUALITY_ALERT = "data_quality_alert"


class ModelStatus(StrEnum):
    """Lifecycle of a model version; stored as its string value."""

    CANDIDATE = "candidate"
    REJECTED = "rejected"
    APPROVED = "approved"
    PRODUCTION = "production"
    ARCHIVED = "archived"


class PromotionKind(StrEnum):
    """How a version came to serve: promoted after approval, or rolled back to."""

    PROMOTE = "promote"
    ROLLBACK = "rollback"


# Every reason of a drift-triggered run starts with this. The registry keeps only the reason, so
# its readers (the cooldown of the retrain guards, the drift-day page) tell a drift retrain from
# a scheduled or manual one with :func:`is_drift_reason`, never with a prefix of their own.
DRIFT_REASON_PREFIX = "drift event"


def is_drift_reason(reason: str | None) -> bool:
    """Whether a version's reason says a drift event started its training run."""
    return str(reason or "").startswith(DRIFT_REASON_PREFIX)


NAME_MAX = 128
_NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{NAME_MAX - 1}}}$")


def check_name(what: str, value: object) -> str:
    """``value`` if it is a valid model or version name; ValueError naming ``what`` otherwise.

    One rule for the serving store, the registry and the Airflow params: letters, digits, ``.``,
    ``_`` or ``-``, starting with a letter or digit, at most 128 characters. It is safe as an S3
    key segment and as a file name, and fits the registry's columns.
    """
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{what} {value!r} is not a valid name: use letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit (at most {NAME_MAX} characters)"
        )
    return value
