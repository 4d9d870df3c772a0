"""The bantay pages' cross-site check: a form post's Origin (or Referer) must be where Airflow is
served, by scheme, host and port exactly."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from bantay.ui.auth import same_origin


def _post(url_host: str, headers: dict[str, str], scheme: str = "http") -> Request:
    host, _, port = url_host.partition(":")
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": scheme,
            "server": (host, int(port or 80)),
            "path": "/bantay/models/learner_risk/retrain",
            "query_string": b"",
            "headers": [(b"host", url_host.encode())]
            + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
    )


@pytest.fixture
def no_base_url(monkeypatch):
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)


@pytest.mark.parametrize(
    "origin",
    [
        "http://airflow.example:8080",  # another port of the same host
        "http://airflow.example:80800",  # a port that starts with the right one
        "http://airflow.example:80.evil.example",  # not even a port
        "http://airflow.example:80@evil.example",  # userinfo: the host is evil.example
        "http://airflow.example.evil.example",  # a look-alike host with the same start
        "https://airflow.example",  # another scheme
        "null",  # a sandboxed or file: page
    ],
)
@pytest.mark.promise("UI actions", "posts from other origins, ports and look-alike hosts")
def test_a_post_from_anywhere_else_is_refused(no_base_url, origin):
    with pytest.raises(HTTPException) as err:
        same_origin(_post("airflow.example:80", {"Origin": origin}))
    assert err.value.status_code == 403
    assert "http://airflow.example:80" in err.value.detail


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://airflow.example"},
        {"Origin": "HTTP://Airflow.Example:80"},
        {"Referer": "http://airflow.example/bantay/models/learner_risk"},
        {},  # no browser form: a script with a bearer token
    ],
)
def test_a_post_from_the_same_origin_passes(no_base_url, headers):
    same_origin(_post("airflow.example:80", headers))


@pytest.mark.promise("UI actions", "a request seen through a proxy")
def test_behind_a_proxy_the_configured_base_url_is_the_origin(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.org/")
    inside = _post("10.0.0.5:8080", {"Origin": "https://airflow.example.org"})
    same_origin(inside)
    with pytest.raises(HTTPException) as err:
        same_origin(_post("10.0.0.5:8080", {"Origin": "http://10.0.0.5:8080"}))
    assert "https://airflow.example.org:443" in err.value.detail


class _User:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_name(self) -> str:
        return self.name


@pytest.mark.parametrize(
    ("name", "all_admins", "demo"),
    [("Anonymous", "False", True), ("ana", "True", True), ("ana", "False", False)],
)
def test_demo_mode_is_anyone_may_act(monkeypatch, name, all_admins, demo):
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    import bantay.ui.auth as auth

    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", all_admins)
    monkeypatch.setattr(auth, "get_auth_manager", lambda: object.__new__(SimpleAuthManager))
    assert auth.demo_mode(_User(name)) is demo
    assert auth.demo_mode(None) is False
