"""Feast definitions for the learner early-warning model.

Sources are the daily raw partitions (``<data>/raw/<source>/date=*/part-0.parquet``) after the data
contract has accepted them; rejected partitions are moved to quarantine and never match the glob.
"""

from __future__ import annotations

import os
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource
from feast.types import Float64, Int64, String
from feast.value_type import ValueType

RAW = os.path.join(os.environ.get("BANTAY_DATA_DIR", "var/data"), "raw")


def _source(name: str) -> FileSource:
    return FileSource(
        name=f"{name}_source",
        path=os.path.join(RAW, name, "date=*", "*.parquet"),
        timestamp_field="event_timestamp",
        created_timestamp_column="created_timestamp",
        description=f"Daily {name.replace('_', ' ')} partitions, validated by the data contract.",
    )


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
    source=_source("learning_activity"),
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
    source=_source("family_contact"),
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
    source=_source("learner_profile"),
    online=True,
    tags={"team": "learner-success", "source": "enrolment"},
)

learner_risk_v1 = FeatureService(
    name="learner_risk_v1",
    features=[learning_activity, family_contact, learner_profile],
    description="Features of the learner_risk model, version 1.",
    tags={"model": "learner_risk"},
)
