"""The shape of the raw data: sources, columns, types and valid ranges.

One place for the facts that the data contract enforces, the Feast definitions describe and the
simulator produces. Pure constants: cheap to import anywhere, including DAG files.
"""

from __future__ import annotations

REGIONS = ("ncr", "luzon", "visayas", "mindanao")

ACTIVITY_FEATURES = (
    "attendance_rate",
    "assignment_completion",
    "quiz_score_avg",
    "study_minutes",
    "late_submissions",
)
CONTACT_FEATURES = (
    "calls_with_parent",
    "messages_with_parent",
    "days_since_last_contact",
    "support_on_time_ratio",
)
PROFILE_FEATURES = ("grade_level", "region", "parent_abroad")
FEATURES = ACTIVITY_FEATURES + CONTACT_FEATURES + PROFILE_FEATURES
SOURCE_FEATURES = {
    "learning_activity": ACTIVITY_FEATURES,
    "family_contact": CONTACT_FEATURES,
    "learner_profile": PROFILE_FEATURES,
}
LABEL_SOURCE = "term_outcomes"
SOURCES = (*SOURCE_FEATURES, LABEL_SOURCE)

# Valid ranges used for clipping here and by the data contract (bantay.features.contract).
RANGES: dict[str, tuple[float, float]] = {
    "attendance_rate": (0.0, 1.0),
    "assignment_completion": (0.0, 1.0),
    "quiz_score_avg": (0.0, 100.0),
    "study_minutes": (0.0, 600.0),
    "late_submissions": (0.0, 20.0),
    "calls_with_parent": (0.0, 20.0),
    "messages_with_parent": (0.0, 100.0),
    "days_since_last_contact": (0.0, 365.0),
    "support_on_time_ratio": (0.0, 1.0),
    "grade_level": (1.0, 12.0),
    "parent_abroad": (0.0, 1.0),
}
INT_COLUMNS = {
    "late_submissions",
    "calls_with_parent",
    "messages_with_parent",
    "days_since_last_contact",
    "grade_level",
    "parent_abroad",
    "at_risk",
    "disengaged",
}

ENTITY = "learner_id"
TIMESTAMP = "event_timestamp"
CREATED = "created_timestamp"
LABEL = "at_risk"
# Outcomes in the term_outcomes feed, one column per model label.
LABELS = ("at_risk", "disengaged")
CATEGORICAL = ("region", "parent_abroad")
NUMERICAL = tuple(f for f in FEATURES if f not in CATEGORICAL)


def source_columns(source: str) -> dict[str, str]:
    """Expected columns and dtypes of one raw partition of ``source``."""
    if source == LABEL_SOURCE:
        return {
            ENTITY: "int64",
            TIMESTAMP: "timestamp",
            **{label: "int64" for label in LABELS},
            CREATED: "timestamp",
        }
    if source not in SOURCE_FEATURES:
        raise ValueError(f"unknown source {source!r}; allowed: {list(SOURCES)}")
    cols = {ENTITY: "int64", TIMESTAMP: "timestamp"}
    for feat in SOURCE_FEATURES[source]:
        cols[feat] = (
            "string" if feat == "region" else ("int64" if feat in INT_COLUMNS else "float64")
        )
    cols[CREATED] = "timestamp"
    return cols


def feature_set() -> dict[str, list[str]]:
    """The model's features split by kind, as training, scoring and manifests describe them."""
    return {"numerical": list(NUMERICAL), "categorical": list(CATEGORICAL)}
