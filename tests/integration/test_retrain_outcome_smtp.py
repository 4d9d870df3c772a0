"""The retrain-outcome e-mail end to end: evaluate's result -> rendered mail -> Airflow SmtpHook ->
a real SMTP server (aiosmtpd on 127.0.0.1) -> parsed back from the received bytes; and a dead
server, which must leave a warning and the kept message, not an error."""

from __future__ import annotations

import email
import email.policy
import logging
from pathlib import Path

import pytest

from bantay.notify.outcome import send_retrain_outcome
from bantay.settings import load_settings
from support import smtp as fixtures_smtp
from support.smtp import free_port, smtp_conn_json, table_rows

pytestmark = pytest.mark.integration

smtp_server = fixtures_smtp.smtp_server
smtp_connection = fixtures_smtp.smtp_connection

TO = ["oncall@example.org", "ml-team@example.org"]
RUN_URL = (
    "http://localhost:8080/dags/bantay_training_learner_risk/runs/"
    "asset_triggered__2026-12-03T06:10:00+00:00"
)
CTX = {
    "model": "learner_risk",
    "run_id": "asset_triggered__2026-12-03T06:10:00+00:00",
    "as_of": "2026-12-03T06:10:00+00:00",
    "reason": "drift event on 2026-12-02: [bantay] DRIFT learner_risk 2026-12-02: retraining "
    "started (report s3://bantay/reports/drift/learner_risk/2026-12-02/report.json)",
    "force_reason": None,
    "trigger": "drift",
}
# evaluate's result (bantay.training.candidate.evaluate_candidate), a candidate the gate rejects.
REJECTED = {
    "version": "v20261203T061000-1a2b3c",
    "passed": False,
    "metrics": {"roc_auc": 0.8123, "pr_auc": 0.4012, "recall_at_precision": 0.3311, "brier": 0.1},
    "production_metrics": {"roc_auc": 0.8456, "pr_auc": 0.4566, "recall_at_precision": 0.4102},
    "reasons": ["regression.pr_auc: 0.401 vs production 0.457 (max drop 0.020)"],
    "gate_table": "...",
    "test_window": ["2026-11-19T00:00:00+00:00", "2026-12-01T00:00:00+00:00"],
}


def _send(evaluation, outcome):
    """send_retrain_outcome with the collaborators the training DAG hands it."""
    settings = load_settings(models=[{"name": "learner_risk", "recipients": TO}])
    return send_retrain_outcome(
        CTX,
        evaluation,
        outcome,
        RUN_URL,
        notify=settings.notify,
        model=settings.model("learner_risk"),
        layout=settings.layout,
    )


def _received(server):
    assert len(server.messages) == 1
    received = server.messages[0]
    return received, email.message_from_bytes(received.content, policy=email.policy.default)


def test_a_rejection_arrives_with_the_decision_first_and_both_models_numbers(
    smtp_server, smtp_connection
) -> None:
    sent = _send(REJECTED, "rejected")

    assert sent["sent"] is True
    received, got = _received(smtp_server)
    assert sorted(received.rcpt_tos) == sorted(TO)  # the model's drift recipients
    assert got["Subject"].startswith(
        "[bantay] RETRAIN learner_risk: candidate rejected, production unchanged; "
    )
    assert REJECTED["version"] in got["Subject"] and "regression.pr_auc" in got["Subject"]
    assert got["X-Bantay-Retrain-Outcome"] == "rejected"
    html = got.get_body(("html",)).get_content()
    rows = {row[0]: row[1:] for row in table_rows(html, "metrics")}
    assert rows == {
        "roc_auc": ["0.812", "0.846"],
        "pr_auc": ["0.401", "0.457"],
        "recall_at_precision": ["0.331", "0.410"],
    }
    assert "2026-11-19 to 2026-12-01" in html  # the test rows both were scored on
    assert "regression.pr_auc: 0.401 vs production 0.457" in html
    assert "drift event on 2026-12-02" in html
    assert f'href="{RUN_URL}"' in html

    # The complete message, plain-text part included, is kept in the outbox.
    kept = email.message_from_bytes(Path(sent["email"]).read_bytes(), policy=email.policy.default)
    text = kept.get_body(("plain",)).get_content()
    assert "pr_auc" in text and "candidate 0.401" in text and "production 0.457" in text
    assert RUN_URL in text


def test_promoted_and_waiting_name_themselves_first(smtp_server, smtp_connection) -> None:
    passed = {**REJECTED, "passed": True, "reasons": []}

    for outcome, phrase in [
        ("waiting_for_approval", "candidate waits for your approval"),
        ("promoted", "new model promoted"),
    ]:
        _send(passed, outcome)
        got = email.message_from_bytes(
            smtp_server.messages[-1].content, policy=email.policy.default
        )
        assert got["Subject"] == f"[bantay] RETRAIN learner_risk: {phrase}; {passed['version']}"
        assert "0.846" in got.get_body(("html",)).get_content()  # production's number too

    assert len(smtp_server.messages) == 2


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_dead_smtp_server_is_a_warning_naming_the_connection_not_an_error(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_json("127.0.0.1", free_port()))
    # A handler on the module's logger itself: Airflow's logging setup may reroute the root's.
    keep, logger = _Keep(), logging.getLogger("bantay.notify.outcome")
    logger.addHandler(keep)
    try:
        sent = _send(REJECTED, "rejected")
    finally:
        logger.removeHandler(keep)

    assert sent["sent"] is False
    warning = " ".join(r.getMessage() for r in keep.records)
    assert "'smtp_default'" in warning and "AIRFLOW_CONN_SMTP_DEFAULT" in warning
    assert sent["email"] in warning
    kept = email.message_from_bytes(Path(sent["email"]).read_bytes(), policy=email.policy.default)
    assert kept["Subject"].startswith("[bantay] RETRAIN learner_risk: candidate rejected")


def test_the_approval_wait_tells_on_call_of_a_drift_run_only(smtp_server, smtp_connection) -> None:
    """The notifier manual_approval calls once its request exists. The task instance and run are
    stand-ins exposing what it reads: the plan's and evaluate's XComs, the run's ids."""
    from types import SimpleNamespace

    from bantay.airflow.approval import WaitingForApprovalNotifier

    passed = {**REJECTED, "passed": True, "reasons": []}
    run = SimpleNamespace(dag_id="bantay_training_learner_risk", run_id=CTX["run_id"])
    notifier = WaitingForApprovalNotifier(plan_task_id="plan", evaluate_task_id="evaluate")

    for ctx in ({**CTX, "trigger": "manual", "reason": "new features"}, CTX):
        xcoms = {"plan": ctx, "evaluate": passed}
        ti = SimpleNamespace(xcom_pull=lambda task_ids, xcoms=xcoms: xcoms[task_ids])
        notifier({"ti": ti, "dag_run": run})

    assert len(smtp_server.messages) == 1  # the manual run sent nothing
    got = email.message_from_bytes(smtp_server.messages[0].content, policy=email.policy.default)
    assert got["Subject"].startswith("[bantay] RETRAIN learner_risk: candidate waits for your")
    assert f'href="{RUN_URL}"' in got.get_body(("html",)).get_content()
