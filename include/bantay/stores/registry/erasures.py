"""Erasures in the registry: the audit record of each learner removed from bantay's stores,
append-only. The learner appears only as a keyed hash (the subject), never as the id."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bantay.stores.registry.database import RegistryDatabase
from bantay.stores.registry.tables import ErasureRecord, ErasureRow, as_record, utcnow


class Erasures:
    """Erasures (``registry.erasures``): append and read, never change."""

    def __init__(self, database: RegistryDatabase) -> None:
        self._db = database

    def record(
        self, subject: str, *, actor: str, reason: str, touched: dict[str, Any], rows: int
    ) -> ErasureRecord:
        """Append one erasure (there is no way to change or remove it)."""
        if len(subject) != 64 or any(c not in "0123456789abcdef" for c in subject):
            raise ValueError("an erasure's subject is the hex HMAC-SHA256 of the id, never the id")
        for name, value in (("actor", actor), ("reason", reason)):
            if not value or not value.strip():
                raise ValueError(f"an erasure needs a {name} (who asked, and why)")
        with self._db.write() as session:
            row = ErasureRow(
                subject=subject, actor=actor, reason=reason, touched=touched, rows=rows, at=utcnow()
            )
            session.add(row)
            session.flush()
            return as_record(ErasureRecord, row)

    def of(self, subject: str) -> list[ErasureRecord]:
        """Erasures of one subject, oldest first."""
        stmt = sa.select(ErasureRow).filter_by(subject=subject)
        with self._db.read() as session:
            rows = session.scalars(stmt.order_by(ErasureRow.at, ErasureRow.id)).all()
            return [as_record(ErasureRecord, r) for r in rows]
