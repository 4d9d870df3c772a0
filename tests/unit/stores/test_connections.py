"""The S3 connection as bantay reads it: a defined but malformed connection is refused naming the
connection and the field (never replaced by the machine's ambient credentials), the connection's
own botocore options are honoured, and nothing comes from AWS_* variables when the connection
carries its credentials."""

from __future__ import annotations

import json

import pytest

from bantay.stores.connections import ConnectionInvalid, s3_hook

ENV = "AIRFLOW_CONN_AWS_DEFAULT"
GOOD = {
    "conn_type": "aws",
    "login": "AKIACONNECTIONKEY",
    "password": "connection-secret",
    "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"},
}


@pytest.fixture(autouse=True)
def ambient_credentials(monkeypatch):
    """The environment a developer or a CI job may have: credentials of some other account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAAMBIENTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "ambient-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def _with(**changes):
    conn = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        if key.startswith("extra_"):
            conn["extra"][key.removeprefix("extra_")] = value
        elif value is None:
            conn.pop(key)
        else:
            conn[key] = value
    return json.dumps(conn)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"conn_type": "aws", "login": "k",', "is not valid JSON"),
        ('["aws"]', "not an object"),
        ("", "is set but empty"),
        (_with(logn="k"), r"unknown field\(s\) \['logn'\]"),
        (_with(password=None), "field 'password' is missing"),
        (_with(login=None), "field 'login' is missing"),
        (_with(conn_type=None), "field 'conn_type' is 'missing'"),
        (_with(conn_type="s3"), "field 'conn_type' is 's3'"),
        (_with(extra="{not json"), "field 'extra' is not valid JSON"),
        (_with(extra_endpoint_url="minio:9000"), "field 'extra.endpoint_url'"),
        (_with(login=None, password=None), "fields 'login' and 'password' are missing"),
        (_with(extra_aws_access_key_id="AKIA2"), "'extra.aws_secret_access_key' is missing"),
        (_with(extra_config_kwargs=[1]), "field 'extra.config_kwargs' is list"),
        (_with(extra_config_kwargs={"retry": 3}), "field 'extra.config_kwargs' is not valid"),
    ],
    ids=lambda v: str(v)[:40],
)
@pytest.mark.promise("connections", "malformed AIRFLOW_CONN_* values")
def test_a_malformed_connection_is_refused_naming_it_and_the_field(monkeypatch, value, message):
    monkeypatch.setenv(ENV, value)
    with pytest.raises(ConnectionInvalid, match=message) as err:
        s3_hook("aws_default")
    assert "'aws_default'" in str(err.value)
    assert "connection-secret" not in str(err.value)


def test_the_connections_own_credentials_and_botocore_options_are_used(monkeypatch):
    monkeypatch.setenv(
        ENV,
        _with(
            extra_config_kwargs={
                "retries": {"max_attempts": 7, "mode": "standard"},
                "connect_timeout": 3,
                "s3": {"addressing_style": "path"},
            }
        ),
    )
    hook = s3_hook("aws_default")
    client = hook.get_conn()
    config = client.meta.config
    assert config.retries["total_max_attempts"] == 8 and config.connect_timeout == 3  # 7 retries
    assert config.s3["addressing_style"] == "path"
    assert config.signature_version == "s3v4"
    credentials = hook.get_credentials()
    assert (credentials.access_key, credentials.secret_key) == (
        "AKIACONNECTIONKEY",
        "connection-secret",
    )
    assert client.meta.endpoint_url == "http://127.0.0.1:9"


@pytest.mark.promise("connections", "no connection defined")
def test_no_connection_at_all_leaves_the_default_chain(monkeypatch):
    """On AWS, a worker without an aws_default connection signs with its own role."""
    monkeypatch.delenv(ENV, raising=False)
    hook = s3_hook("aws_default")
    assert hook.get_credentials().access_key == "AKIAAMBIENTKEY"
