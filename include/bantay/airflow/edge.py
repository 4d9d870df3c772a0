"""The task edge: where a task resolves what its body works with, once, and hands it in.

A task body in a stage (``training``, ``serving``, ``monitoring``, ``notify``) never looks its
collaborators up: it receives the model's settings, the registry, the serving store and the
paths as arguments, the way Dagster assets receive resources. The Airflow task (a DAG file's
``@task``) calls :func:`for_model` and passes the pieces on. Tests build a :class:`ModelResources`
(or the pieces) themselves, over a temporary registry and a local S3 endpoint.

The registry and the store are built on first use: a task that only reads the lake never opens
a database or an S3 client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from bantay.layout import Layout
from bantay.settings import ModelSettings, Settings, get_settings

if TYPE_CHECKING:
    from bantay.stores.model_store import ModelStore
    from bantay.stores.registry import Registry


@dataclass
class ModelResources:
    """Everything a task of one model works with; built per task by :func:`for_model`."""

    settings: Settings
    model: ModelSettings
    _registry: Registry | None = field(default=None, repr=False)
    _store: ModelStore | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def layout(self) -> Layout:
        return self.settings.layout

    @cached_property
    def registry(self) -> Registry:
        if self._registry is not None:
            return self._registry
        from bantay.stores.registry import registry_for

        return registry_for(self.settings)

    @cached_property
    def store(self) -> ModelStore:
        if self._store is not None:
            return self._store
        from bantay.stores.model_store import model_store_for

        return model_store_for(self.settings)


def for_model(name: str, settings: Settings | None = None) -> ModelResources:
    """The resources of model ``name`` under ``settings`` (default: the loaded settings).

    An unknown name fails here, before any work, with the configured names in the message.
    """
    settings = settings or get_settings()
    return ModelResources(settings=settings, model=settings.model(name))
