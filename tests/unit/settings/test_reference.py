"""docs/configuration.md is the settings schema's reference: regenerated, it must not differ."""

from __future__ import annotations

from pathlib import Path

from bantay.settings import ModelSettings, Settings
from bantay.settings.reference import reference

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_the_committed_reference_matches_the_schema():
    assert DOC.read_text(encoding="utf-8") == reference(), (
        "docs/configuration.md is out of date: run "
        "`bantay config reference > docs/configuration.md` and commit it"
    )


def test_every_key_has_a_row_with_a_description():
    text = reference()
    for block in (Settings, ModelSettings):
        for name in block.model_fields:
            assert f"| `{name}` |" in text, name
    assert "|  |\n" not in text, "a key without a description"


def test_the_reference_shows_ranges_allowed_values_and_examples():
    text = reference()
    assert '| `approval` | str | `"auto"` | `auto`, `manual` |' in text
    assert "| `training_window_days` | int | `56` | >= 7, <= 730 |" in text
    assert "## `models[].drift.guards`" in text and "```yaml\nmodels:\n- name: learner_risk" in text
