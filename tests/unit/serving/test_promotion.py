"""The promotion policy's refusal of versions that may not serve, in the registry's words, and
stopping a shadow (the store is a stand-in holding the shadow marker in memory)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bantay.serving.promotion import Promotion, serving_refusal
from bantay.vocabulary import ModelStatus


def version(status: str, rejection_reason: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        model="learner_risk",
        version="v2",
        status=ModelStatus(status),
        rejection_reason=rejection_reason,
    )


@pytest.mark.parametrize("status", ["approved", "production", "archived"])
def test_a_version_that_may_serve_is_not_refused(status):
    assert serving_refusal(version(status), "shadow") is None


def test_a_rejected_version_is_refused_with_the_gate_reason():
    said = serving_refusal(version("rejected", "no_regression.pr_auc: -0.08 < -0.02"), "shadow")
    assert said.startswith("refusing to shadow learner_risk v2: its registry status is 'rejected'")
    assert "(the gate rejected it: no_regression.pr_auc: -0.08 < -0.02)" in said


def test_a_candidate_is_refused_until_a_person_approves_it():
    said = serving_refusal(version("candidate"), "promote")
    assert "registry status is 'candidate' (it waits for a person's approval)" in said
    assert said.endswith("Approve it first")


class Pointers:
    """The shadow marker of one model, in memory."""

    def __init__(self, marker):
        self.marker = marker

    def shadow(self, model):
        return self.marker

    def clear_shadow(self, model):
        self.marker = None


def test_stop_shadow_clears_the_marker_and_returns_what_was_staged():
    pointers = Pointers({"version": "v2", "staged_by": "ana"})
    promotion = Promotion(SimpleNamespace(pointers=pointers))
    staged = promotion.stop_shadow("learner_risk", actor="ben", reason="seen enough")
    assert staged == {"version": "v2", "staged_by": "ana"} and pointers.marker is None
    assert promotion.stop_shadow("learner_risk", actor="ben", reason="again") is None
    with pytest.raises(ValueError, match="model '../x' is not a valid name"):
        promotion.stop_shadow("../x", actor="ben", reason="x")
