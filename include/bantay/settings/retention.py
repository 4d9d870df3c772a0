"""Retention: the ``retention:`` block of ``bantay.yaml``. How long each kind of data bantay keeps
is kept, in days (``null``: kept until erased, the default, so nothing is deleted unless a period
is set). ``bantay retention`` and the ``bantay_retention`` DAG delete what is older; accepted
partitions that a production, approved or rollback-target version still needs are always kept.
Light on purpose (pydantic only): settings are read where the scheduler parses DAG files."""

from __future__ import annotations

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator

# Each kind of data with a retention period, and where it lives (what the description says).
KINDS = (
    "raw",
    "accepted",
    "quarantine",
    "predictions",
    "drift_samples",
    "reports",
    "outbox",
)


def _days(what: str) -> object:
    return Field(
        None,
        ge=1,
        le=36500,
        description=f"days {what} are kept (counted back from the day the task runs for); "
        "null keeps them until erased",
    )


def _cron(value: str | None) -> str | None:
    if value is None or value.strip().lower() in ("manual", "none", ""):
        return None
    if not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a cron expression (e.g. '30 5 * * *') nor 'manual'")
    return value


class RetentionConfig(BaseModel):
    """How long each kind of data is kept; nothing is deleted unless a period is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    raw: int | None = _days("raw deliveries (raw/<feed>/date=D/)")
    accepted: int | None = _days(
        "accepted partitions (accepted/<feed>/date=D/; at least each model's training window "
        "plus label delay, and a day a kept version needs is kept whatever its age)"
    )
    quarantine: int | None = _days("quarantined deliveries (quarantine/<feed>/date=D/)")
    predictions: int | None = _days(
        "prediction logs (predictions/<model>/date=D/, and the pseudonymous outputs/<model>/"
        "date=D/; at least the label delay plus drift.label_lookback_days, and "
        "drift.reference_days)"
    )
    drift_samples: int | None = _days(
        "the drift check's evidence samples in S3 (reports/drift/<model>/D/check.json)"
    )
    reports: int | None = _days(
        "drift reports in S3 (reports/drift/<model>/D/report.html, report.json)"
    )
    outbox: int | None = _days("copies of sent e-mails (outbox/<model>/*.eml, by their time)")
    lookback_days: int = Field(
        400,
        ge=0,
        le=36500,
        description="accepted days before a kept version's training window that its point-in-"
        "time join may read (the longest feature view ttl): kept with the window",
    )
    schedule: str | None = Field(
        "30 5 * * *", description="cron (UTC) of the nightly bantay_retention run, or 'manual'"
    )

    _schedule = field_validator("schedule")(_cron)

    def periods(self) -> dict[str, int]:
        """The kinds with a retention period, and the period in days."""
        return {k: getattr(self, k) for k in KINDS if getattr(self, k) is not None}
