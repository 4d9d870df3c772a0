"""The model registry: versions and their status, the promotion audit log, drift report summaries
and re-baselines, over one database.

SQLAlchemy 2 typed ORM over SQLite (embedded default) or PostgreSQL (the stack); the schema is
owned by the Alembic migrations in ``bantay/stores/migrations`` (run with ``Registry.upgrade()``,
no ``alembic.ini`` needed). Callers get frozen dataclasses, never live ORM objects, so nothing
lazy-loads after the session is gone.

Re-running a DAG run must not duplicate anything: versions are upserted on (model, Airflow run id)
and drift reports on (model, report date). Promotions are an append-only audit log: there is no
update or delete API, and database triggers reject UPDATE/DELETE on the table.

``Registry`` is composed, not inherited: it owns one ``RegistryDatabase`` (engine, sessions,
migrations; ``database``) and hands it to one repository per concern, ``versions``,
``promotions``, ``drift``, ``baselines``, ``erasures`` and ``training_sets`` (which learners
each version was fitted on).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Self

from bantay.stores.connections import registry_url
from bantay.stores.registry.baselines import Baselines
from bantay.stores.registry.database import RegistryDatabase
from bantay.stores.registry.drift import DriftReports
from bantay.stores.registry.erasures import Erasures
from bantay.stores.registry.promotions import Promotions
from bantay.stores.registry.training_sets import TrainingSets
from bantay.stores.registry.versions import Versions

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bantay.settings import Settings


class Registry:
    """Access to the registry database at ``url`` (SQLite or PostgreSQL).

    ``registry.versions``, ``registry.promotions``, ``registry.drift`` and ``registry.baselines``
    share its one engine; migrations and the engine's life are the registry's own.
    """

    def __init__(self, url: str) -> None:
        self.database = RegistryDatabase(url)
        self.versions = Versions(self.database)
        self.promotions = Promotions(self.database)
        self.drift = DriftReports(self.database)
        self.baselines = Baselines(self.database)
        self.erasures = Erasures(self.database)
        self.training_sets = TrainingSets(self.database)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The registry these settings name (see :func:`bantay.stores.connections.registry_url`)."""
        return cls(registry_url(settings))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.database.redacted_url!r})"

    @property
    def engine(self) -> Engine:
        return self.database.engine

    def dispose(self) -> None:
        """Close pooled connections (tests, and before dropping a database)."""
        self.database.dispose()

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision``; safe on every start, from many processes."""
        self.database.upgrade(revision)

    def require_current(self) -> None:
        """Fail with what to run when the database is not at the code's migration head."""
        self.database.require_current()

    def current_revision(self) -> str | None:
        """The applied migration revision, or None for an empty database."""
        return self.database.current_revision()


@functools.cache
def registry_at(url: str) -> Registry:
    """The registry at ``url``, checked to be migrated; one per URL and process (cached: call
    ``registry_at.cache_clear()`` after dropping or migrating a database under a live process)."""
    registry = Registry(url)
    registry.require_current()
    return registry


def registry_for(settings: Settings) -> Registry:
    """The registry of these settings, checked to be migrated; one engine per URL and process."""
    return registry_at(registry_url(settings))
