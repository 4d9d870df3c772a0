"""OpenLineage events of real DAG runs (dag.test) through Airflow's OpenLineage provider, with its
file transport configured by environment, as the demo configures it: the first model is trained,
then the features DAG and the scoring DAG run one day, and their events are read back."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bantay import simulate as sim
from support.airflow_runs import ROOT, run_dag, task_states
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import moto_s3  # noqa: F401

pytestmark = pytest.mark.integration

LAST = dt.date(2026, 10, 31)
LIFECYCLE = {"days": 60, "last_day": LAST, "scenario": sim.Scenario(learners=1200, seed=31)}
MODEL = "learner_risk"
NS = "bantay://bantay"
REFUSED: dict[str, str] = {}  # the feed and column the refused day broke
HERE = Path(__file__).resolve().parent


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


@pytest.fixture(scope="module")
def events(lifecycle_env, tmp_path_factory):  # noqa: F811
    """The runs happen in a process of their own: Airflow loads the provider's listener once per
    process, when its plugins load, so a test process that ran DAGs before the transport was set
    would emit nothing."""
    path = tmp_path_factory.mktemp("openlineage") / "events.jsonl"
    transport = {"type": "file", "log_file_path": str(path), "append": True}
    env = os.environ | {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "bantay",
        "AIRFLOW__OPENLINEAGE__DISABLE_SOURCE_CODE": "True",
        "AIRFLOW__OPENLINEAGE__INCLUDE_FULL_TASK_INFO": "False",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "scripts"), str(HERE)]),
    }
    script = f"import {Path(__file__).stem} as t; t._episode()"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    said = [line for line in done.stdout.splitlines() if line.startswith("REFUSED=")]
    REFUSED.update(json.loads(said[-1].removeprefix("REFUSED=")))
    assert path.exists(), "the provider wrote no event: is the transport configured?"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _episode() -> None:
    """The runs whose events the tests read (in the fixture's own process); prints what the
    refused day broke, as a ``REFUSED=<json>`` line."""
    from bantay.settings import get_settings

    as_of = _midnight(LAST - dt.timedelta(days=3)).isoformat()
    run = run_dag(
        f"bantay_training_{MODEL}", _midnight(LAST), {"reason": "first model", "as_of": as_of}
    )
    assert str(run.state) == "success", task_states(run)
    day = LAST.isoformat()
    run = run_dag("bantay_features", _midnight(LAST + dt.timedelta(days=1)), {"start_date": day})
    assert str(run.state) == "success", task_states(run)
    run = run_dag("bantay_scoring", _midnight(LAST + dt.timedelta(days=1)), {"date": day})
    assert str(run.state) == "success", task_states(run)
    _refused_day(get_settings(), LAST + dt.timedelta(days=1))
    print("REFUSED=" + json.dumps(REFUSED))


def _refused_day(settings, day: dt.date) -> None:
    """A delivery with a value above its declared maximum: the features run fails on it."""
    from bantay.layout import partition_path

    feed = settings.features.feed(settings.features.population)
    column, spec = next((n, c) for n, c in feed.columns.items() if c.max is not None)
    frame = sim.partition(feed.name, day, LIFECYCLE["scenario"])
    frame.loc[frame.index[:50], column] = spec.max * 10 + 1
    sim.write_range(settings.raw_dir, day, 1, LIFECYCLE["scenario"])
    sim.write_table(frame, partition_path(settings.raw_dir, feed.name, day))
    run = run_dag(
        "bantay_features", _midnight(day + dt.timedelta(days=1)), {"start_date": day.isoformat()}
    )
    assert str(run.state) == "failed", task_states(run)
    REFUSED.update(feed=feed.name, column=column)


def _complete(events: list[dict], job: str) -> dict:
    """The COMPLETE event of ``job`` on the good day (the refused day's contract also completes:
    it accepts the feeds that passed and names the refused one's quarantine)."""
    done = [
        e
        for e in events
        if e["eventType"] == "COMPLETE"
        and e["job"]["name"] == job
        and not any(d["name"].startswith("quarantine/") for d in e.get("outputs") or [])
    ]
    assert done, f"no COMPLETE event of {job}; jobs: {sorted({e['job']['name'] for e in events})}"
    return done[0]


def _names(datasets: list[dict]) -> set[str]:
    assert all(d["namespace"] == NS for d in datasets), datasets
    return {d["name"] for d in datasets}


def test_events_are_openlineage_run_events(events):
    for event in events:
        assert event["schemaURL"].startswith("https://openlineage.io/spec/"), event["schemaURL"]
        assert event["run"]["runId"] and event["eventTime"] and event["producer"]
        assert "sourceCode" not in event["job"].get("facets", {})


def test_contract_reads_raw_and_writes_accepted_with_quality_and_schema(events):
    from bantay.settings import get_settings

    feeds = get_settings().features.sources
    event = _complete(events, "bantay_features.validate")
    assert _names(event["outputs"]) >= {f"accepted/{f}" for f in feeds}
    assert _names(event["inputs"]) >= {f"raw/{f}" for f in feeds}
    raw = next(d for d in event["inputs"] if d["name"] == f"raw/{feeds[0]}")
    declared = get_settings().features.feed(feeds[0]).columns
    assert {f["name"] for f in raw["facets"]["schema"]["fields"]} >= set(declared)
    metrics = raw["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] > 0
    assert set(metrics["columnMetrics"]) >= set(declared)
    verdict = raw["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert {"assertion": "data_contract", "success": True}.items() <= verdict[-1].items()


def test_graph_connects_raw_to_accepted_to_views_to_predictions(events):
    validate = _complete(events, "bantay_features.validate")
    materialize = _complete(events, "bantay_features.materialize")
    score = _complete(events, f"bantay_scoring.{MODEL}.score")
    accepted = _names(validate["outputs"])
    assert _names(materialize["inputs"]) <= accepted
    views = _names(materialize["outputs"])
    assert views and all(v.startswith("feast/feature_view/") for v in views)
    read = _names(score["inputs"])
    assert read & views, (read, views)
    assert f"predictions/{MODEL}" in _names(score["outputs"])
    version = [n for n in read if n.startswith("s3://")]
    assert len(version) == 1 and f"/models/{MODEL}/versions/" in version[0], read


def test_no_learner_id_appears_in_any_event(events, lifecycle_env):  # noqa: F811
    import pandas as pd

    from bantay.layout import partition_path

    settings = lifecycle_env.settings()
    population = settings.features.population
    ids = pd.read_parquet(partition_path(settings.raw_dir, population, LAST))["learner_id"]
    text = "\n".join(json.dumps(e) for e in events)
    leaked = [i for i in ids.astype(str).head(200) if f'"{i}"' in text or f": {i}," in text]
    assert not leaked, leaked[:5]


def test_training_links_the_published_version_to_its_training_set_and_gate(events):
    from bantay.settings import get_settings

    model = get_settings().model(MODEL)
    built = _complete(events, f"bantay_training_{MODEL}.training_set")
    assert _names(built["outputs"]) == {f"training_set/{MODEL}"}
    assert f"accepted/{model.label_source}" in _names(built["inputs"])
    evaluated = _complete(events, f"bantay_training_{MODEL}.evaluate")
    assert _names(evaluated["outputs"]) == {"registry/model_versions"}
    published = _complete(events, f"bantay_training_{MODEL}.publish_and_promote")
    (version,) = [d for d in published["outputs"] if d["name"].startswith("s3://")]
    facet = version["facets"]["bantayModelVersion"]
    assert facet["trainingSet"] == f"training_set/{MODEL}" and facet["gateVerdict"] == "passed"
    assert version["name"].endswith(f"/versions/{facet['version']}")
    score = _complete(events, f"bantay_scoring.{MODEL}.score")
    assert version["name"] in _names(score["inputs"])  # scoring read what training published


def test_events_stay_small(events):
    sizes = [len(json.dumps(e)) for e in events]
    completes = sum(e["eventType"] == "COMPLETE" for e in events)
    print(f"\n{len(events)} events ({completes} COMPLETE), largest {max(sizes)} bytes")
    assert max(sizes) < 64_000


def test_a_refused_delivery_goes_to_quarantine_with_its_broken_rule_and_fails_the_run(events):
    feed, column = REFUSED["feed"], REFUSED["column"]
    refused = [
        e
        for e in events
        if e["job"]["name"] == "bantay_features.validate"
        and f"quarantine/{feed}" in _names(e.get("outputs") or [])
    ]
    assert refused, "the refused delivery left no event naming its quarantine"
    event = refused[-1]
    assert f"accepted/{feed}" not in _names(event["outputs"])  # the other feeds were accepted
    assert any(
        e["eventType"] == "FAIL" and e["job"]["name"] == "bantay_features.refuse" for e in events
    ), "the run that quarantined a delivery did not fail"
    raw = next(d for d in event["inputs"] if d["name"] == f"raw/{feed}")
    checks = raw["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert {"assertion": "range", "success": False, "column": column}.items() <= checks[0].items()
