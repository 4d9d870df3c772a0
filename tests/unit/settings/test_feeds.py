"""Feeds are declared in configuration: each column's type, range, allowed values and null
tolerance, and the feed's role; mistakes in a declaration are refused when it loads, naming
the key and the fix."""

from __future__ import annotations

import pytest

from bantay.settings import ConfigError, DriftConfig, ExplainConfig, FeatureSettings, load_settings
from bantay.settings.feeds import FeedSettings, default_feeds, feed_named

EXAM = {
    "name": "exam_practice",
    "columns": {
        "practice_minutes": {"type": "float", "min": 0},
        "subject": {"type": "string", "values": ["math", "science"]},
        "mock_passed": {"type": "int", "values": [0, 1]},
    },
}


def _features(*extra: dict, **fields) -> FeatureSettings:
    feeds = [f.model_dump() for f in default_feeds()] + list(extra)
    return FeatureSettings.model_validate({"feeds": feeds, **fields})


def test_a_declared_feed_gives_its_partition_schema_kinds_and_ranges():
    feed = FeedSettings.model_validate(EXAM)
    assert feed.dtypes() == {
        "learner_id": "int64",
        "event_timestamp": "timestamp",
        "practice_minutes": "float64",
        "subject": "string",
        "mock_passed": "int64",
        "created_timestamp": "timestamp",
    }
    assert feed.ranges() == {"practice_minutes": (0.0, None)}
    assert feed.categories() == {"subject": ["math", "science"], "mock_passed": [0, 1]}
    kinds = {name: spec.is_categorical for name, spec in feed.columns.items()}
    assert kinds == {"practice_minutes": False, "subject": True, "mock_passed": True}


@pytest.mark.parametrize(
    ("column", "says"),
    [
        ({"type": "float", "min": 5, "max": 1}, "min 5.0 is above max 1.0"),
        ({"type": "string", "max": 3}, "a string column has no min/max"),
        ({"type": "int", "values": []}, "values is empty"),
        ({"type": "decimal"}, "Input should be 'float', 'int' or 'string'"),
    ],
)
def test_a_bad_column_declaration_is_refused(column, says):
    with pytest.raises(ValueError, match=says):
        FeedSettings.model_validate({"name": "exam_practice", "columns": {"x": column}})


def test_the_partition_keys_are_never_declared():
    with pytest.raises(ValueError, match="partition keys every feed carries"):
        FeedSettings.model_validate({"name": "exam", "columns": {"learner_id": {"type": "int"}}})


def test_sources_default_to_every_features_feed_and_must_be_declared():
    features = _features(EXAM)
    assert features.sources == (
        "learning_activity",
        "family_contact",
        "learner_profile",
        "exam_practice",
    )
    assert features.population == "learner_profile"
    with pytest.raises(ValueError, match=r"'exam_practise' is not a declared features feed \(did"):
        _features(EXAM, sources=["learner_profile", "exam_practise"])
    with pytest.raises(ValueError, match="must include the population feed 'learner_profile'"):
        _features(EXAM, sources=["exam_practice"])


def test_exactly_one_population_feed_and_unique_names():
    with pytest.raises(ValueError, match="exactly one features feed must have 'population: true'"):
        _features(EXAM | {"population": True})
    with pytest.raises(ValueError, match=r"\['learner_profile'\] declared more than once"):
        _features(default_feeds()[2].model_dump())


def test_an_unknown_feed_name_lists_the_declared_ones():
    with pytest.raises(ConfigError, match=r"unknown feed 'exam_practise' \(did you mean"):
        _features(EXAM).feed("exam_practise")
    with pytest.raises(ValueError, match="pass the feed's declaration"):
        feed_named("exam_practice")


def test_a_model_sees_its_projects_declared_columns():
    settings = load_settings(features={"feeds": [*_features(EXAM).feeds]})
    model = settings.models[0]
    assert {"subject", "mock_passed", "region"} <= model.categorical
    assert "practice_minutes" in model.declared_features()["numerical"]
    assert model.feeds.population == "learner_profile"


def test_a_config_error_in_a_feed_names_the_feed_the_column_and_the_line(tmp_path, monkeypatch):
    config = tmp_path / "bantay.yaml"
    config.write_text(
        "features:\n"
        "  feeds:\n"
        "    - name: learner_profile\n"
        "      population: true\n"
        "      columns: {grade_level: {type: int}}\n"
        "    - name: exam_practice\n"
        "      columns:\n"
        "        score: {tpye: float}\n"
        "    - name: term_outcomes\n"
        "      role: labels\n"
        "      columns: {at_risk: {type: int}}\n"
    )
    monkeypatch.setenv("BANTAY_CONFIG", str(config))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert (
        "features.feeds[exam_practice].columns.score.tpye (line 8): unknown key "
        "(did you mean 'type'?)"
    ) in str(err.value)


def test_drift_takes_ranges_and_categories_from_the_declarations():
    feed = FeedSettings.model_validate(EXAM)
    watched = DriftConfig().for_features(
        {"numerical": ["practice_minutes"], "categorical": ["subject"]}, feed.columns
    )
    assert watched.valid_ranges == {"practice_minutes": (0.0, None)}
    assert watched.allowed_categories == {"subject": ["math", "science"]}
    given = DriftConfig(
        numerical_columns=["practice_minutes"],
        categorical_columns=[],
        valid_ranges={"practice_minutes": (0, 300)},
    ).for_features({"numerical": ["practice_minutes"], "categorical": []}, feed.columns)
    assert given.valid_ranges == {"practice_minutes": (0, 300)}  # bantay.yaml's own wins


def test_reasons_come_from_the_declared_domains_and_protected_columns():
    exam = {
        "name": "exam_practice",
        "columns": {
            "practice_minutes": {"type": "float", "min": 0, "domain": "Study habits"},
            "home_language": {"type": "string", "protected": True},
        },
    }
    settings = load_settings(features={"feeds": [*_features(exam).feeds]})
    reasons = settings.models[0].reasons
    assert reasons.domains["practice_minutes"] == "Study habits"
    assert reasons.domains["attendance_rate"] == "Attendance"
    assert {"home_language", "region"} <= set(reasons.protected)
    assert "home_language" not in reasons.domains
    narrowed = ExplainConfig(
        domains={"practice_minutes": "Homework", "region": "Place"}, protected=()
    )
    narrowed = narrowed.for_columns(settings.models[0].columns)
    assert narrowed.domains == {"practice_minutes": "Homework"}  # a protected one never counts
    with pytest.raises(ValueError, match="a protected column is never a reason"):
        FeedSettings.model_validate(
            {"name": "x_feed", "columns": {"c": {"protected": True, "domain": "Attendance"}}}
        )
