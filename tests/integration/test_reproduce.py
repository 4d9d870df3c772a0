"""A version reproduced bit for bit, and a change in the lake named as one.

Real services (Feast's point-in-time join over the accepted tree, a PostgreSQL registry, an S3
endpoint on loopback): a version is trained through the training task bodies, then
``bantay reproduce`` rebuilds its training set, refits its trial on every row and rewrites its
drift reference: every digest is the recorded one. One accepted label row changed afterwards
makes the rebuilt training set differ on that row's day, and the model with it: "data changed".
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from bantay import simulate as sim
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import moto_s3  # noqa: F401

pytestmark = pytest.mark.integration

LAST = dt.date(2026, 10, 31)
LIFECYCLE = {
    "days": 70,
    "last_day": LAST,
    "scenario": sim.Scenario(learners=1500, seed=11, label_delay_days=2),
}
ARTIFACTS = ["training set", "model.joblib", "reference.parquet"]


@pytest.fixture(scope="module")
def trained(lifecycle_env):  # noqa: F811
    """One version trained by the training task bodies (the best of the first two trials)."""
    from bantay.training.run import RunContext
    from support.training_steps import TrainingSteps

    as_of = dt.datetime.combine(LAST, dt.time(), dt.UTC).isoformat()
    steps = TrainingSteps(
        lifecycle_env.settings(), RunContext("learner_risk", "manual__repro", as_of, "to reproduce")
    )
    training = steps.training_set()
    evaluation = steps.evaluate(training, steps.tune(training, limit=2))
    return steps, evaluation["version"]


def _reproduce(capsys, version: str) -> tuple[int, dict]:
    from bantay.cli import main

    code = main(["reproduce", "learner_risk", version, "--json"])
    # Log lines share stdout in tests; the report is the JSON object printed last.
    lines = capsys.readouterr().out.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return code, json.loads("\n".join(lines[start:]))


def test_a_version_is_reproduced_bit_for_bit(trained, capsys):
    steps, version = trained
    record = steps.res.registry.versions.get("learner_risk", version)
    lineage = record.lineage
    assert set(lineage["libraries"]) >= {"python", "numpy", "pandas", "scikit-learn", "feast"}
    assert lineage["training_set"]["rows"] == lineage["training_rows"]
    code, report = _reproduce(capsys, version)
    checks = {c["artifact"]: c for c in report["checks"]}
    assert list(checks) == ARTIFACTS
    assert code == 0 and report["equal"] is True, report
    assert checks["training set"]["rebuilt"] == lineage["training_set"]["sha256"]
    for name in ("model.joblib", "reference.parquet"):
        assert checks[name]["rebuilt"] == lineage["artifacts"][name]
    # The version's own staged files are untouched; the rebuild has its own folder.
    assert report["folder"] != str(steps.dir)


def test_a_changed_accepted_row_is_data_changed(trained, capsys):
    from bantay.cli import main

    steps, version = trained
    model = steps.res.model
    frame = pd.read_parquet(steps.dir / "training.parquet")
    # A labelled row well inside the window: flip its label in its accepted partition.
    row = frame.iloc[len(frame) // 2]
    day = pd.Timestamp(row["event_timestamp"]).date()
    root = steps.res.layout.accepted / model.label_source
    for path in sorted(root.glob("date=*/*.parquet")):
        part = pd.read_parquet(path)
        hit = (part["learner_id"] == row["learner_id"]) & (
            pd.to_datetime(part["event_timestamp"], utc=True)
            == pd.Timestamp(row["event_timestamp"]).tz_convert("UTC")
        )
        if hit.any():
            part.loc[hit, model.label] = 1 - part.loc[hit, model.label]
            part.to_parquet(path, index=False)
            break
    else:
        pytest.fail(f"no accepted label partition holds {row['learner_id']} on {day}")
    code, report = _reproduce(capsys, version)
    checks = {c["artifact"]: c for c in report["checks"]}
    assert code == 1 and report["equal"] is False
    assert not checks["training set"]["equal"]
    assert checks["training set"]["why"].startswith("data changed"), checks["training set"]
    assert f"on 1 day: {day.isoformat()}" in checks["training set"]["why"]
    assert not checks["model.joblib"]["equal"]
    assert "data changed" in checks["model.joblib"]["why"]
    assert "non-determinism" not in checks["model.joblib"]["why"]
    # The table a person reads (shown with pytest -rP).
    assert main(["reproduce", "learner_risk", version]) == 1
    table = capsys.readouterr().out
    print(table)
    assert "training set       DIFFERENT" in table
