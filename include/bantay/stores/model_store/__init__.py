"""The S3 serving store's public face: import from ``bantay.stores.model_store``, not its modules.

``ModelStore`` (composed of ``objects``, ``versions``, ``pointers``, ``reports`` and
``baselines``; it loads models itself) and ``model_store_for(settings)``; the errors; the file
names of a version; ``PointerState``; and the serialisation helpers manifests are hashed with.
"""

from bantay.stores.model_store.drift_files import BaselineFiles, DriftReportFiles
from bantay.stores.model_store.errors import (
    ArtifactCorrupt,
    BucketNotFound,
    ModelStoreError,
    NoProductionVersion,
    PointerChanged,
    PromotionConflict,
    UnknownModel,
    UnknownVersion,
    VersionExists,
)
from bantay.stores.model_store.objects import (
    ARTIFACT_FILES,
    MANIFEST_FILE,
    MODEL_FILE,
    POINTER_FILE,
    REFERENCE_FILE,
    SHADOW_FILE,
    S3Objects,
)
from bantay.stores.model_store.pointers import PointerState, ServingPointers
from bantay.stores.model_store.serialisation import canonical_json, jsonable, sha256_hex
from bantay.stores.model_store.store import ModelStore, model_store_for
from bantay.stores.model_store.versions import VersionFiles

__all__ = [
    "ARTIFACT_FILES",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "POINTER_FILE",
    "REFERENCE_FILE",
    "SHADOW_FILE",
    "ArtifactCorrupt",
    "BaselineFiles",
    "BucketNotFound",
    "DriftReportFiles",
    "ModelStore",
    "ModelStoreError",
    "NoProductionVersion",
    "PointerChanged",
    "PointerState",
    "PromotionConflict",
    "S3Objects",
    "ServingPointers",
    "UnknownModel",
    "UnknownVersion",
    "VersionExists",
    "VersionFiles",
    "canonical_json",
    "jsonable",
    "model_store_for",
    "sha256_hex",
]
