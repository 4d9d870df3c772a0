"""Feast, as one external system: the environment ``feature_store.yaml`` reads, ``feast apply`` as
a deploy step, the FeatureStore handle, and online reads by feature service."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from feast import FeatureStore

from bantay.settings import Settings

log = logging.getLogger(__name__)


def feast_env(settings: Settings) -> dict[str, str]:
    """The ``${ENV}`` values ``feature_store.yaml`` needs; set in ``os.environ`` unless already set.

    In the stack these come from the deployment (compose or Helm); locally they default to files
    under the settings' home (:class:`bantay.layout.Layout`).
    """
    layout = settings.layout
    defaults = {
        "BANTAY_DATA_DIR": str(layout.data),
        "BANTAY_FEAST_REGISTRY_URL": f"sqlite:///{layout.feast_registry_db}",
        "BANTAY_FEAST_ONLINE_PATH": str(layout.online_store_db),
        "BANTAY_FEAST_REDIS": "127.0.0.1:6379",
        # Spark profile: local Spark's Python workers run this interpreter (it has feast and
        # bantay); on a cluster the deployment sets the executors' interpreter.
        "PYSPARK_PYTHON": sys.executable,
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    layout.home.mkdir(parents=True, exist_ok=True)
    return {k: os.environ[k] for k in defaults}


def repo_path(settings: Settings) -> Path:
    path = settings.feast.repo_path
    if not path.is_absolute():
        # Relative to the project root (the parent of include/), not the worker's cwd.
        root = Path(__file__).resolve().parents[3]
        path = (root / path) if (root / path).is_dir() else path.resolve()
    if not (path / settings.feast.store_yaml).is_file():
        raise FileNotFoundError(
            f"feast.repo_path: no {settings.feast.store_yaml} in {path}; set feast.repo_path in "
            "bantay.yaml (or BANTAY_FEAST__REPO_PATH) to the feature_repo folder"
        )
    return path


def store(settings: Settings) -> FeatureStore:
    """The Feast ``FeatureStore`` of these settings (``feature_store.yaml`` from the repo path,
    its ``${ENV}`` values set first)."""
    feast_env(settings)
    path = repo_path(settings)
    return FeatureStore(repo_path=str(path), fs_yaml_file=path / settings.feast.store_yaml)


def apply(settings: Settings) -> str:
    """``feast apply`` as a deploy step (never from the nightly DAG: apply can reset watermarks);
    returns what feast printed. A failure is a ``ValueError`` carrying feast's one-line reason."""
    path = repo_path(settings)
    # FEAST_FS_YAML_FILE_PATH tells the definitions which profile they are applied for (they
    # declare Spark sources for the Spark offline store).
    yaml_env = {"FEAST_FS_YAML_FILE_PATH": str(path / settings.feast.store_yaml)}
    env = os.environ | feast_env(settings) | yaml_env
    feast = Path(sys.executable).with_name("feast")
    # Sources are globs over daily partitions that may not exist yet at deploy time; the data
    # contract, not apply, is what checks the data.
    cmd = [
        str(feast),
        "--chdir",
        str(path),
        "--feature-store-yaml",
        settings.feast.store_yaml,
        "apply",
        "--skip-source-validation",
    ]
    log.info("running %s", " ".join(cmd))
    done = subprocess.run(cmd, env=env, cwd=path, capture_output=True, text=True)
    if done.returncode != 0:
        # feast prints a traceback; its last line is the mistake in the definitions.
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1].rstrip(".") if lines else f"exit {done.returncode}"
        raise ValueError(
            f"feast apply of {path} failed: {reason}; fix the definitions there and run "
            "bantay features apply again"
        )
    return done.stdout


def online_features(
    settings: Settings, learner_ids: list[int], feature_service: str
) -> pd.DataFrame:
    """Online features for ``learner_ids`` by feature service, as a DataFrame."""
    fs = store(settings)
    service = fs.get_feature_service(feature_service)
    rows = [{"learner_id": int(i)} for i in learner_ids]
    return fs.get_online_features(features=service, entity_rows=rows).to_df()
