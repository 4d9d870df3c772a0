"""A reason is checked by bantay, not by FastAPI: blank or too long is a FormError that the
action answers with its form again (the routes themselves run in tests/integration)."""

from __future__ import annotations

import pytest

from bantay.ui.actions import MAX_REASON, FormError, _reason


@pytest.mark.parametrize("blank", ["", "   ", "\t\n "])
def test_a_blank_reason_is_a_form_error(blank) -> None:
    with pytest.raises(FormError, match="a rollback needs a reason"):
        _reason(blank, "rollback")


def test_a_reason_is_kept_trimmed_and_bounded() -> None:
    assert _reason("  label feed fixed ", "retrain") == "label feed fixed"
    with pytest.raises(FormError, match="keep it under 2,000"):
        _reason("x" * (MAX_REASON + 1), "retrain")
