"""The model registry: versions and their status, the promotion audit log, drift report summaries.

SQLAlchemy 2 typed ORM over SQLite (embedded default) or PostgreSQL (the stack); the schema is
owned by the Alembic migrations in ``bantay/migrations`` (run with ``Registry.upgrade()``, no
``alembic.ini`` needed). Callers get frozen dataclasses, never live ORM objects, so nothing lazy-
loads after the session is gone.

Re-running a DAG run must not duplicate anything: versions are upserted on (model, Airflow run id)
and drift reports on (model, report date). Promotions are an append-only audit log: there is no
update or delete API, and database triggers reject UPDATE/DELETE on the table.

``Registry`` is put together from one part per concern: the database, engine and migrations
(``registry_engine``), model versions (``registry_versions``), and the promotion and drift
history (``registry_history``); the tables and records are in ``registry_models``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from bantay.stores.connections import registry_url
from bantay.stores.registry_history import BaselineLog, DriftHistory, PromotionLog
from bantay.stores.registry_versions import VersionLifecycle

if TYPE_CHECKING:
    from bantay.settings import Settings


class Registry(VersionLifecycle, PromotionLog, DriftHistory, BaselineLog):
    """Access to the registry database at ``url`` (SQLite or PostgreSQL)."""


@functools.cache
def _registry_at(url: str) -> Registry:
    registry = Registry(url)
    registry.require_current()
    return registry


def registry_for(settings: Settings) -> Registry:
    """The registry of these settings, checked to be migrated; one engine per URL and process."""
    return _registry_at(registry_url(settings))
