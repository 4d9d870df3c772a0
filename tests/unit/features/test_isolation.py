"""A broken feed holds only the models that read it; every other model is released."""

from __future__ import annotations

import datetime as dt

from bantay.features.contract import ContractResult
from bantay.features.isolation import failed_feeds, release
from bantay.features.rules import Violation

DAY = dt.date(2026, 10, 5)
READS = {
    "learner_risk": ["learning_activity", "family_contact", "learner_profile"],
    "learner_engagement": ["learning_activity", "learner_profile"],
}


def _result(source: str, passed: bool) -> ContractResult:
    broken = [] if passed else [Violation("nulls", "x", "90% nulls", "at most 2%")]
    return ContractResult(source, DAY, f"raw/{source}", 10, broken)


def test_only_failed_feeds_are_named_with_their_days():
    results = [_result("learning_activity", True), _result("family_contact", False)]
    assert failed_feeds(results) == {"family_contact": ["2026-10-05"]}


def test_a_feed_one_model_reads_holds_that_model_alone():
    outcome = release(READS, {"family_contact": ["2026-10-05"]})
    assert outcome.released == ["learner_engagement"]
    assert outcome.held == {
        "learner_risk": "feed(s) family_contact quarantined or missing for 2026-10-05"
    }


def test_the_population_feed_holds_every_model_and_nothing_failed_holds_none():
    assert release(READS, {"learner_profile": ["2026-10-05"]}).released == []
    assert release(READS, {}).released == ["learner_risk", "learner_engagement"]
    assert release(READS, {"term_outcomes": ["2026-10-05"]}).held == {}  # labels hold no scoring


def test_a_model_whose_feeds_cannot_be_told_is_held_with_why():
    outcome = release(
        {"learner_risk": READS["learner_risk"]}, {}, {"exam_risk": "no feature service exam_v1"}
    )
    assert outcome.released == ["learner_risk"]
    assert outcome.held == {"exam_risk": "no feature service exam_v1"}
    assert outcome.to_extra() == {"models": ["learner_risk"], "held": outcome.held}
