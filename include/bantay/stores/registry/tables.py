"""The registry's tables: the status lifecycle, ORM rows, and the frozen records callers get back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bantay.vocabulary import ModelStatus, PromotionKind, Verdict

_Record = TypeVar("_Record")

TRANSITIONS: dict[ModelStatus, frozenset[ModelStatus]] = {
    ModelStatus.CANDIDATE: frozenset({ModelStatus.APPROVED, ModelStatus.REJECTED}),
    ModelStatus.APPROVED: frozenset({ModelStatus.PRODUCTION, ModelStatus.ARCHIVED}),
    ModelStatus.PRODUCTION: frozenset({ModelStatus.ARCHIVED}),
    ModelStatus.ARCHIVED: frozenset({ModelStatus.PRODUCTION}),  # rollback
    ModelStatus.REJECTED: frozenset(),
}
# A fresh registration may start here (auto-approval registers straight as approved).
INITIAL_STATUSES = frozenset({ModelStatus.CANDIDATE, ModelStatus.APPROVED, ModelStatus.REJECTED})
# A re-run may rewrite a record only while nothing downstream can have used it.
REWRITABLE_STATUSES = frozenset({ModelStatus.CANDIDATE, ModelStatus.REJECTED})

# The values the check constraints allow, derived from the shared vocabulary (one source).
PROMOTION_KINDS = tuple(k.value for k in PromotionKind)
VERDICTS = tuple(v.value for v in Verdict)


def utcnow() -> dt.datetime:
    """Now, timezone-aware in UTC: the only clock the registry writes."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: registry timestamps must be tz-aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base of the registry tables (``target_metadata`` for Alembic)."""


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        sa.UniqueConstraint("model", "version", name="uq_model_versions_model_version"),
        sa.UniqueConstraint("model", "airflow_run_id", name="uq_model_versions_model_run"),
        sa.CheckConstraint(
            _in("status", [s.value for s in ModelStatus]), name="ck_model_versions_status"
        ),
        sa.Index(
            "uq_model_versions_one_production",
            "model",
            unique=True,
            sqlite_where=sa.text("status = 'production'"),
            postgresql_where=sa.text("status = 'production'"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(sa.String(128))
    version: Mapped[str] = mapped_column(sa.String(128))
    status: Mapped[str] = mapped_column(sa.String(16))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    gate: Mapped[list[Any]] = mapped_column(JSONType)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text)
    status_reason: Mapped[str | None] = mapped_column(sa.Text)
    artifact_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    airflow_run_id: Mapped[str | None] = mapped_column(sa.String(250))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PromotionRow(Base):
    __tablename__ = "promotions"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", PROMOTION_KINDS), name="ck_promotions_kind"),
        sa.Index("ix_promotions_model_at", "model", "at"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(sa.String(128))
    from_version: Mapped[str | None] = mapped_column(sa.String(128))
    to_version: Mapped[str] = mapped_column(sa.String(128))
    actor: Mapped[str] = mapped_column(sa.String(256))
    reason: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DriftReportRow(Base):
    __tablename__ = "drift_reports"
    __table_args__ = (
        sa.UniqueConstraint("model", "report_date", name="uq_drift_reports_model_date"),
        sa.CheckConstraint(_in("verdict", VERDICTS), name="ck_drift_reports_verdict"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(sa.String(128))
    report_date: Mapped[dt.date] = mapped_column(sa.Date)
    verdict: Mapped[str] = mapped_column(sa.String(16))
    drifted_share: Mapped[float] = mapped_column(sa.Float)
    n_drifted: Mapped[int] = mapped_column(sa.Integer)
    n_features: Mapped[int] = mapped_column(sa.Integer)
    feature_scores: Mapped[dict[str, Any]] = mapped_column(JSONType)
    report_html_uri: Mapped[str | None] = mapped_column(sa.Text)
    report_json_uri: Mapped[str | None] = mapped_column(sa.Text)
    decision: Mapped[str] = mapped_column(sa.String(64))
    decision_detail: Mapped[str | None] = mapped_column(sa.Text)
    airflow_run_id: Mapped[str | None] = mapped_column(sa.String(250))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    evidence_day: Mapped[dt.date | None] = mapped_column(sa.Date, nullable=True)
    prediction_drift: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


class BaselineRow(Base):
    """A re-baseline: the drift reference of a production version replaced by a person, kept
    as an append-only record (who, why, when, which days, which file)."""

    __tablename__ = "baselines"
    __table_args__ = (sa.Index("ix_baselines_model_version_at", "model", "version", "at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    model: Mapped[str] = mapped_column(sa.String(128))
    version: Mapped[str] = mapped_column(sa.String(128))
    reference_uri: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    first_day: Mapped[dt.date] = mapped_column(sa.Date)
    last_day: Mapped[dt.date] = mapped_column(sa.Date)
    rows: Mapped[int] = mapped_column(sa.Integer)
    actor: Mapped[str] = mapped_column(sa.String(256))
    reason: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class BaselineRecord:
    """One re-baseline of a production version's drift reference."""

    id: int
    model: str
    version: str
    reference_uri: str
    sha256: str
    first_day: dt.date
    last_day: dt.date
    rows: int
    actor: str
    reason: str
    at: dt.datetime


class ErasureRow(Base):
    """An erasure: one learner (as a keyed hash, never the id) removed from every store, who
    asked, why, and what was touched (counts and paths); append-only."""

    __tablename__ = "erasures"
    __table_args__ = (sa.Index("ix_erasures_subject_at", "subject", "at"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(sa.String(64))
    actor: Mapped[str] = mapped_column(sa.String(256))
    reason: Mapped[str] = mapped_column(sa.Text)
    touched: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rows: Mapped[int] = mapped_column(sa.Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TrainingLearnerRow(Base):
    """A training-set manifest's line: a learner (as a keyed hash) a version was fitted on."""

    __tablename__ = "training_learners"
    __table_args__ = (
        sa.PrimaryKeyConstraint("model", "version", "subject", name="pk_training_learners"),
        sa.Index("ix_training_learners_subject", "subject"),
    )

    model: Mapped[str] = mapped_column(sa.String(128))
    version: Mapped[str] = mapped_column(sa.String(128))
    subject: Mapped[str] = mapped_column(sa.String(64))


@dataclass(frozen=True)
class ErasureRecord:
    """One erasure of a learner: ``subject`` is the HMAC-SHA256 of the id under the erasure key;
    ``touched`` maps each store to its paths and counts; ``rows`` is the total removed."""

    id: int
    subject: str
    actor: str
    reason: str
    touched: dict[str, Any]
    rows: int
    at: dt.datetime


@dataclass(frozen=True)
class VersionRecord:
    """One registered model version."""

    id: int
    model: str
    version: str
    status: ModelStatus
    metrics: dict[str, Any]
    params: dict[str, Any]
    gate: list[Any]
    lineage: dict[str, Any]
    reason: str | None
    rejection_reason: str | None
    airflow_run_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    status_reason: str | None = None  # why the status last changed (e.g. who approved, their note)
    artifact_sha256: str | None = None  # sha256 of model.joblib as published (outside S3)

    def __post_init__(self) -> None:
        # Rows hold the status as its string value; a record always holds the enum.
        object.__setattr__(self, "status", ModelStatus(self.status))


@dataclass(frozen=True)
class PromotionRecord:
    """One entry of the append-only promotion audit log."""

    id: int
    model: str
    from_version: str | None
    to_version: str
    actor: str
    reason: str
    kind: str
    at: dt.datetime


@dataclass(frozen=True)
class DriftReportRecord:
    """The summary of one day's drift report and what it led to."""

    id: int
    model: str
    report_date: dt.date
    verdict: str
    drifted_share: float
    n_drifted: int
    n_features: int
    feature_scores: dict[str, Any]
    report_html_uri: str | None
    report_json_uri: str | None
    decision: str
    decision_detail: str | None
    airflow_run_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    # The day the verdict's evidence was observed, when not the report date (PERFORMANCE).
    evidence_day: dt.date | None = None
    # The drift of the model's own score that day (column, method, score, threshold, drifted).
    prediction_drift: dict[str, Any] | None = None


def as_record(record_type: type[_Record], row: Any) -> _Record:
    """A detached copy of an ORM ``row`` as the frozen ``record_type``, its fields read by name.

    JSON containers are copied, so a record never shares a dict or list with a session.
    """
    values = {f.name: getattr(row, f.name) for f in fields(record_type)}
    return record_type(
        **{k: v.copy() if isinstance(v, dict | list) else v for k, v in values.items()}
    )
