"""Adding your own model, as the README says, with no file under include/ edited: a project of its
own declares a new feed (exam practice, Parquet written here by its own producer, not the
simulator) and a new labels feed (exam outcomes) in its bantay.yaml, defines a feature view and a
versioned feature service in a new file of its feature repo, and adds a model entry. Then
``bantay config check``, the data contract, a training run, a night's scoring and a drift check,
through the real DAGs, against real Feast, S3 (moto over HTTP) and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bantay import simulate as sim
from support import cli as cli_support
from support.airflow_runs import ROOT, run_dag, task_states
from support.cli import error_text, run_bantay
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import moto_s3  # noqa: F401
from support.smtp import running_smtp_server, smtp_conn_json

pytestmark = pytest.mark.integration
env = cli_support.env

LAST = dt.date(2026, 10, 31)
CHECK_DAY = LAST - dt.timedelta(days=1)
LEARNERS = 2000
SUBJECTS = ["math", "science", "english"]
LABEL_DELAY = 7

EXAM_FEEDS = [
    {
        "name": "exam_practice",
        "columns": {
            "practice_minutes": {"type": "float", "min": 0, "max": 600},
            "mock_exam_score": {"type": "float", "min": 0, "max": 100},
            "subject": {"type": "string", "values": SUBJECTS},
        },
    },
    {
        "name": "exam_outcomes",
        "role": "labels",
        "columns": {"failed_exam": {"type": "int", "min": 0, "max": 1, "max_null_ratio": 0}},
    },
]
EXAM_MODEL = {
    "name": "exam_risk",
    "feature_service": "exam_risk_v1",
    "label_source": "exam_outcomes",
    "label": "failed_exam",
    "label_delay_days": LABEL_DELAY,
    "approval": "auto",
    "training_schedule": "manual",
    "training_window_days": 42,
    "search_space": [
        {"name": "logreg", "estimator": "logistic_regression", "params": {"C": [1.0]}}
    ],
    "gate": {"min_roc_auc": 0.6, "min_pr_auc": 0.1, "min_rows": 500, "max_recall_gap": 0.5},
    "slices": ["subject"],
    "drift": {"guards": {"persistence_days": 2}},
    "recipients": ["exams@example.org"],
}
VIEW = """
from feast import FeatureService, FeatureView, Field
from feast.types import Float64, String
from learner_features import accepted_source, learner

exam_practice = FeatureView(
    name="exam_practice",
    entities=[learner],
    source=accepted_source("exam_practice"),
    schema=[
        Field(name="practice_minutes", dtype=Float64),
        Field(name="mock_exam_score", dtype=Float64),
        Field(name="subject", dtype=String),
    ],
)
exam_risk_v1 = FeatureService(name="exam_risk_v1", features=[exam_practice])
"""


def _project(home: Path) -> dict[str, str]:
    """The project's own bantay.yaml (the shipped one plus the exam feeds and model) and its own
    copy of the feature repo with one new file: nothing under include/ changes."""
    config = yaml.safe_load((ROOT / "bantay.yaml").read_text())
    config["features"]["feeds"] += EXAM_FEEDS
    config["models"] = [config["models"][0], EXAM_MODEL]
    path = home / "bantay.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    repo = home / "feature_repo"
    shutil.copytree(ROOT / "feature_repo", repo)
    (repo / "exam_features.py").write_text(VIEW)
    return {"BANTAY_CONFIG": str(path), "BANTAY_FEAST__REPO_PATH": str(repo)}


def _skill(learners: np.ndarray) -> np.ndarray:
    return np.random.default_rng(7).normal(0, 1, len(learners))


def _deliver(raw: Path, dates: list[dt.date]) -> None:
    """The exam feeds' own producer: one practice row per learner a day, and weekly outcomes
    that mature LABEL_DELAY days after they are observed (a weaker skill fails more often)."""
    learners = np.arange(100_001, 100_001 + LEARNERS, dtype=np.int64)
    skill = _skill(learners)
    subject = np.array(SUBJECTS)[learners % 3]
    for i, day in enumerate(dates):
        rng = np.random.default_rng(1000 + i)
        midnight = pd.Timestamp(dt.datetime.combine(day, dt.time(), dt.UTC))
        practice = pd.DataFrame(
            {
                "learner_id": learners,
                "event_timestamp": midnight + pd.Timedelta(hours=18),
                "practice_minutes": np.clip(60 + 25 * skill + rng.normal(0, 20, LEARNERS), 0, 600),
                "mock_exam_score": np.clip(60 + 12 * skill + rng.normal(0, 8, LEARNERS), 0, 100),
                "subject": subject,
                "created_timestamp": midnight + pd.Timedelta(hours=20),
            }
        )
        _write(practice, raw / "exam_practice" / f"date={day}" / "part-0.parquet")
        observed = day - dt.timedelta(days=LABEL_DELAY)
        if observed.weekday() != 0 or observed < dates[0]:
            continue
        p = 1 / (1 + np.exp(-(-1.2 - 1.5 * skill)))
        outcomes = pd.DataFrame(
            {
                "learner_id": learners,
                "event_timestamp": pd.Timestamp(
                    dt.datetime.combine(observed, dt.time(23, 59), dt.UTC)
                ),
                "failed_exam": (rng.random(LEARNERS) < p).astype(np.int64),
                "created_timestamp": midnight + pd.Timedelta(hours=6),
            }
        )
        _write(outcomes, raw / "exam_outcomes" / f"date={day}" / "part-0.parquet")


def _write(frame: pd.DataFrame, path: Path) -> None:
    for col in ("event_timestamp", "created_timestamp"):
        frame[col] = frame[col].astype("datetime64[us, UTC]")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


LIFECYCLE = {
    "days": 60,
    "last_day": LAST,
    "scenario": sim.Scenario(learners=LEARNERS, seed=5),
    "prepare": _project,
    "deliver": _deliver,
}


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


@pytest.fixture(scope="module")
def own_model(lifecycle_env):  # noqa: F811
    from bantay.features.materialize import materialize
    from bantay.stores.feast_store import store as feature_store

    env = lifecycle_env
    settings = env.settings()
    as_of = _midnight(CHECK_DAY - dt.timedelta(days=2))
    training = run_dag(
        "bantay_training_exam_risk", as_of, {"reason": "own model", "as_of": as_of.isoformat()}
    )
    materialize(
        [CHECK_DAY],
        feast=feature_store(settings),
        lateness_days=settings.features.contract.max_lateness_days,
    )
    scoring = run_dag("bantay_scoring", _midnight(LAST), {"date": CHECK_DAY.isoformat()})
    with running_smtp_server() as smtp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_json(smtp.host, smtp.port))
        drift = run_dag(
            "bantay_drift", _midnight(LAST), {"date": CHECK_DAY.isoformat(), "model": "exam_risk"}
        )
        mail = list(smtp.handler.messages)
    return env, training, scoring, drift, mail


def test_config_check_passes_the_project_and_names_its_mistakes(lifecycle_env, env, tmp_path):  # noqa: F811
    env = env | {
        "BANTAY_HOME": str(lifecycle_env.home),
        "BANTAY_DATA_DIR": str(lifecycle_env.home / "data"),
        "BANTAY_FEAST_REGISTRY_URL": f"sqlite:///{lifecycle_env.home / 'feast_registry.db'}",
        "BANTAY_FEAST__REPO_PATH": str(lifecycle_env.home / "feature_repo"),
        "BANTAY_CONFIG": str(lifecycle_env.home / "bantay.yaml"),
    }
    done = run_bantay(env, "config", "check", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load((lifecycle_env.home / "bantay.yaml").read_text())
    config["models"][1] |= {"label": "failed", "slices": ["subjet"]}
    wrong = tmp_path / "bantay.yaml"
    wrong.write_text(yaml.safe_dump(config, sort_keys=False))
    text = error_text(
        run_bantay(env | {"BANTAY_CONFIG": str(wrong)}, "config", "check", cwd=ROOT), 2
    )
    assert "models[exam_risk].label: 'failed' is not a column of the label feed exam_outcomes" in (
        text
    )
    assert "did you mean 'failed_exam'?" in text
    assert "models[exam_risk].slices: 'subjet' is not a feature of service exam_risk_v1" in text


def test_the_new_feeds_pass_their_declared_contract(lifecycle_env):  # noqa: F811
    accepted = lifecycle_env.home / "data" / "accepted"
    assert (accepted / "exam_practice" / f"date={LAST}" / "part-0.parquet").is_file()
    assert any((accepted / "exam_outcomes").glob("date=*/part-0.parquet"))


def test_the_new_model_is_trained_published_scored_and_watched(own_model):
    from bantay.stores.model_store import model_store_for
    from bantay.stores.registry import registry_for

    env, training, scoring, drift, mail = own_model
    assert training.state == "success", task_states(training)
    settings = env.settings()
    fitted, manifest = model_store_for(settings).load_production("exam_risk")
    assert sorted(manifest["features"]["numerical"]) == ["mock_exam_score", "practice_minutes"]
    assert manifest["features"]["categorical"] == ["subject"]
    assert scoring.state == "success", task_states(scoring)
    log = pd.read_parquet(settings.layout.prediction_path("exam_risk", CHECK_DAY))
    assert len(log) == LEARNERS and log["model_version"].eq(manifest["version"]).all()
    failing = log.assign(skill=_skill(log["learner_id"].to_numpy()))
    assert np.corrcoef(failing["score"], failing["skill"])[0, 1] < -0.5  # it learnt the signal
    assert drift.state == "success", task_states(drift)
    reports = registry_for(settings).drift.reports("exam_risk", since=CHECK_DAY)
    assert [r.report_date for r in reports] == [CHECK_DAY]
    (message,) = mail  # the new model's on-call, and only theirs
    assert message.rcpt_tos == ["exams@example.org"] and b"exam_risk" in message.content


def test_the_other_models_are_untouched(own_model):
    from bantay.stores.registry import registry_for

    env, *_ = own_model
    registry = registry_for(env.settings())
    assert registry.versions.of("learner_risk") == []
    assert registry.drift.reports("learner_risk", since=CHECK_DAY) == []
