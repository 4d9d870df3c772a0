"""Model versions in the registry: version ids, registration (idempotent per DAG run), the status
lifecycle, the production status following the S3 pointer, and the published model sha256."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bantay.stores.registry.database import RegistryDatabase
from bantay.stores.registry.errors import InvalidTransition, RegistryError, VersionNotFound
from bantay.stores.registry.tables import (
    INITIAL_STATUSES,
    REWRITABLE_STATUSES,
    TRANSITIONS,
    ModelVersionRow,
    VersionRecord,
    as_record,
    utcnow,
)
from bantay.vocabulary import ModelStatus, check_name

log = logging.getLogger(__name__)


def new_version_id(model: str, when: dt.datetime, salt: str | None = None) -> str:
    """A version id like ``v20261122T031500-1a2b3c4d`` that sorts by creation time (UTC).

    The hash of (model, when, salt) tells apart versions made in the same second. Without a
    ``salt`` it is random, so every training attempt gets a fresh id (S3 versions are immutable);
    pass a salt (e.g. the Airflow run id plus try number) to make the id reproducible.
    """
    if when.tzinfo is None:
        raise ValueError(
            f"new_version_id needs a timezone-aware time, got naive {when!r}; "
            "pass e.g. the run's logical_date or datetime.now(datetime.UTC)"
        )
    utc = when.astimezone(dt.UTC)
    salt = uuid.uuid4().hex if salt is None else salt
    digest = hashlib.sha256(f"{model}\0{utc.isoformat()}\0{salt}".encode()).hexdigest()[:8]
    return f"v{utc:%Y%m%dT%H%M%S}-{digest}"


class Versions:
    """Registering model versions and moving them along their lifecycle (``registry.versions``)."""

    def __init__(self, database: RegistryDatabase) -> None:
        self._db = database

    def upsert(
        self,
        model: str,
        version: str,
        *,
        airflow_run_id: str | None = None,
        status: ModelStatus | str = ModelStatus.CANDIDATE,
        metrics: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        gate: Sequence[Any] | None = None,
        lineage: Mapping[str, Any] | None = None,
        reason: str | None = None,
        rejection_reason: str | None = None,
    ) -> VersionRecord:
        """Register a version, or update the record this DAG run (or this version) already has.

        Keyed on (model, ``airflow_run_id``) when a run id is given, else on (model, version):
        re-running a DAG run rewrites its own record and never adds a second one. A record that
        is still candidate/rejected is rewritten (new version id, metrics, status); one that was
        approved or went further is left as it is, and replacing its version is refused.
        ``None`` for a JSON field keeps what is stored (``{}``/``[]`` for a new record).
        """
        wanted = _registrable(model, version, status, rejection_reason)
        given: dict[str, Any] = {
            "metrics": None if metrics is None else dict(metrics),
            "params": None if params is None else dict(params),
            "gate": None if gate is None else list(gate),
            "lineage": None if lineage is None else dict(lineage),
            "reason": reason,
            "rejection_reason": rejection_reason if wanted is ModelStatus.REJECTED else None,
        }
        try:
            with self._db.write() as session:
                row = self._find_for_upsert(session, model, version, airflow_run_id)
                if row is None:
                    row = _new_row(model, version, wanted, airflow_run_id, given)
                    session.add(row)
                    log.info("registered %s %s as %s", model, version, wanted.value)
                elif ModelStatus(row.status) in REWRITABLE_STATUSES:
                    _rewrite(row, version, wanted, airflow_run_id, given)
                    log.info("updated registration of %s %s (%s)", model, version, wanted.value)
                elif row.version != version:
                    raise RegistryError(
                        f"run {row.airflow_run_id!r} of model {model} already registered version "
                        f"{row.version}, which is {row.status}; it cannot be replaced by "
                        f"{version}. Clear only the failed tasks of that run, or trigger a new run."
                    )
                else:
                    log.info(
                        "%s %s is already %s; re-registration leaves it unchanged",
                        model,
                        version,
                        row.status,
                    )
                session.flush()
                return as_record(VersionRecord, row)
        except IntegrityError as exc:
            raise RegistryError(
                f"cannot register {model} {version} (run {airflow_run_id!r}): another writer "
                f"registered the same version or run at the same time ({exc.orig}); retry."
            ) from None

    @staticmethod
    def _find_for_upsert(
        session: Session, model: str, version: str, run_id: str | None
    ) -> ModelVersionRow | None:
        by_version = session.scalars(
            sa.select(ModelVersionRow).filter_by(model=model, version=version)
        ).one_or_none()
        if run_id is None:
            return by_version
        by_run = session.scalars(
            sa.select(ModelVersionRow).filter_by(model=model, airflow_run_id=run_id)
        ).one_or_none()
        if by_version is not None and (by_run is None or by_run.id != by_version.id):
            if by_version.airflow_run_id not in (None, run_id):
                raise RegistryError(
                    f"version {version} of model {model} is already registered by run "
                    f"{by_version.airflow_run_id!r}, not {run_id!r}; version ids are unique: "
                    "make a new one with bantay.stores.registry.new_version_id()"
                )
            if by_run is not None:
                raise RegistryError(
                    f"run {run_id!r} already registered {model} {by_run.version}, and version "
                    f"{version} belongs to another record; register under one id per run"
                )
            return by_version
        return by_run

    def get(self, model: str, version: str) -> VersionRecord | None:
        """The record of (model, version), or None if it was never registered."""
        with self._db.read() as session:
            row = session.scalars(
                sa.select(ModelVersionRow).filter_by(model=model, version=version)
            ).one_or_none()
            return as_record(VersionRecord, row) if row is not None else None

    def of(self, model: str) -> list[VersionRecord]:
        """Every version of ``model``, oldest first."""
        return self._versions(model=model)

    def of_run(self, run_id: str) -> list[VersionRecord]:
        """The versions an Airflow training run registered (normally one), oldest first."""
        return self._versions(airflow_run_id=run_id)

    def _versions(self, **where: str) -> list[VersionRecord]:
        with self._db.read() as session:
            rows = session.scalars(
                sa.select(ModelVersionRow)
                .filter_by(**where)
                .order_by(ModelVersionRow.created_at, ModelVersionRow.id)
            ).all()
            return [as_record(VersionRecord, r) for r in rows]

    def production(self, model: str) -> VersionRecord | None:
        """The version the registry marks as production (at most one; a unique index holds it)."""
        with self._db.read() as session:
            row = session.scalars(
                sa.select(ModelVersionRow).filter_by(
                    model=model, status=ModelStatus.PRODUCTION.value
                )
            ).one_or_none()
            return as_record(VersionRecord, row) if row is not None else None

    def set_status(
        self, model: str, version: str, status: ModelStatus | str, reason: str | None = None
    ) -> VersionRecord:
        """Move a version along its lifecycle; setting the current status again is a no-op.

        Allowed: candidate->approved|rejected, approved->production|archived,
        production->archived, archived->production (rollback). Making a version production
        archives the previous production version in the same transaction. Rejecting needs a
        ``reason`` (stored as ``rejection_reason``).
        """
        with self._db.write() as session:
            return self._transition(session, model, version, _status(status), reason)

    def _transition(
        self, session: Session, model: str, version: str, target: ModelStatus, reason: str | None
    ) -> VersionRecord:
        row = session.scalars(
            sa.select(ModelVersionRow).filter_by(model=model, version=version)
        ).one_or_none()
        if row is None:
            known = list(
                session.scalars(
                    sa.select(ModelVersionRow.version)
                    .filter_by(model=model)
                    .order_by(ModelVersionRow.id.desc())
                    .limit(5)
                )
            )
            raise VersionNotFound(
                f"no version {version!r} of model {model!r} in the registry "
                f"(latest registered: {known or 'none'}); register it with registry.versions.upsert first"
            )
        current = ModelStatus(row.status)
        if current is target:
            return as_record(VersionRecord, row)
        if target not in TRANSITIONS[current]:
            allowed = sorted(s.value for s in TRANSITIONS[current]) or "none (final)"
            raise InvalidTransition(
                f"cannot move {model} {version} from {current.value!r} to {target.value!r}; "
                f"allowed from {current.value!r}: {allowed}"
            )
        if target is ModelStatus.REJECTED and not reason:
            raise RegistryError(f"rejecting {model} {version} needs a reason")
        now = utcnow()
        if target is ModelStatus.PRODUCTION:
            self._archive_production(session, model, keep=row.id, now=now)
        row.status = target.value
        row.updated_at = now
        if target is ModelStatus.REJECTED:
            row.rejection_reason = reason
        if reason:
            row.status_reason = reason
        session.flush()
        log.info(
            "%s %s: %s -> %s%s",
            model,
            version,
            current.value,
            target.value,
            f" ({reason})" if reason else "",
        )
        return as_record(VersionRecord, row)

    @staticmethod
    def _archive_production(
        session: Session, model: str, keep: int | None, now: dt.datetime
    ) -> None:
        # Its own statement, before any new production row: the unique index allows one.
        stmt = sa.update(ModelVersionRow).where(
            ModelVersionRow.model == model,
            ModelVersionRow.status == ModelStatus.PRODUCTION.value,
        )
        if keep is not None:
            stmt = stmt.where(ModelVersionRow.id != keep)
        session.execute(
            stmt.values(status=ModelStatus.ARCHIVED.value, updated_at=now).execution_options(
                synchronize_session=False
            )
        )

    def follow_pointer(self, model: str, read_version: Callable[[], str | None]) -> str | None:
        """Make the registry's production status follow what the pointer names NOW.

        ``read_version`` (a read of the pointer) is called inside a write transaction that
        serialises every caller for ``model`` (an advisory lock on PostgreSQL, the write lock on
        SQLite), so the last caller always reads the last swap: two promotions that both won
        their swap one after the other can never leave the registry on the older one.
        """
        with self._db.write() as session:
            if session.bind.dialect.name == "postgresql":
                key = int.from_bytes(hashlib.sha256(model.encode()).digest()[:7], "big")
                session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
            version = read_version()
            known = (
                version is not None
                and session.scalars(
                    sa.select(ModelVersionRow.id).filter_by(model=model, version=version)
                ).first()
            )
            if known:
                self._transition(session, model, version, ModelStatus.PRODUCTION, None)
            else:
                self._archive_production(session, model, keep=None, now=utcnow())
            return version

    def record_artifact(self, model: str, version: str, sha256: str) -> None:
        """Keep the sha256 of a version's model file as published; it never changes after."""
        with self._db.write() as session:
            row = session.scalars(
                sa.select(ModelVersionRow).filter_by(model=model, version=version)
            ).one_or_none()
            if row is None:
                return  # not registered (a store used without the registry): nothing to anchor
            if row.artifact_sha256 not in (None, sha256):
                raise RegistryError(
                    f"{model} {version} was published with model sha256 "
                    f"{row.artifact_sha256[:16]}..., not {sha256[:16]}...; versions are "
                    "immutable: publish under a new version id"
                )
            row.artifact_sha256 = sha256


def _status(value: ModelStatus | str) -> ModelStatus:
    try:
        return ModelStatus(value)
    except ValueError:
        raise ValueError(
            f"unknown model status {value!r}; one of {[s.value for s in ModelStatus]}"
        ) from None


def _registrable(
    model: str, version: str, status: ModelStatus | str, rejection_reason: str | None
) -> ModelStatus:
    """The status a new registration asks for, refused unless a record may start in it."""
    check_name("model", model)
    check_name("version", version)
    wanted = _status(status)
    if wanted not in INITIAL_STATUSES:
        raise RegistryError(
            f"cannot register {model} {version} as {wanted.value!r}: new records start as one "
            f"of {sorted(s.value for s in INITIAL_STATUSES)}; production is reached by "
            "promotion (bantay.serving.promotion.Promotion.promote: `bantay promote`)"
        )
    if wanted is ModelStatus.REJECTED and not rejection_reason:
        raise RegistryError(f"registering {model} {version} as rejected needs a rejection_reason")
    return wanted


def _new_row(
    model: str, version: str, wanted: ModelStatus, run_id: str | None, given: dict[str, Any]
) -> ModelVersionRow:
    """A first registration: JSON fields not given start empty."""
    now = utcnow()
    return ModelVersionRow(
        model=model,
        version=version,
        status=wanted.value,
        metrics=given["metrics"] or {},
        params=given["params"] or {},
        gate=given["gate"] or [],
        lineage=given["lineage"] or {},
        reason=given["reason"],
        rejection_reason=given["rejection_reason"],
        airflow_run_id=run_id,
        created_at=now,
        updated_at=now,
    )


def _rewrite(
    row: ModelVersionRow,
    version: str,
    wanted: ModelStatus,
    run_id: str | None,
    given: dict[str, Any],
) -> None:
    """A re-run's registration over a record nothing downstream used: what is given replaces
    what is stored (``None`` keeps it); the rejection reason follows the new status."""
    row.version = version
    row.status = wanted.value
    for name in ("metrics", "params", "gate", "lineage", "reason"):
        if given[name] is not None:
            setattr(row, name, given[name])
    row.rejection_reason = given["rejection_reason"]
    row.airflow_run_id = run_id or row.airflow_run_id
    row.updated_at = utcnow()
