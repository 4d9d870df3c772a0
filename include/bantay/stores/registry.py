"""The model registry: versions and their status, the promotion audit log, drift report summaries.

SQLAlchemy 2 typed ORM over SQLite (embedded default) or PostgreSQL (the stack); the schema is
owned by the Alembic migrations in ``bantay/migrations`` (run with ``Registry.upgrade()``, no
``alembic.ini`` needed). Callers get frozen dataclasses, never live ORM objects, so nothing lazy-
loads after the session is gone.

Re-running a DAG run must not duplicate anything: versions are upserted on (model, Airflow run id)
and drift reports on (model, report date). Promotions are an append-only audit log: there is no
update or delete API, and database triggers reject UPDATE/DELETE on the table.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bantay.stores.connections import DEFAULT_REGISTRY_CONN_ID, redact_url, registry_url
from bantay.stores.registry_models import (
    _PG_MIGRATION_LOCK,
    _REWRITABLE,
    ALEMBIC_VERSION_TABLE,
    DECISION_RETRAIN,
    INITIAL_STATUSES,
    MIGRATIONS_DIR,
    PROMOTION_KINDS,
    TRANSITIONS,
    VERDICTS,
    DriftReportRecord,
    DriftReportRow,
    InvalidTransition,
    ModelStatus,
    ModelVersionRow,
    PromotionRecord,
    PromotionRow,
    RegistryError,
    VersionNotFound,
    VersionRecord,
    _require_name,
    _utcnow,
    as_record,
)

if TYPE_CHECKING:
    from bantay.settings import Settings

log = logging.getLogger(__name__)


def _is_sqlite_memory(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _make_engine(url: str) -> Engine:
    """An engine tuned per backend; SQLite gets real transactions (see ``_sqlite_begin``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    if _is_sqlite_memory(parsed):
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions start (SQLAlchemy's
    # documented recipe): DDL becomes transactional and BEGIN IMMEDIATE becomes possible.
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: sa.Connection) -> None:
    # Writers take the write lock up front so two read-then-write transactions cannot deadlock
    # into an immediate "database is locked"; they queue on the busy timeout instead.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(connection: sa.Connection | None = None, url: str | None = None) -> Any:
    """An Alembic ``Config`` for bantay's migrations, built in code (no ``alembic.ini``).

    Pass an open ``connection`` (preferred) or a ``url``; useful for ``alembic.command.*``, e.g.
    ``command.revision(alembic_config(url=...), autogenerate=True, message="...")``.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


class Registry:
    """Access to the registry database at ``url`` (SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._engine = _make_engine(url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._writer = self._engine.execution_options(sqlite_begin="IMMEDIATE")
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)

    @classmethod
    def from_connection(cls, conn_id: str = DEFAULT_REGISTRY_CONN_ID) -> Registry:
        """The registry named by ``$BANTAY_REGISTRY_URL`` / Connection ``conn_id`` / default."""
        return cls(registry_url(conn_id))

    def __repr__(self) -> str:
        return f"Registry({redact_url(self._url)!r})"

    @property
    def engine(self) -> Engine:
        return self._engine

    def dispose(self) -> None:
        """Close pooled connections (tests, and before dropping a database)."""
        self._engine.dispose()

    # -- migrations ------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``; safe to call on every start, from many processes.

        PostgreSQL: serialised with a transaction-scoped advisory lock. SQLite: the whole upgrade
        runs in one ``BEGIN IMMEDIATE`` transaction, so a second caller waits, then finds head.
        """
        from alembic import command

        engine = self._writer
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
                command.upgrade(alembic_config(conn), revision)
        except OperationalError as exc:
            raise RegistryError(
                f"cannot migrate the registry database {redact_url(self._url)}: "
                f"{exc.orig.__class__.__name__}: {str(exc.orig).strip()}. Check that the "
                "database is reachable and the URL ($BANTAY_REGISTRY_URL or Airflow connection "
                f"{DEFAULT_REGISTRY_CONN_ID!r}) is right."
            ) from None
        log.info("registry %s at migration %s", redact_url(self._url), self.current_revision())

    def require_current(self) -> None:
        """Fail with what to run when the database is not at the code's migration head.

        Migrations are a deploy step (``bantay registry upgrade``), never a side effect of a task.
        """
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        current = self.current_revision()
        if current != head:
            raise RegistryError(
                f"the registry database {redact_url(self._url)} is at migration "
                f"{current or 'none (empty database)'}, this code needs {head}: run "
                "`bantay registry upgrade` (a deploy step) and retry"
            )

    def current_revision(self) -> str | None:
        """The applied migration revision, or None for an empty database."""
        from alembic.runtime.migration import MigrationContext

        with self._engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": ALEMBIC_VERSION_TABLE})
            return ctx.get_current_revision()

    # -- sessions --------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._write_sessions() as session, session.begin():
            yield session

    # -- model versions --------------------------------------------------------------------

    def upsert_version(
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
        _require_name("model", model)
        _require_name("version", version)
        wanted = _status(status)
        if wanted not in INITIAL_STATUSES:
            raise RegistryError(
                f"cannot register {model} {version} as {wanted.value!r}: new records start as one "
                f"of {sorted(s.value for s in INITIAL_STATUSES)}; production is reached by "
                "promotion (ModelStore.promote)"
            )
        if wanted is ModelStatus.REJECTED and not rejection_reason:
            raise RegistryError(
                f"registering {model} {version} as rejected needs a rejection_reason"
            )
        try:
            with self._write() as session:
                row = self._find_for_upsert(session, model, version, airflow_run_id)
                now = _utcnow()
                if row is None:
                    row = ModelVersionRow(
                        model=model,
                        version=version,
                        status=wanted.value,
                        metrics=dict(metrics or {}),
                        params=dict(params or {}),
                        gate=list(gate or []),
                        lineage=dict(lineage or {}),
                        reason=reason,
                        rejection_reason=rejection_reason
                        if wanted is ModelStatus.REJECTED
                        else None,
                        airflow_run_id=airflow_run_id,
                        created_at=now,
                        updated_at=now,
                    )
                    session.add(row)
                    log.info("registered %s %s as %s", model, version, wanted.value)
                elif ModelStatus(row.status) in _REWRITABLE:
                    row.version = version
                    row.status = wanted.value
                    row.metrics = dict(metrics) if metrics is not None else row.metrics
                    row.params = dict(params) if params is not None else row.params
                    row.gate = list(gate) if gate is not None else row.gate
                    row.lineage = dict(lineage) if lineage is not None else row.lineage
                    row.reason = reason if reason is not None else row.reason
                    row.rejection_reason = (
                        rejection_reason if wanted is ModelStatus.REJECTED else None
                    )
                    row.airflow_run_id = airflow_run_id or row.airflow_run_id
                    row.updated_at = now
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

    def get_version(self, model: str, version: str) -> VersionRecord | None:
        """The record of (model, version), or None if it was never registered."""
        with self._read() as session:
            row = session.scalars(
                sa.select(ModelVersionRow).filter_by(model=model, version=version)
            ).one_or_none()
            return as_record(VersionRecord, row) if row is not None else None

    def list_versions(self, model: str) -> list[VersionRecord]:
        """Every version of ``model``, oldest first."""
        with self._read() as session:
            rows = session.scalars(
                sa.select(ModelVersionRow)
                .filter_by(model=model)
                .order_by(ModelVersionRow.created_at, ModelVersionRow.id)
            ).all()
            return [as_record(VersionRecord, r) for r in rows]

    def production_version(self, model: str) -> VersionRecord | None:
        """The version the registry marks as production (at most one; a unique index holds it)."""
        with self._read() as session:
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
        with self._write() as session:
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
                f"(latest registered: {known or 'none'}); register it with upsert_version first"
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
        now = _utcnow()
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
        with self._write() as session:
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
                self._archive_production(session, model, keep=None, now=_utcnow())
            return version

    def record_artifact(self, model: str, version: str, sha256: str) -> None:
        """Keep the sha256 of a version's model file as published; it never changes after."""
        with self._write() as session:
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

    # -- promotions (append-only) ----------------------------------------------------------

    def record_promotion(
        self,
        model: str,
        to_version: str,
        *,
        actor: str,
        reason: str,
        from_version: str | None = None,
        kind: str = "promote",
        at: dt.datetime | None = None,
    ) -> PromotionRecord:
        """Append one entry to the promotion audit log (there is no way to change or remove it)."""
        _require_name("model", model)
        _require_name("to_version", to_version)
        if kind not in PROMOTION_KINDS:
            raise ValueError(f"promotion kind {kind!r} is not one of {list(PROMOTION_KINDS)}")
        if not actor or not actor.strip():
            raise ValueError("a promotion needs an actor (a person's name or the DAG run id)")
        if not reason or not reason.strip():
            raise ValueError("a promotion needs a reason (why this version, why now)")
        with self._write() as session:
            row = PromotionRow(
                model=model,
                from_version=from_version,
                to_version=to_version,
                actor=actor,
                reason=reason,
                kind=kind,
                at=at or _utcnow(),
            )
            session.add(row)
            session.flush()
            return as_record(PromotionRecord, row)

    def has_promotion(self, model: str, to_version: str, at: dt.datetime) -> bool:
        """Whether the swap to ``to_version`` made at ``at`` (the pointer's time) is audited."""
        with self._read() as session:
            return (
                session.scalars(
                    sa.select(PromotionRow.id).filter_by(model=model, to_version=to_version, at=at)
                ).first()
                is not None
            )

    def promotions(self, model: str) -> list[PromotionRecord]:
        """The audit log of ``model``, oldest first."""
        with self._read() as session:
            rows = session.scalars(
                sa.select(PromotionRow).filter_by(model=model).order_by(PromotionRow.id)
            ).all()
            return [as_record(PromotionRecord, r) for r in rows]

    # -- drift reports ---------------------------------------------------------------------

    def upsert_drift_report(
        self,
        model: str,
        report_date: dt.date,
        *,
        verdict: str,
        drifted_share: float,
        n_drifted: int,
        n_features: int,
        decision: str,
        feature_scores: Mapping[str, Any] | None = None,
        report_html_uri: str | None = None,
        report_json_uri: str | None = None,
        decision_detail: str | None = None,
        airflow_run_id: str | None = None,
    ) -> DriftReportRecord:
        """Store the summary of ``model``'s drift report for ``report_date``; re-runs overwrite it."""
        _require_name("model", model)
        if isinstance(report_date, dt.datetime):
            report_date = report_date.date()
        if verdict not in VERDICTS:
            raise ValueError(f"drift verdict {verdict!r} is not one of {list(VERDICTS)}")
        if not 0.0 <= float(drifted_share) <= 1.0:
            raise ValueError(f"drifted_share {drifted_share!r} must be between 0 and 1")
        if not 0 <= int(n_drifted) <= int(n_features):
            raise ValueError(f"n_drifted={n_drifted} must be between 0 and n_features={n_features}")
        if not decision or not decision.strip():
            raise ValueError("a drift report needs a decision, e.g. 'no_action'")
        values: dict[str, Any] = {
            "verdict": verdict,
            "drifted_share": float(drifted_share),
            "n_drifted": int(n_drifted),
            "n_features": int(n_features),
            "feature_scores": dict(feature_scores or {}),
            "report_html_uri": report_html_uri,
            "report_json_uri": report_json_uri,
            "decision": decision,
            "decision_detail": decision_detail,
            "airflow_run_id": airflow_run_id,
        }
        for attempt in (1, 2):
            try:
                with self._write() as session:
                    row = session.scalars(
                        sa.select(DriftReportRow).filter_by(model=model, report_date=report_date)
                    ).one_or_none()
                    now = _utcnow()
                    if row is None:
                        row = DriftReportRow(
                            model=model, report_date=report_date, created_at=now, **values
                        )
                        session.add(row)
                    else:
                        for key, value in values.items():
                            setattr(row, key, value)
                    row.updated_at = now
                    session.flush()
                    return as_record(DriftReportRecord, row)
            except IntegrityError:
                if attempt == 2:
                    raise
                # A concurrent writer inserted the same (model, date) first: update theirs.
        raise AssertionError("unreachable")  # pragma: no cover

    def drift_reports(self, model: str, since: dt.date | None = None) -> list[DriftReportRecord]:
        """Drift report summaries of ``model`` (from ``since``, inclusive), oldest first."""
        stmt = sa.select(DriftReportRow).filter_by(model=model)
        if since is not None:
            stmt = stmt.where(DriftReportRow.report_date >= _as_date(since))
        with self._read() as session:
            rows = session.scalars(stmt.order_by(DriftReportRow.report_date)).all()
            return [as_record(DriftReportRecord, r) for r in rows]

    def retrains_triggered_since(self, model: str, since: dt.date) -> list[DriftReportRecord]:
        """Reports on or after ``since`` whose decision was ``retrain_triggered``, oldest first.

        For the cooldown guard: ``len(...)`` counts retrains, ``[-1].report_date`` is the last.
        """
        return [r for r in self.drift_reports(model, since=since) if r.decision == DECISION_RETRAIN]


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _status(value: ModelStatus | str) -> ModelStatus:
    try:
        return ModelStatus(value)
    except ValueError:
        raise ValueError(
            f"unknown model status {value!r}; one of {[s.value for s in ModelStatus]}"
        ) from None


@functools.cache
def _registry_at(url: str) -> Registry:
    registry = Registry(url)
    registry.require_current()
    return registry


def registry_for(settings: Settings) -> Registry:
    """The registry of these settings, checked to be migrated; one engine per URL and process."""
    return _registry_at(registry_url(settings.registry_conn_id))
