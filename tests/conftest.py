"""Test-wide environment: an isolated AIRFLOW_HOME and BANTAY_HOME per session.

Airflow reads its configuration at import time, so the environment is set here, before any test
module imports Airflow.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="bantay-tests-"))

os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.setdefault(
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_SESSION_DIR / 'airflow' / 'airflow.db'}"
)
os.environ["BANTAY_HOME"] = str(_SESSION_DIR / "bantay")
os.environ["BANTAY_DATA_DIR"] = str(_SESSION_DIR / "bantay" / "data")
# Defaults (one model, learner_risk) unless a test writes its own project file.
(_SESSION_DIR / "bantay.yaml").write_text("project: bantay\n")
os.environ["BANTAY_CONFIG"] = str(_SESSION_DIR / "bantay.yaml")
os.environ.pop("BANTAY_FEAST_REGISTRY_URL", None)
os.environ.pop("BANTAY_FEAST_ONLINE_PATH", None)
(_SESSION_DIR / "airflow").mkdir(parents=True, exist_ok=True)
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(1, str(ROOT / "scripts"))  # celery_stack: the stack's executor settings


def pytest_report_header(config):
    return f"bantay test session dir: {_SESSION_DIR}"
