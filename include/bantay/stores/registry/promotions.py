"""The promotion audit log of the registry: append and read, never change (database triggers
reject UPDATE and DELETE on the table)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from bantay.stores.registry.database import RegistryDatabase
from bantay.stores.registry.tables import (
    PROMOTION_KINDS,
    PromotionRecord,
    PromotionRow,
    as_record,
    utcnow,
)
from bantay.vocabulary import check_name


class Promotions:
    """The promotion audit log (``registry.promotions``): append and read, never change."""

    def __init__(self, database: RegistryDatabase) -> None:
        self._db = database

    def record(
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
        check_name("model", model)
        check_name("to_version", to_version)
        if kind not in PROMOTION_KINDS:
            raise ValueError(f"promotion kind {kind!r} is not one of {list(PROMOTION_KINDS)}")
        if not actor or not actor.strip():
            raise ValueError("a promotion needs an actor (a person's name or the DAG run id)")
        if not reason or not reason.strip():
            raise ValueError("a promotion needs a reason (why this version, why now)")
        with self._db.write() as session:
            row = PromotionRow(
                model=model,
                from_version=from_version,
                to_version=to_version,
                actor=actor,
                reason=reason,
                kind=kind,
                at=at or utcnow(),
            )
            session.add(row)
            session.flush()
            return as_record(PromotionRecord, row)

    def exists(self, model: str, to_version: str, at: dt.datetime) -> bool:
        """Whether the swap to ``to_version`` made at ``at`` (the pointer's time) is audited."""
        with self._db.read() as session:
            return (
                session.scalars(
                    sa.select(PromotionRow.id).filter_by(model=model, to_version=to_version, at=at)
                ).first()
                is not None
            )

    def of(self, model: str) -> list[PromotionRecord]:
        """The audit log of ``model``, oldest first: by the time of each swap (rows from a
        repaired audit or a slow writer arrive late), then by insertion for equal times."""
        with self._db.read() as session:
            rows = session.scalars(
                sa.select(PromotionRow)
                .filter_by(model=model)
                .order_by(PromotionRow.at, PromotionRow.id)
            ).all()
            return [as_record(PromotionRecord, r) for r in rows]
