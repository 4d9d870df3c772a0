"""A small client for Airflow's REST API (v2) for the demo and the benchmarks: retries what is safe
to retry, says what happened when it gives up, and reports what the scheduler is doing.

Retried: every GET, and POSTs the caller marks idempotent. A DAG run is triggered with a
deterministic ``dag_run_id``, so a retried trigger whose first attempt did reach Airflow gets
HTTP 409 ("already exists"), which means the run is there: that is success, not an error.
Retried on: HTTP 5xx and 429, refused/reset connections, timeouts; with exponential backoff up to
a time budget. Anything else (4xx) is a real error and is raised at once.

No token: the demo runs Airflow's simple auth manager with every user an admin.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
FINISHED = {"success", "failed"}


class ApiGaveUp(RuntimeError):
    """Airflow's API kept failing a call that was retried for the whole budget."""


class ApiError(RuntimeError):
    """Airflow's API refused a call (4xx): retrying would not help."""


def _excerpt(body: bytes | str, limit: int = 300) -> str:
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class Api:
    """Airflow's REST API at ``http://127.0.0.1:<port>/api/v2``.

    ``budget`` seconds of retrying per call (backoff 0.5 s, 1 s, 2 s, ... capped at 8 s);
    ``log`` receives one line per retry so a person sees the hiccup as it happens;
    ``hint`` is appended to the message when the client gives up (where the logs are);
    ``poll``: seconds between looks while waiting for a run (a quarter of a second: a wait should
    not add a second to every step of the demo).
    """

    def __init__(
        self,
        port: int,
        *,
        budget: float = 180.0,
        timeout: float = 30.0,
        log: Callable[[str], None] = print,
        hint: str = "",
        poll: float = 0.25,
    ) -> None:
        self.base = f"http://127.0.0.1:{port}/api/v2"
        self.budget = budget
        self.timeout = timeout
        self.log = log
        self.hint = hint
        self.poll = poll  # seconds between looks while waiting for a run
        self.retries = 0  # retried attempts over the client's life, for the summary

    # -- transport ---------------------------------------------------------------------------

    def _once(self, method: str, path: str, body: dict | None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def call(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        idempotent: bool | None = None,
        accept: tuple[int, ...] = (),
    ) -> tuple[int, Any]:
        """One call, retried when it is idempotent (GET always). Returns (status, JSON)."""
        retry = method == "GET" if idempotent is None else idempotent
        started = time.monotonic()
        delay, attempt, last = 0.5, 0, ""
        while True:
            attempt += 1
            try:
                status, raw = self._once(method, path, body)
                if status < 400 or status in accept:
                    return status, json.loads(raw or b"{}")
                if status == 409 and attempt > 1 and method == "POST":
                    # The first attempt reached Airflow after all; the object exists.
                    return status, json.loads(raw or b"{}")
                last = f"HTTP {status}: {_excerpt(raw)}"
                if status not in RETRYABLE_STATUS:
                    raise ApiError(f"Airflow's API refused {method} {path}: {last}")
            except (
                urllib.error.URLError,
                http.client.HTTPException,
                ConnectionError,
                TimeoutError,
                OSError,
            ) as exc:
                last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            elapsed = time.monotonic() - started
            if not retry or elapsed + delay > self.budget:
                tried = f"{attempt} attempt(s) over {elapsed:.0f} s" if retry else "not retried"
                raise ApiGaveUp(
                    f"Airflow's API failed {method} {path} ({tried}); last answer: {last}."
                    + (f" {self.hint}" if self.hint else "")
                )
            self.retries += 1
            self.log(f"  (Airflow API {method} {path} -> {last}; retry in {delay:.1f} s)")
            time.sleep(delay)
            delay = min(delay * 2, 8.0)

    def get(self, path: str, **params: Any) -> Any:
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        return self.call("GET", path)[1]

    # -- DAGs and runs -----------------------------------------------------------------------

    def dag_ids(self) -> set[str]:
        return {d["dag_id"] for d in self.get("/dags", limit=100)["dags"]}

    def wait_ready(
        self, dag_ids: list[str], timeout: float = 300, on_wait: Callable[[], None] | None = None
    ) -> None:
        """Until the API answers and lists every one of ``dag_ids`` (parsed and serialized)."""
        deadline = time.monotonic() + timeout
        missing: set[str] = set(dag_ids)
        while time.monotonic() < deadline:
            try:
                status, raw = self._once("GET", "/dags?limit=100", None)
                if status == 200:
                    missing = set(dag_ids) - {d["dag_id"] for d in json.loads(raw)["dags"]}
                    if not missing:
                        return
                    self._raise_import_errors(missing)
            except (urllib.error.URLError, http.client.HTTPException, OSError):
                pass
            if on_wait:
                on_wait()
            time.sleep(self.poll * 2)
        raise TimeoutError(
            f"Airflow's API did not list {sorted(missing)} within {timeout:.0f} s. {self.hint}"
        )

    def _raise_import_errors(self, missing: set[str]) -> None:
        """A DAG file that failed to import is said at once, with its error, rather than
        waited for until the timeout."""
        status, raw = self._once("GET", "/importErrors?limit=20", None)
        errors = json.loads(raw).get("import_errors", []) if status == 200 else []
        if errors:
            lines = [
                f"  {e.get('filename')}: {str(e.get('stack_trace', '')).strip().splitlines()[-1:]}"
                for e in errors
            ]
            raise RuntimeError(
                f"Airflow could not import {len(errors)} DAG file(s), so {sorted(missing)} are "
                "missing:\n" + "\n".join(lines) + "\nFix the file (or bantay.yaml) and start again"
            )

    def trigger(self, dag_id: str, run_id: str, conf: dict) -> str:
        """Start ``dag_id`` now as run ``run_id`` (deterministic, so retrying is safe)."""
        self.call(
            "POST",
            f"/dags/{dag_id}/dagRuns",
            {"dag_run_id": run_id, "logical_date": None, "conf": conf},
            idempotent=True,
        )
        return run_id

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns", limit=100, order_by="-run_after")["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def task_instances(self, dag_id: str = "~", run_id: str = "~", **params: Any) -> list[dict]:
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='~')}/taskInstances"
        return self.get(path, limit=params.pop("limit", 100), **params)["task_instances"]

    def approvals(self, dag_id: str, run_id: str, *, answered: bool) -> list[dict]:
        """The run's Human-in-the-loop requests (Required Actions), pending or answered."""
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/hitlDetails"
        return self.get(path, response_received=str(answered).lower())["hitl_details"]

    def answer(self, detail: dict, choice: str, note: str) -> dict:
        """Answer one pending request as a person does in the UI: a choice and a note."""
        ti = detail["task_instance"]
        run_id = urllib.parse.quote(ti["dag_run_id"], safe="")
        path = (
            f"/dags/{ti['dag_id']}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/"
            f"{ti.get('map_index', -1)}/hitlDetails"
        )
        # Not retried blindly: a second answer to the same request is refused (409), which
        # means the first one arrived.
        body = {"chosen_options": [choice], "params_input": {"note": note}}
        return self.call("PATCH", path, body, idempotent=True, accept=(409,))[1]

    def activity(self) -> str:
        """What the scheduler is doing now: running and queued task instances, all DAGs."""
        busy = self.task_instances(state=["running", "queued", "scheduled", "up_for_reschedule"])
        if not busy:
            return "scheduler idle"
        by_state: dict[str, list[str]] = {}
        for ti in busy:
            name = f"{ti['dag_id'].removeprefix('bantay_')}.{ti['task_id'].split('.')[-1]}"
            if ti.get("map_index", -1) >= 0:
                name += f"[{ti['map_index']}]"
            by_state.setdefault(ti["state"], []).append(name)
        return "; ".join(f"{state}: {', '.join(sorted(n))}" for state, n in by_state.items())

    def wait(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 900,
        on_wait: Callable[[], None] | None = None,
    ) -> str:
        """Until the run finishes; its final state ("success" or "failed")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run(dag_id, run_id)["state"]
            if state in FINISHED:
                return state
            if on_wait:
                on_wait()
            time.sleep(self.poll)
        raise TimeoutError(f"{dag_id} run {run_id} did not finish within {timeout:.0f} s")

    def wait_new_run(
        self,
        dag_id: str,
        known: set[str],
        timeout: float = 300,
        on_wait: Callable[[], None] | None = None,
    ) -> str:
        """Until a run of ``dag_id`` that is not in ``known`` exists (an Asset-triggered one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self.runs(dag_id):
                if r["dag_run_id"] not in known:
                    return r["dag_run_id"]
            if on_wait:
                on_wait()
            time.sleep(self.poll)
        raise TimeoutError(f"no new {dag_id} run within {timeout:.0f} s")
