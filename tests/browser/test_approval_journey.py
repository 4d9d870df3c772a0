"""Approving a model version inside Airflow's shell, as a person does on a first morning.

Everything is real: ``bantay_training`` runs with ``dag.test()`` (Feast, the simulator, a
PostgreSQL registry, an S3 endpoint) and parks ``manual_approval`` awaiting input; an Airflow API
server (a separate process on the same metadata DB) serves the shell and the bantay pages; in
Debian's Chromium, the operator signs in, follows the model page's "approve / reject" link into
Required Actions, writes a note and approves. The run then publishes, and the model's pages name
the person and keep their note.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import (
    USER,
    api_server,
    arrives_at,
    auth_env,
    frame,
    launched,
    login,
    shot,
    sign_in,
)
from support.airflow_runs import migrated, run_dag, task_states
from support.hitl import Answer, answer_when_asked
from support.lifecycle import lifecycle_env  # noqa: F401
from support.services import free_port, moto_s3  # noqa: F401

pytestmark = pytest.mark.integration

MODEL = "learner_risk"
DAG_ID = f"bantay_training_{MODEL}"
LIFECYCLE = {"env": {"BANTAY_MODELS": json.dumps([{"name": MODEL, "approval": "manual"}])}}
NOTE = "gate passed; north-region recall checked by hand against last term"


@dataclass
class Shell:
    base: str
    password: str
    log: Path

    def api(self, path: str) -> dict:
        token = login(self.base, USER, self.password)
        request = urllib.request.Request(
            self.base + path, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def shell(lifecycle_env, tmp_path_factory):  # noqa: F811
    """The API server over this module's environment and the test session's metadata DB."""
    migrated()
    home = tmp_path_factory.mktemp("approval_shell")
    password = secrets.token_urlsafe(12)
    env = dict(os.environ) | auth_env(home, free_port(), {USER: password})
    with api_server(env, home) as (base, log):
        yield Shell(base, password, log)


def approve_in_the_shell(shell: Shell):
    def approve_in_the_shell(answer: Answer) -> None:
        with launched() as browser:
            context = sign_in(browser, shell.base, USER, shell.password)
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{shell.base}/plugin/bantay/bantay/models/{MODEL}")
            frame(page).locator("#versions a.approve").first.click()
            arrives_at(page, f"{shell.base}/dags/{DAG_ID}/runs/{answer.run_id}/required_actions")
            page.wait_for_load_state("networkidle")
            shot(page, "ui-approval-request")
            # Airflow's review dialog: the request's body (the gate), the note field from the
            # task's params, one button per option (enabled once the note is written).
            note = page.locator("input[name=element_note]")
            note.wait_for()
            assert "Validation gate: PASSED" in page.get_by_role("dialog").inner_text()
            note.fill(answer.note)
            page.get_by_test_id(f"hitl-option-{answer.choice}").click()
            detail = f"/api/v2/dags/{DAG_ID}/dagRuns/{answer.run_id}/hitlDetails"
            for _ in range(60):
                details = shell.api(detail)["hitl_details"]
                if details and details[0].get("response_received"):
                    answer.request = answer.response = details[0]
                    break
                page.wait_for_timeout(500)
            shot(page, "ui-approval-answered")
            context.close()

    return approve_in_the_shell


def test_a_person_approves_with_a_note_inside_the_shell_and_is_named(shell, lifecycle_env):  # noqa: F811
    as_of = dt.datetime.combine(lifecycle_env.last_day + dt.timedelta(days=1), dt.time(), dt.UTC)
    with answer_when_asked(
        None,
        dag_id=DAG_ID,
        task_id="manual_approval",
        choice="Approve",
        note=NOTE,
        by=approve_in_the_shell(shell),
    ) as answer:
        run = run_dag(DAG_ID, as_of, {"reason": "first model", "as_of": as_of.isoformat()})
    states = task_states(run)
    assert states["publish_and_promote"] == "success", states
    assert answer.response["responded_by_user"]["name"] == USER
    assert answer.response["params_input"]["note"] == NOTE
    with launched() as browser:
        context = sign_in(browser, shell.base, USER, shell.password)
        page = context.new_page()
        page.goto(f"{shell.base}/plugin/bantay/bantay/models")
        row = frame(page).locator(f"tr[data-model='{MODEL}']")
        row.wait_for()
        assert f"by {USER}" in row.inner_text()
        shot(page, "ui-approved-by-name")
        # The version page keeps who decided and why, naming the artifact they approved.
        row.locator("td.production a").click()
        decided = frame(page).get_by_text("Decided by:")
        decided.wait_for()
        assert f"approved by {USER}: {NOTE} (model.joblib sha256 " in decided.inner_text()
        context.close()
