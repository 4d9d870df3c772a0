"""A learner erased everywhere, and kept erased.

Real services (the data contract over a simulated lake, Feast's point-in-time join and SQLite
online store, a PostgreSQL registry, an S3 endpoint on loopback): a version is trained,
published and promoted through the training task bodies, a day is materialized and scored, then
``bantay erase`` removes one learner the version's reference saw. A further night delivers a day
that still carries the learner; the contract drops those rows and the day is materialized and
scored. Then every byte bantay keeps is searched for the id (its decimal digits as a whole
number, and its little- and big-endian int64): every file under BANTAY_HOME (SQLite files
included), every S3 object, every registry row's text. Nothing is found, and the version still
verifies against its anchored sha256 and loads.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import struct

import pytest

from bantay import simulate as sim
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import moto_s3  # noqa: F401

pytestmark = pytest.mark.integration

LAST = dt.date(2026, 10, 31)
NEXT = LAST + dt.timedelta(days=1)
SCENARIO = sim.Scenario(learners=800, seed=13, label_delay_days=2)
LIFECYCLE = {
    "days": 56,
    "last_day": LAST,
    "scenario": SCENARIO,
    "env": {"BANTAY_ERASURE_KEY": "an erasure key kept by the operators"},
}


def _cli(capsys, *argv: str) -> tuple[int, dict]:
    from bantay.cli import main

    code = main(list(argv))
    lines = capsys.readouterr().out.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return code, json.loads("\n".join(lines[start:]))


@pytest.fixture(scope="module")
def published(lifecycle_env):  # noqa: F811
    """A version trained, approved, published and promoted; the last day materialized and
    scored. Returns (steps, version)."""
    from bantay.cli import main
    from bantay.training.run import RunContext
    from support.training_steps import TrainingSteps

    settings = lifecycle_env.settings()
    stamp = dt.datetime.combine(LAST, dt.time(), dt.UTC).isoformat()
    steps = TrainingSteps(settings, RunContext("learner_risk", "first", stamp, "first model"))
    training = steps.training_set()
    evaluation = steps.evaluate(training, steps.tune(training, limit=1))
    version = evaluation["version"]
    steps.approve(version, True, "test", "first")
    steps.publish(version)
    assert main(["features", "materialize", "--start", LAST.isoformat()]) == 0
    assert main(["score", "learner_risk", "--day", LAST.isoformat()]) == 0
    # The same day's batch output with pseudonyms, as a model with output_ids: pseudonym has it.
    from bantay.airflow.edge import for_model
    from bantay.serving.scoring import score_day
    from bantay.stores.feast_store import store as feature_store

    res = for_model("learner_risk", settings)
    pseudonymous = res.model.model_copy(update={"output_ids": "pseudonym"})
    kept = {"layout": res.layout, "store": res.store, "registry": res.registry}
    score_day(LAST, model=pseudonymous, feast=feature_store(settings), **kept)
    # The day's drift report, evidence samples (check.json) in S3 and its registry row: searched
    # like every other store (they hold aggregates and id-less samples, never a learner id).
    assert main(["check-drift", "learner_risk", "--day", LAST.isoformat()]) == 0
    return steps, version


def _patterns(learner: int) -> list[tuple[str, re.Pattern[bytes]]]:
    return [
        ("decimal", re.compile(rb"(?<![0-9])" + str(learner).encode() + rb"(?![0-9])")),
        ("int64 little-endian", re.compile(re.escape(struct.pack("<q", learner)))),
        ("int64 big-endian", re.compile(re.escape(struct.pack(">q", learner)))),
    ]


def _decoded(body: bytes) -> bytes:
    """A Parquet file's values as uncompressed Arrow buffers (its raw bytes are compressed and
    encoded, where an int64 need not appear literally), else the bytes themselves."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not body.startswith(b"PAR1"):
        return b""
    sink = pa.BufferOutputStream()
    table = pq.read_table(pa.BufferReader(body))
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _search(env, learner: int) -> list[str]:
    """Every place the id's bytes are found: files under home, S3 objects, registry rows; a
    Parquet file is searched both as stored and decoded."""
    import sqlalchemy as sa

    blobs: dict[str, bytes] = {}
    for path in sorted(env.home.rglob("*")):
        if path.is_file() and not path.is_symlink():
            blobs[str(path)] = path.read_bytes()
    pages = env.s3.get_paginator("list_objects_v2").paginate(Bucket=env.bucket)
    for page in pages:
        for obj in page.get("Contents", []):
            body = env.s3.get_object(Bucket=env.bucket, Key=obj["Key"])["Body"].read()
            blobs[f"s3://{env.bucket}/{obj['Key']}"] = body
    engine = sa.create_engine(env.registry_url)
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        for table in tables:
            rows = conn.execute(sa.text(f'SELECT row_to_json(t)::text FROM "{table}" t'))
            blobs[f"registry:{table}"] = "\n".join(r[0] for r in rows).encode()
    engine.dispose()
    for where, body in list(blobs.items()):
        blobs[f"{where} decoded"] = _decoded(body)
    return [
        f"{where} ({kind})"
        for where, body in blobs.items()
        for kind, pattern in _patterns(learner)
        if pattern.search(body)
    ]


def test_a_learner_erased_is_gone_from_every_byte(published, lifecycle_env, capsys):  # noqa: F811
    import pyarrow.parquet as pq

    from bantay.schema import ENTITY

    steps, version = published
    store, registry = steps.res.store, steps.res.registry
    learner = int(store.versions.reference("learner_risk", version)[ENTITY].iloc[0])
    before = _search(lifecycle_env, learner)
    listed = lifecycle_env.s3.list_objects_v2(Bucket=lifecycle_env.bucket)["Contents"]
    names = {o["Key"].rsplit("/", 1)[-1] for o in listed if "/reports/drift/" in o["Key"]}
    assert {"report.html", "report.json", "check.json"} <= names  # searched below too
    seen = " ".join(before)  # the search can see the learner wherever bantay keeps them
    for place in ("online_store.db", "reference.parquet", "/raw/", "/accepted/", "/runs/"):
        assert place in seen, (place, before)
    assert "/predictions/" in seen, before

    code, dry = _cli(
        capsys, "erase", str(learner), "--reason", "family request", "--dry-run", "--retrain"
    )
    (retrain,) = dry["retraining"]  # learner_engagement has no production version to retrain
    assert (retrain["model"], retrain["version"], retrain["retrain"]) == (
        "learner_risk",
        version,
        "would trigger",
    )
    assert "airflow dags trigger bantay_training_learner_risk" in retrain["command"]
    assert code == 0 and dry["versions_that_saw_the_learner"] == [f"learner_risk {version}"]
    assert dry["versions_trained_on_the_learner"] == [f"learner_risk {version}"]
    assert dry["versions_without_training_manifest"] == []
    assert _search(lifecycle_env, learner) == before  # a dry run changes nothing

    from bantay.features.tombstones import pseudonym
    from bantay.schema import PSEUDONYM

    alias = pseudonym(learner, LIFECYCLE["env"]["BANTAY_ERASURE_KEY"].encode())
    output = lifecycle_env.settings().layout.output_path("learner_risk", LAST)
    assert alias in pq.read_table(output)[PSEUDONYM].to_pylist()
    assert learner not in pq.read_table(output).to_pandas().to_numpy()

    code, done = _cli(capsys, "erase", str(learner), "--reason", "family request")
    # The evidence samples of the day (check.json) held the learner's rows, without their id.
    assert done["touched"]["drift_samples"]["rows"] >= 1, done["touched"]
    assert done["touched"]["outputs"]["rows"] == 1
    assert alias not in pq.read_table(output)[PSEUDONYM].to_pylist()
    assert code == 0 and done["tombstone"] == "added"
    assert {"raw", "accepted", "runs", "online", "references", "training_sets"} <= set(
        done["touched"]
    )
    assert registry.training_sets.versions_with(done["subject"]) == []
    assert registry.training_sets.has("learner_risk", version)  # the other learners stay
    assert str(learner) not in json.dumps(done)
    (audit,) = registry.erasures.of(done["subject"])
    assert audit.reason == "family request" and audit.rows == done["rows"] > 0

    code, again = _cli(capsys, "erase", str(learner), "--reason", "family request")
    assert again["rows"] == 0 and again["touched"] == {} and "nothing" in again["note"]
    assert len(registry.erasures.of(done["subject"])) == 1

    # A further night: the new delivery still carries the learner.
    sim.write_range(lifecycle_env.settings().raw_dir, NEXT, 1, SCENARIO)
    from bantay.layout import partition_path

    raw_day = partition_path(lifecycle_env.settings().layout.raw, "learning_activity", NEXT)
    assert learner in pq.read_table(raw_day)[ENTITY].to_pylist()
    from bantay.cli import main

    assert main(["features", "materialize", "--start", NEXT.isoformat()]) == 0
    assert main(["score", "learner_risk", "--day", NEXT.isoformat()]) == 0
    capsys.readouterr()

    assert _search(lifecycle_env, learner) == []
    sha = registry.versions.get("learner_risk", version).artifact_sha256
    manifest = store.versions.verify("learner_risk", version, expected_sha256=sha)
    assert manifest["erasures"][0]["subject"] == done["subject"]
    model, _ = store.load_version("learner_risk", version)
    assert hasattr(model, "predict_proba")
