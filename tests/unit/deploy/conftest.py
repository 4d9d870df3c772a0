"""The compose tests' fixtures: the stack as Compose would run it (default and overridden
variables), and its Airflow worker's environment put into this process."""

from __future__ import annotations

import os

import pytest

from support.compose import (
    ENVS,
    Stack,
    load_compose,
)


@pytest.fixture(params=sorted(ENVS))
def stack(request: pytest.FixtureRequest) -> Stack:
    env = ENVS[request.param]()
    return Stack(load_compose(env), defaults=request.param == "defaults")


@pytest.fixture
def stack_process_env(monkeypatch: pytest.MonkeyPatch):
    """Put the Airflow containers' BANTAY_* and AIRFLOW_CONN_* variables into this process.

    AIRFLOW__* settings are left out on purpose: Airflow reads its configuration once per process,
    and the Celery/PostgreSQL values would leak into the other tests of the session.
    """

    def apply(stack: Stack) -> dict[str, str]:
        for key in list(os.environ):
            if key.startswith(("BANTAY_", "AIRFLOW_CONN_")):
                monkeypatch.delenv(key)
        env = {k: v for k, v in stack.env.items() if k.startswith(("BANTAY_", "AIRFLOW_CONN_"))}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return env

    return apply
