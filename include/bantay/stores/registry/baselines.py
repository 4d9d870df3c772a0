"""Re-baselines in the registry: the drift reference of a production version replaced by a
person, kept append-only; the newest one of a version is its drift reference."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from bantay.stores.registry.database import RegistryDatabase
from bantay.stores.registry.tables import BaselineRecord, BaselineRow, as_record, utcnow
from bantay.vocabulary import check_name


class Baselines:
    """Re-baselines (``registry.baselines``): append and read, never change."""

    def __init__(self, database: RegistryDatabase) -> None:
        self._db = database

    def record(
        self,
        model: str,
        version: str,
        *,
        reference_uri: str,
        sha256: str,
        first_day: dt.date,
        last_day: dt.date,
        rows: int,
        actor: str,
        reason: str,
    ) -> BaselineRecord:
        """Append one re-baseline (there is no way to change or remove it)."""
        check_name("model", model)
        check_name("version", version)
        if not actor or not actor.strip():
            raise ValueError("a re-baseline needs an actor (who decided)")
        if not reason or not reason.strip():
            raise ValueError("a re-baseline needs a reason (why the new inputs are the norm)")
        with self._db.write() as session:
            row = BaselineRow(
                model=model,
                version=version,
                reference_uri=reference_uri,
                sha256=sha256,
                first_day=first_day,
                last_day=last_day,
                rows=rows,
                actor=actor,
                reason=reason,
                at=utcnow(),
            )
            session.add(row)
            session.flush()
            return as_record(BaselineRecord, row)

    def of(self, model: str, version: str | None = None) -> list[BaselineRecord]:
        """Re-baselines of ``model`` (of one ``version``), oldest first."""
        stmt = sa.select(BaselineRow).filter_by(model=model)
        if version is not None:
            stmt = stmt.filter_by(version=version)
        with self._db.read() as session:
            rows = session.scalars(stmt.order_by(BaselineRow.at, BaselineRow.id)).all()
            return [as_record(BaselineRecord, r) for r in rows]

    def current(self, model: str, version: str) -> BaselineRecord | None:
        """The newest re-baseline of ``version`` (None: its published reference holds)."""
        found = self.of(model, version)
        return found[-1] if found else None
