"""The model registry's public face: import from ``bantay.stores.registry``, not its modules.

``Registry`` (one database, composed of ``versions``, ``promotions``, ``drift`` and
``baselines`` repositories) and ``registry_for(settings)``; the frozen records callers get back;
the errors; version ids; the status lifecycle; and, for migrations and read-only queries, the
tables and the Alembic configuration.
"""

from bantay.stores.registry.baselines import Baselines
from bantay.stores.registry.database import (
    ALEMBIC_VERSION_TABLE,
    MIGRATIONS_DIR,
    RegistryDatabase,
    alembic_config,
)
from bantay.stores.registry.drift import DriftReports
from bantay.stores.registry.erasures import Erasures
from bantay.stores.registry.errors import InvalidTransition, RegistryError, VersionNotFound
from bantay.stores.registry.promotions import Promotions
from bantay.stores.registry.registry import Registry, registry_at, registry_for
from bantay.stores.registry.tables import (
    INITIAL_STATUSES,
    PROMOTION_KINDS,
    TRANSITIONS,
    VERDICTS,
    Base,
    BaselineRecord,
    BaselineRow,
    DriftReportRecord,
    DriftReportRow,
    ErasureRecord,
    ErasureRow,
    ModelVersionRow,
    PromotionRecord,
    PromotionRow,
    VersionRecord,
)
from bantay.stores.registry.versions import Versions, new_version_id

__all__ = [
    "ALEMBIC_VERSION_TABLE",
    "INITIAL_STATUSES",
    "MIGRATIONS_DIR",
    "PROMOTION_KINDS",
    "TRANSITIONS",
    "VERDICTS",
    "Base",
    "BaselineRecord",
    "BaselineRow",
    "Baselines",
    "DriftReportRecord",
    "DriftReportRow",
    "DriftReports",
    "ErasureRecord",
    "ErasureRow",
    "Erasures",
    "InvalidTransition",
    "ModelVersionRow",
    "PromotionRecord",
    "PromotionRow",
    "Promotions",
    "Registry",
    "RegistryDatabase",
    "RegistryError",
    "VersionNotFound",
    "VersionRecord",
    "Versions",
    "alembic_config",
    "new_version_id",
    "registry_at",
    "registry_for",
]
