"""Run bantay's Feast code under one ``feature_store*.yaml`` profile, isolated in its own home."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@contextlib.contextmanager
def feast_profile(
    home: Path, data_dir: Path, store_yaml: str, extra_env: dict[str, str] | None = None
) -> Iterator[Any]:
    """Settings for ``store_yaml`` with the registry and SQLite online store under ``home`` and the
    raw partitions in ``data_dir``; the environment is restored afterwards."""
    from bantay.settings import get_settings

    env = {
        "BANTAY_HOME": str(home),
        "BANTAY_DATA_DIR": str(data_dir),
        "BANTAY_FEAST_REGISTRY_URL": f"sqlite:///{home / 'feast_registry.db'}",
        "BANTAY_FEAST_ONLINE_PATH": str(home / "online_store.db"),
        "BANTAY_FEAST__STORE_YAML": store_yaml,
        **(extra_env or {}),
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        try:
            yield get_settings()
        finally:
            get_settings.cache_clear()
