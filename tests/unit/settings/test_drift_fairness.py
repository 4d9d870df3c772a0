"""The ``fairness:`` block of a model's drift settings: defaults, overrides, refused values."""

from __future__ import annotations

import pydantic
import pytest

from bantay.settings.drift import DriftConfig


def test_defaults_follow_the_four_fifths_rule_and_the_gates_gap() -> None:
    cfg = DriftConfig().fairness
    assert cfg.min_flag_ratio == 0.8 and cfg.max_recall_gap is None
    assert cfg.min_attribution_ndcg == 0.9


def test_the_block_is_read_from_the_drift_settings() -> None:
    cfg = DriftConfig.model_validate(
        {"fairness": {"min_slice_rows": 120, "max_recall_gap": 0.15}}
    ).fairness
    assert (cfg.min_slice_rows, cfg.max_recall_gap) == (120, 0.15)
    # for_features keeps the block when a version narrows the watched columns
    narrowed = DriftConfig.model_validate({"fairness": {"min_slice_rows": 120}}).for_features(
        {"numerical": ["attendance_rate"], "categorical": []}
    )
    assert narrowed.fairness.min_slice_rows == 120


@pytest.mark.parametrize(
    "block, word",
    [
        ({"min_flag_ratio": 1.2}, "min_flag_ratio"),
        ({"min_slice_rows": 0}, "min_slice_rows"),
        ({"max_recal_gap": 0.1}, "max_recal_gap"),
    ],
)
def test_bad_values_are_refused_by_name(block: dict, word: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=word):
        DriftConfig.model_validate({"fairness": block})
