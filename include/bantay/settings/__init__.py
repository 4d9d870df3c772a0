"""bantay's configuration tree, one pydantic model read from ``bantay.yaml`` and the environment.

``core`` holds the root (:class:`Settings`) and the per-model block; ``drift``, ``gate``, ``explain``
and ``search_space`` hold the blocks each stage reads (how drift is judged, the validation gate, the
estimators a retrain may try); ``source`` reads ``bantay.yaml`` strictly and names errors as the
file is written; ``reference`` renders the schema as docs/configuration.md. They live here, on the ground floor, because the scheduler reads
them when it parses DAG files and every stage reads them; nothing here imports a stage.
"""

from bantay.settings.core import (
    ConfigError,
    ContractSettings,
    FeatureSettings,
    ModelSettings,
    Settings,
    TrialSpec,
    get_settings,
    load_settings,
)
from bantay.settings.drift import DriftConfig, GuardConfig
from bantay.settings.explain import ExplainConfig
from bantay.settings.gate import GateConfig

__all__ = [
    "ConfigError",
    "ContractSettings",
    "DriftConfig",
    "ExplainConfig",
    "FeatureSettings",
    "GateConfig",
    "GuardConfig",
    "ModelSettings",
    "Settings",
    "TrialSpec",
    "get_settings",
    "load_settings",
]
