"""Feast definitions for the learner early-warning model.

Sources are the ACCEPTED daily partitions (``<data>/accepted/<source>/date=*/part-0.parquet``): the
data contract writes a day there only after every file delivered for it passed, and takes it out
again when a later delivery is rejected. Nothing reads the raw delivery tree directly.

One definitions file serves every ``feature_store*.yaml``: the source class follows the offline
store of the yaml being applied (a ``FileSource`` for DuckDB, a ``SparkSource`` over the same
files for Spark), so switching profiles is configuration only.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import yaml
from feast import Entity, FeatureService, FeatureView, Field, FileSource
from feast.types import Float64, Int64, String
from feast.value_type import ValueType

# bantay.layout.accepted_root; feature_repo/ does not import bantay (feast apply runs anywhere).
ACCEPTED = os.path.join(os.environ.get("BANTAY_DATA_DIR", "var/data"), "accepted")
HERE = Path(__file__).resolve().parent


def offline_store_type() -> str:
    """The offline store type of the yaml being applied: ``FEAST_FS_YAML_FILE_PATH`` (Feast's own
    variable, which ``bantay features apply`` sets), else Feast's default ``feature_store.yaml``.
    """
    path = Path(os.environ.get("FEAST_FS_YAML_FILE_PATH") or HERE / "feature_store.yaml")
    config = yaml.safe_load(path.read_text()) or {}
    return str((config.get("offline_store") or {}).get("type", "dask"))


OFFLINE_STORE = offline_store_type()


def accepted_source(name: str):
    kwargs = {
        "name": f"{name}_source",
        "path": os.path.join(ACCEPTED, name, "date=*", "*.parquet"),
        "timestamp_field": "event_timestamp",
        "created_timestamp_column": "created_timestamp",
        "description": f"Daily {name.replace('_', ' ')} partitions, validated by the data contract.",
    }
    if OFFLINE_STORE == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import (
            SparkSource,
        )

        return SparkSource(file_format="parquet", **kwargs)
    return FileSource(**kwargs)


learner = Entity(
    name="learner",
    join_keys=["learner_id"],
    value_type=ValueType.INT64,
    description="A learner, by pseudonymous id. Never a name.",
)

learning_activity = FeatureView(
    name="learning_activity",
    entities=[learner],
    ttl=timedelta(days=14),
    schema=[
        Field(name="attendance_rate", dtype=Float64, description="Share of sessions attended"),
        Field(
            name="assignment_completion", dtype=Float64, description="Share of due work handed in"
        ),
        Field(name="quiz_score_avg", dtype=Float64, description="Average quiz score, 0-100"),
        Field(name="study_minutes", dtype=Float64, description="Minutes of study that day"),
        Field(name="late_submissions", dtype=Int64, description="Submissions handed in late"),
    ],
    source=accepted_source("learning_activity"),
    online=True,
    tags={"team": "learner-success", "source": "lms"},
)

family_contact = FeatureView(
    name="family_contact",
    entities=[learner],
    ttl=timedelta(days=14),
    schema=[
        Field(name="calls_with_parent", dtype=Int64, description="Calls with the parent abroad"),
        Field(name="messages_with_parent", dtype=Int64, description="Messages with the parent"),
        Field(name="days_since_last_contact", dtype=Int64, description="Days since last contact"),
        Field(name="support_on_time_ratio", dtype=Float64, description="Support paid on time"),
    ],
    source=accepted_source("family_contact"),
    online=True,
    tags={"team": "learner-success", "source": "family-app"},
)

learner_profile = FeatureView(
    name="learner_profile",
    entities=[learner],
    ttl=timedelta(days=400),
    schema=[
        Field(name="grade_level", dtype=Int64, description="Grade 1-12"),
        Field(name="region", dtype=String, description="ncr, luzon, visayas or mindanao"),
        Field(name="parent_abroad", dtype=Int64, description="1 when a parent works abroad"),
    ],
    source=accepted_source("learner_profile"),
    online=True,
    tags={"team": "learner-success", "source": "enrolment"},
)

learner_risk_v1 = FeatureService(
    name="learner_risk_v1",
    features=[learning_activity, family_contact, learner_profile],
    description="Features of the learner_risk model, version 1.",
    tags={"model": "learner_risk"},
)

learner_engagement_v1 = FeatureService(
    name="learner_engagement_v1",
    features=[learning_activity, learner_profile],
    description="Features of the learner_engagement model, version 1: school activity and profile.",
    tags={"model": "learner_engagement"},
)
