"""A DAG file imported as a module, for tests that build one model's DAG with the function the
file declares it with (``dags/`` is Airflow's DAG folder, not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

DAGS = Path(__file__).resolve().parents[2] / "dags"


def dag_file(name: str) -> ModuleType:
    """``dags/<name>.py`` as a module (imported once per test session)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, DAGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
