"""A first run by hand from the command line on a small simulated project (lake accepted by the
data contract, Feast applied, a PostgreSQL registry, the local S3 endpoint): ``bantay train
--publish``, then ``bantay score`` and ``bantay check-drift`` as a person would type them (each a
subprocess), running the DAG's own task bodies. Training and the error cases call the same
``main`` in this process, which has the heavy libraries imported already (time, not behaviour)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
from types import SimpleNamespace

import pandas as pd
import pytest

from bantay import simulate as sim
from bantay.cli import main
from support.cli import error_line, run_bantay
from support.lifecycle import lifecycle_env  # noqa: F401  (pytest fixture)
from support.services import moto_s3  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.integration

MODEL = "learner_risk"
LAST = dt.date(2026, 10, 31)
LIFECYCLE = {
    "days": 35,
    "last_day": LAST,
    "scenario": sim.Scenario(learners=600, seed=41, label_delay_days=2),
    "env": {
        "BANTAY_MODELS": json.dumps(
            [
                {
                    "name": MODEL,
                    "training_window_days": 28,
                    "search_space": [
                        {"name": "logreg", "estimator": "logistic_regression", "params": {}}
                    ],
                }
            ]
        )
    },
}


def result_line(done, subprocess: bool = True) -> str:
    """The command's one-line result: the last line of stdout (progress goes to stderr). A
    subprocess logs no INFO lines there; this process's logging is the test run's own."""
    lines = done.stdout.splitlines()
    assert lines, done.stderr
    assert not subprocess or not [x for x in lines if "[info" in x], done.stdout
    return lines[-1]


def in_process(*args: str) -> SimpleNamespace:
    """``bantay ARGS`` through the CLI's ``main`` here: exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        mp.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # main sets it for its process
        code = main(list(args))
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


@pytest.fixture(scope="module")
def project(lifecycle_env):  # noqa: F811
    """The lifecycle environment as the ``bantay`` command sees it: this process's environment."""
    env = dict(os.environ)
    env["BANTAY_HOME"] = str(lifecycle_env.home)
    return lifecycle_env, env


@pytest.fixture(scope="module")
def trained(project):
    as_of = (LAST + dt.timedelta(days=1)).isoformat()
    done = in_process("train", MODEL, "--as-of", as_of, "--publish")
    assert done.returncode == 0, done.stderr
    return done


def test_train_by_hand_goes_through_the_gate_and_publishes(project, trained):
    from bantay.stores.registry import Registry

    env, _ = project
    result = result_line(trained, subprocess=False)
    assert result.startswith(f"{MODEL}: candidate v") and "passed the gate" in result, result
    assert "published and promoted" in result
    assert "bantay: training set:" in trained.stderr and "trial 1/1" in trained.stderr
    registry = Registry(env.registry_url)
    try:
        production = registry.versions.production(MODEL)
        assert production is not None and production.version in result
        assert production.airflow_run_id.startswith("cli__")
        [promotion] = registry.promotions.of(MODEL)
        assert promotion.to_version == production.version
    finally:
        registry.dispose()


def test_score_then_check_drift_by_hand(project, trained):
    from bantay.stores.registry import Registry

    env, shell = project
    done = run_bantay(shell, "score", MODEL, "--day", LAST.isoformat())
    assert done.returncode == 0, done.stderr
    line = result_line(done)
    assert line.startswith(f"{MODEL}: scored ") and f" learners on {LAST} with version v" in line
    log = pd.read_parquet(line.rsplit("prediction log ", 1)[1])
    assert f"scored {len(log):,} learners" in line and len(log) > 0
    assert log["score"].between(0, 1).all()

    done = run_bantay(shell, "check-drift", MODEL, "--day", LAST.isoformat())
    assert done.returncode == 0, done.stderr
    line = result_line(done)
    assert line.endswith("no e-mail sent by hand"), line
    registry = Registry(env.registry_url)
    try:
        [report] = registry.drift.reports(MODEL)
    finally:
        registry.dispose()
    # Recorded as the DAG records it, with no Airflow run; the line says what was recorded.
    assert (report.report_date, report.airflow_run_id) == (LAST, None)
    assert line.startswith(f"[bantay] {report.verdict} {MODEL} {LAST}: "), line
    assert report.verdict in ("OK", "WATCH"), line  # nothing was shifted in the simulation
    if report.report_html_uri:
        assert report.report_html_uri in line


def test_a_day_without_accepted_features_names_bantay_features(project, trained):
    day = (LAST + dt.timedelta(days=5)).isoformat()
    line = error_line(in_process("score", MODEL, "--day", day), 2)
    assert f"no accepted learner_profile partition for {day}" in line
    assert "bantay_features" in line


def test_an_unknown_model_names_the_configured_ones(project):
    line = error_line(in_process("check-drift", "learner_rsik"), 2)
    assert "unknown model 'learner_rsik' (did you mean 'learner_risk'?)" in line
    assert "configured models: ['learner_risk']" in line
