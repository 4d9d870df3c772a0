"""The ``explain:`` block of a model: defaults, and bad values named where they are written."""

from __future__ import annotations

import pytest

from bantay.settings import ConfigError, load_settings


def test_every_model_gets_reasons_by_default_with_protected_attributes_left_out():
    settings = load_settings(models=[{"name": "learner_risk"}])
    cfg = settings.model("learner_risk").explain
    assert cfg.enabled and cfg.max_reasons == 4 and cfg.tree_method == "path"
    assert set(cfg.protected) == {"region", "parent_abroad", "grade_level"}
    assert set(cfg.domains.values()) == {"Attendance", "Engagement", "Coursework", "Family contact"}
    features = ["attendance_rate", "region", "grade_level", "quiz_score_avg", "unknown"]
    assert cfg.actionable(features) == ["attendance_rate", "quiz_score_avg"]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"max_reasons": 5}, "max_reasons"),
        ({"domains": {"parent_abroad": "Family contact"}}, "both in domains and protected"),
        ({"domains": {"attendance_rate": " "}}, "empty domain"),
        ({"tree_method": "kernel"}, "tree_method"),
        ({"reasons": 3}, "reasons"),
    ],
)
def test_a_bad_explain_block_fails_at_load_naming_the_key(block, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(models=[{"name": "learner_risk", "explain": block}])
