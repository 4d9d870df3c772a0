"""Answer Airflow Human-in-the-loop requests through the REST API, the way a person does.

Import what you need into a test module explicitly::

    from support.hitl import airflow_api, answer_when_asked  # noqa: F401

* ``airflow_api`` (module fixture): Airflow's real core API app (``create_app("core")``) served
  in-process by FastAPI's ``TestClient``, with the SimpleAuthManager and one named user,
  ``reviewer`` (role USER, the least that may answer), logged in through ``POST /auth/token``.
  Yields an ``ApiSession``. The app shares this test session's metadata DB with ``dag.test()``.
* ``answer_when_asked(api, dag_id=..., task_id=..., choice=..., note=...)``: a context manager
  around ``dag.test()``. A background thread waits until the run has parked ``task_id`` in
  ``awaiting_input``, finds the request in the pending list (Required Actions), and answers it with
  ``PATCH .../taskInstances/{task_id}/-1/hitlDetails``; a watchdog thread fails the test instead
  of letting it hang when no answer can be given or the run never ends.
"""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

REVIEWER = "reviewer"
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)


@dataclass
class ApiSession:
    """A logged-in client of the core API (``/api/v2``)."""

    client: Any  # fastapi.testclient.TestClient
    token: str
    user: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def airflow_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiSession]:
    """Airflow's core REST API in-process, with a named user logged in by password."""
    from support.airflow_runs import migrated

    migrated()  # the API reads the metadata DB that dag.test() writes
    password = secrets.token_urlsafe(16)
    passwords = tmp_path_factory.mktemp("simple_auth") / "passwords.json"
    passwords.write_text(json.dumps({REVIEWER: password}))
    with pytest.MonkeyPatch.context() as mp:
        # Airflow's conf reads AIRFLOW__* variables on every lookup, so these apply at once.
        mp.setenv("AIRFLOW__CORE__AUTH_MANAGER", SIMPLE_AUTH_MANAGER)
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", f"{REVIEWER}:user")
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_hex(32))
        from airflow.api_fastapi.app import create_app, purge_cached_app
        from fastapi.testclient import TestClient

        purge_cached_app()  # no auth manager left over from another module's settings
        try:
            with TestClient(create_app(apps="core")) as client:
                login = client.post(
                    "/auth/token", json={"username": REVIEWER, "password": password}
                )
                assert login.status_code == 201, f"login as {REVIEWER} failed: {login.text}"
                yield ApiSession(client, login.json()["access_token"], REVIEWER)
        finally:
            purge_cached_app()


class HumanNeverAnswered(BaseException):
    """Raised in the main thread to stop ``dag.test()``.

    A ``BaseException`` on purpose: ``dag.test()`` catches ``Exception`` around each task and
    would otherwise log it and keep waiting for the answer that will never come.
    """


@dataclass
class Answer:
    """What the reviewer saw and sent; filled in by the responder thread."""

    choice: str
    note: str
    run_id: str | None = None
    request: dict[str, Any] | None = None  # the pending HITL detail as the API listed it
    response: dict[str, Any] | None = None  # the API's reply to the PATCH
    error: str | None = None


@contextlib.contextmanager
def _parked_runs(task_id: str) -> Iterator[queue.Queue[str]]:
    """Run ids, each put once ``dag.test()`` has parked ``task_id`` in ``awaiting_input``.

    Wraps ``dag.test()``'s private ``_run_task``: answering before it returns would race its
    ``ti.set_state(awaiting_input)``, which can overwrite the API's resume and strand the run.
    """
    import airflow.sdk.definitions.dag as dag_module
    from airflow.utils.state import TaskInstanceState

    original = getattr(dag_module, "_run_task", None)
    if original is None:
        pytest.fail(
            "airflow.sdk.definitions.dag._run_task is gone (Airflow upgraded?); update "
            "tests/hitl_support.py to detect when dag.test() parks a task for human input",
            pytrace=False,
        )
    parked: queue.Queue[str] = queue.Queue()

    def run_task(*, ti: Any, task: Any, run_triggerer: bool = False) -> Any:
        result = original(ti=ti, task=task, run_triggerer=run_triggerer)
        if ti.task_id == task_id and ti.state == TaskInstanceState.AWAITING_INPUT:
            parked.put(ti.run_id)
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(dag_module, "_run_task", run_task)
        yield parked


def _respond(
    api: ApiSession | None,
    dag_id: str,
    task_id: str,
    answer: Answer,
    parked: queue.Queue[str],
    done: threading.Event,
    by: Callable[[Answer], None] | None = None,
) -> None:
    """Wait for the request, find it among the pending ones, and answer it (through ``by``
    when given: a person's own way of answering, e.g. the Required Actions page in a browser)."""
    while not done.is_set():
        try:
            answer.run_id = parked.get(timeout=0.5)
            break
        except queue.Empty:
            continue
    else:
        return  # the run ended without asking; the test's state assertions say why
    if by is not None:
        by(answer)
        return
    assert api is not None, "answer_when_asked needs an ApiSession or a way to answer (by=)"
    listing = api.client.get(
        f"/api/v2/dags/{dag_id}/dagRuns/~/hitlDetails",
        params={"task_id": task_id, "response_received": False},
        headers=api.headers,
    )
    if listing.status_code != 200:
        raise RuntimeError(f"listing pending requests: HTTP {listing.status_code} {listing.text}")
    pending = [
        d
        for d in listing.json()["hitl_details"]
        if d["task_instance"]["dag_run_id"] == answer.run_id
    ]
    if len(pending) != 1:
        raise RuntimeError(
            f"expected one pending request for {dag_id}.{task_id} in run {answer.run_id}, "
            f"the API listed: {listing.json()}"
        )
    answer.request = pending[0]
    reply = api.client.patch(
        f"/api/v2/dags/{dag_id}/dagRuns/{answer.run_id}/taskInstances/{task_id}/-1/hitlDetails",
        json={"chosen_options": [answer.choice], "params_input": {"note": answer.note}},
        headers=api.headers,
    )
    if reply.status_code != 200:
        raise RuntimeError(f"answering {task_id}: HTTP {reply.status_code} {reply.text}")
    answer.response = reply.json()


# Not SIGALRM: Airflow's in-process task runner arms SIGALRM for every task's execution_timeout
# and cancels the timer (without restoring the handler) when the task ends, so ``signal.alarm``
# set around ``dag.test()`` never fires. Nothing in Airflow touches SIGUSR1.
WATCHDOG_SIGNAL = signal.SIGUSR1


@contextlib.contextmanager
def answer_when_asked(
    api: ApiSession | None,
    *,
    dag_id: str,
    task_id: str,
    choice: str,
    note: str,
    timeout_s: float = 1800,
    by: Callable[[Answer], None] | None = None,
) -> Iterator[Answer]:
    """Answer ``task_id``'s request with ``choice`` and ``note`` while the block runs the DAG.

    ``by`` answers in its own way once the run waits (it is handed the :class:`Answer`, with
    ``run_id`` set, and fills ``request`` and ``response``); without it, ``api`` answers.

    The block must run in the main thread. After ``timeout_s`` seconds, or as soon as the answer
    cannot be delivered, a watchdog thread interrupts it with ``HumanNeverAnswered`` (repeatedly,
    in case a task's own error handling swallows one), so the test fails instead of hanging.
    """
    answer = Answer(choice=choice, note=note)
    done = threading.Event()  # the block has ended
    abort = threading.Event()  # the answer cannot be delivered
    main = threading.main_thread().ident

    def on_signal(signum: int, frame: Any) -> None:
        if done.is_set():
            return  # late delivery while cleaning up: nothing left to interrupt
        raise HumanNeverAnswered(
            answer.error
            or f"{dag_id} did not finish within {timeout_s}s (a task up for retry, or a request "
            "nobody answered); see the log above"
        )

    def respond() -> None:
        try:
            _respond(api, dag_id, task_id, answer, parked, done, by)
        except Exception as exc:  # reported in the main thread, which would otherwise wait
            how = "via the REST API" if by is None else f"by {getattr(by, '__name__', by)}"
            answer.error = f"could not answer {dag_id}.{task_id} {how}: {exc}"
            abort.set()

    def watch() -> None:
        abort.wait(timeout_s)
        while not done.is_set():
            signal.pthread_kill(main, WATCHDOG_SIGNAL)
            done.wait(5)

    with _parked_runs(task_id) as parked:
        previous = signal.signal(WATCHDOG_SIGNAL, on_signal)
        threads = [
            threading.Thread(target=respond, name=f"answer-{task_id}", daemon=True),
            threading.Thread(target=watch, name=f"watchdog-{dag_id}", daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            yield answer
        finally:
            done.set()
            abort.set()  # releases the watchdog, which sees ``done`` and stops
            for thread in threads:
                thread.join(timeout=60)
            signal.signal(WATCHDOG_SIGNAL, previous)
    if answer.error:
        pytest.fail(answer.error, pytrace=False)
