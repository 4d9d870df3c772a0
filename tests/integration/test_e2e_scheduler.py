"""The whole lifecycle through Airflow's real scheduler (not dag.test), with PostgreSQL as the
Airflow metadata database: scripts/demo.py at a smaller scale, then the chain is asserted from
Airflow's REST API records and bantay's registry (summary.json) and the SMTP sink's files."""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures_services import pg_database

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    home = tmp_path_factory.mktemp("e2e")
    with pg_database() as metadata_url:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "BANTAY_"))  # the demo builds its own environment
        }
        env["BANTAY_DEMO_DIR"] = str(home)
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = metadata_url
        demo = [sys.executable, str(ROOT / "scripts" / "demo.py")]
        try:
            done = subprocess.run(
                [*demo, "--learners", "2000", "--days", "80"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=1500,
            )
            assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
            yield json.loads((home / "summary.json").read_text()), home
        finally:
            subprocess.run([*demo, "--stop"], env=env, cwd=ROOT, capture_output=True, timeout=120)


def test_runs_happen_in_lifecycle_order(lifecycle):
    summary, _ = lifecycle
    runs = summary["runs"]
    failed = [(r["dag_id"], r["dag_run_id"], r["state"]) for r in runs if r["state"] != "success"]
    assert not failed
    order = [r["dag_id"] for r in runs]
    first_training = order.index("bantay_training")
    assert order[0] == "bantay_features"
    assert "bantay_scoring" in order[:first_training]  # the backfill's Asset event started scoring
    scoring = [r for r in runs if r["dag_id"] == "bantay_scoring"]
    assert scoring and all(r["run_type"] == "asset_triggered" for r in scoring)
    drift_runs = [i for i, r in enumerate(runs) if r["dag_id"] == "bantay_drift"]
    assert drift_runs and min(drift_runs) > first_training


def test_one_retrain_for_the_drift_episode_and_it_is_in_production(lifecycle):
    summary, _ = lifecycle
    training = [r for r in summary["runs"] if r["dag_id"] == "bantay_training"]
    asset_runs = [r for r in training if r["run_type"] == "asset_triggered"]
    assert len(asset_runs) == 1, training
    decisions = [d["decision"] for d in summary["drift"]]
    assert decisions.count("retrain_triggered") == 1, summary["drift"]
    assert any(d["verdict"] == "DRIFT" for d in summary["drift"])
    production = [v for v in summary["versions"] if v["status"] == "production"]
    assert len(production) == 1 and production[0]["run_id"] == asset_runs[0]["dag_run_id"]
    assert production[0]["reason"].startswith("drift event drift/learner_risk")
    assert [p["to"] for p in summary["promotions"]][-1] == production[0]["version"]
    assert len(summary["promotions"]) == 2


def test_emails_were_received(lifecycle):
    summary, home = lifecycle
    assert len(summary["emails"]) >= len(summary["drift"])
    subjects = [
        email.message_from_bytes((home / "mail" / name).read_bytes(), policy=email.policy.default)[
            "Subject"
        ]
        for name in summary["emails"]
    ]
    assert any(
        "[bantay] DRIFT learner_risk" in s and "retraining started" in s for s in subjects
    ), subjects
