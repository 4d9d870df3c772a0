"""The quarantine notice goes to the on-call people of the held models and names them."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from bantay.notify.quarantine import render_quarantine_email
from bantay.settings import load_settings


def test_the_held_models_on_call_and_the_data_engineers_are_told_by_name():
    settings = load_settings(
        models=[
            {"name": "learner_risk", "recipients": ["risk@example.org"]},
            {
                "name": "learner_engagement",
                "feature_service": "learner_engagement_v1",
                "label": "disengaged",
                "recipients": ["engagement@example.org"],
            },
        ]
    )
    held = {"learner_risk": "feed(s) family_contact quarantined or missing for 2026-10-05"}
    msg = render_quarantine_email(
        settings.notify,
        settings.models,
        held,
        ["learner_engagement"],
        "- family_contact 2026-10-05 (10 rows) moved to quarantine/...",
        "http://airflow/dags/bantay_features/runs/r1",
    )
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert parsed["Subject"] == "[bantay] QUARANTINE: learner_risk held, not scored"
    assert parsed["To"] == "data-eng@example.org, risk@example.org"
    text = parsed.get_body(("plain",)).get_content()
    assert "- learner_risk: feed(s) family_contact quarantined" in text
    assert "Scored as usual (their feeds passed): learner_engagement." in text
    assert parsed.get_body(("html",)) is not None
