"""Training-set manifests in the registry (``registry.training_sets``): the learners each version
was fitted on, as keyed hashes (HMAC-SHA256 of the id under the erasure key, the tombstones'
hash). "Which versions saw this learner" is one indexed query; an erasure removes the learner's
lines and its audit row (``registry.erasures``) records which versions they were in."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from bantay.stores.registry.database import RegistryDatabase
from bantay.stores.registry.tables import TrainingLearnerRow

_HEX = frozenset("0123456789abcdef")


def _checked(subjects: Iterable[str]) -> list[str]:
    found = sorted(set(subjects))
    bad = [s for s in found if len(s) != 64 or not set(s) <= _HEX]
    if bad:
        raise ValueError(
            f"{len(bad)} training-set subject(s) are not hex HMAC-SHA256 digests (e.g. "
            f"{bad[0][:8]!r}...); a manifest keeps keyed hashes of learner ids, never the ids"
        )
    return found


class TrainingSets:
    """Record, query and erase the learners of each version's training set."""

    def __init__(self, database: RegistryDatabase) -> None:
        self._db = database

    def record(self, model: str, version: str, subjects: Iterable[str]) -> int:
        """Make ``subjects`` the manifest of (model, version), replacing what a re-run of the
        same version recorded before; the number of learners recorded."""
        rows = [{"model": model, "version": version, "subject": s} for s in _checked(subjects)]
        with self._db.write() as session:
            session.execute(sa.delete(TrainingLearnerRow).filter_by(model=model, version=version))
            if rows:
                session.execute(sa.insert(TrainingLearnerRow), rows)
        return len(rows)

    def has(self, model: str, version: str) -> bool:
        """Whether (model, version) has a manifest with at least one learner."""
        stmt = sa.select(TrainingLearnerRow.subject).filter_by(model=model, version=version)
        with self._db.read() as session:
            return session.execute(stmt.limit(1)).first() is not None

    def of(self, model: str, version: str) -> list[str]:
        """The keyed hashes (sorted) of the learners (model, version) was fitted on."""
        stmt = sa.select(TrainingLearnerRow.subject).filter_by(model=model, version=version)
        with self._db.read() as session:
            return sorted(session.scalars(stmt).all())

    def versions_with(self, subject: str) -> list[tuple[str, str]]:
        """(model, version) of every version fitted on the learner ``subject``: one query."""
        stmt = (
            sa.select(TrainingLearnerRow.model, TrainingLearnerRow.version)
            .filter_by(subject=subject)
            .order_by(TrainingLearnerRow.model, TrainingLearnerRow.version)
        )
        with self._db.read() as session:
            return [(m, v) for m, v in session.execute(stmt).all()]

    def forget(self, subject: str) -> list[tuple[str, str]]:
        """Remove ``subject`` from every manifest; the (model, version) pairs it was in."""
        with self._db.write() as session:
            stmt = (
                sa.select(TrainingLearnerRow.model, TrainingLearnerRow.version)
                .filter_by(subject=subject)
                .order_by(TrainingLearnerRow.model, TrainingLearnerRow.version)
            )
            found = [(m, v) for m, v in session.execute(stmt).all()]
            session.execute(sa.delete(TrainingLearnerRow).filter_by(subject=subject))
        return found
