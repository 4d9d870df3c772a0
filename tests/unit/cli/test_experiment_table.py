"""``bantay experiment status``'s table: the guardrails, each with its state, under the
decision."""

from __future__ import annotations

from bantay.cli.experiment import _public, _table
from support.experiment_lake import experiment_record


def test_the_status_table_lists_each_guardrail_with_its_state():
    record = _public(experiment_record())
    guard = {
        "name": "flagged volume",
        "state": "breached",
        "detail": "at full rollout the challenger would flag up to 40 learners a day",
        "rows": [],
    }
    analysis = {"decision": "not yet", "reason": "r", "looks": [], "guardrails": [guard]}
    table = _table({"experiment": record, "analysis": analysis})
    assert (
        "guardrail flagged volume: breached (at full rollout the challenger would flag up to 40 "
        "learners a day)" in table
    )
    assert "guardrail" not in _table(
        {"experiment": record, "analysis": {**analysis, "guardrails": []}}
    )
