"""Resolve bantay's credentials from Airflow Connections, inside or outside a running task.

Credentials never live in code or settings; they are Airflow Connections (``aws_default``,
``bantay_registry``). ``airflow.sdk.BaseHook.get_connection`` works in both places:

* inside a task it asks the API server through the supervisor (UI-defined connections work);
* outside a task (CLI, tests, a notebook) it reads ``AIRFLOW_CONN_<ID>`` environment variables and
  any configured external secrets backend, *without* touching the Airflow metadata database.
  Connections defined only in the UI/metadata DB are therefore invisible outside a task: define
  them as environment variables there, or set ``BANTAY_REGISTRY_URL`` for the registry.

Nothing here logs a URL or a secret without passing it through ``redact_url`` first.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.client import BaseClient

log = logging.getLogger(__name__)

REGISTRY_URL_ENV = "BANTAY_REGISTRY_URL"
DEFAULT_REGISTRY_CONN_ID = "bantay_registry"
DEFAULT_AWS_CONN_ID = "aws_default"

_SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "secret", "token", "key", "credential")
_MASK = "***"


def redact_url(url: str) -> str:
    """Return ``url`` with its password and secret-looking query values replaced by ``***``.

    Safe to log. Works for SQLAlchemy URLs (``postgresql+psycopg2://u:pw@h/db``) and plain ones;
    everything except the secrets is kept exactly as written.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return _MASK
    redacted = url
    if "@" in parts.netloc:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{_MASK}@{hostport}" if sep else parts.netloc
        redacted = redacted.replace(f"//{parts.netloc}", f"//{netloc}", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode(
            [
                (k, _MASK if any(s in k.lower() for s in _SECRET_QUERY_KEYS) else v)
                for k, v in pairs
            ],
            safe="*",
        )
        redacted = redacted.replace(f"?{parts.query}", f"?{query}", 1)
    return redacted


def _normalise_scheme(url: str) -> str:
    """Map Airflow/libpq spellings of PostgreSQL onto the SQLAlchemy driver bantay ships."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _get_connection(conn_id: str) -> Any | None:
    """The Airflow Connection ``conn_id``, or None when it is not defined anywhere visible."""
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # pragma: no cover - Airflow is a hard dependency of bantay
        return None
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def connection_to_sqlalchemy_url(conn: Any) -> str:
    """Build a SQLAlchemy URL from an Airflow Connection.

    Extra ``sqlalchemy_url`` wins (use it for anything unusual); PostgreSQL connections are built
    from their fields (``get_uri`` would append Airflow's ``__extra__`` query, which drivers
    reject); ``sqlite`` connections use ``host`` as the file path.
    """
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return _normalise_scheme(str(extra["sqlalchemy_url"]))
    conn_type = (conn.conn_type or "").lower()
    if conn_type in ("postgres", "postgresql"):
        from sqlalchemy.engine import URL

        url = URL.create(
            "postgresql+psycopg2",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        )
        return url.render_as_string(hide_password=False)
    if conn_type == "sqlite":
        return f"sqlite:///{conn.host}"
    return _normalise_scheme(conn.get_uri())


def default_registry_url() -> str:
    """SQLite file under ``BANTAY_HOME`` (default ``./var``): the embedded, zero-setup registry."""
    from bantay.settings import bantay_home

    return f"sqlite:///{bantay_home() / 'registry.db'}"


def registry_url(conn_id: str = DEFAULT_REGISTRY_CONN_ID) -> str:
    """The registry database URL: ``$BANTAY_REGISTRY_URL``, else Connection ``conn_id``, else SQLite.

    The value may contain a password: log it only through ``redact_url``.
    """
    env = os.environ.get(REGISTRY_URL_ENV)
    if env:
        log.debug("registry URL from $%s: %s", REGISTRY_URL_ENV, redact_url(env))
        return _normalise_scheme(env)
    conn = _get_connection(conn_id)
    if conn is not None:
        url = connection_to_sqlalchemy_url(conn)
        log.debug("registry URL from Airflow connection %r: %s", conn_id, redact_url(url))
        return url
    url = default_registry_url()
    log.debug(
        "no $%s and no Airflow connection %r: using the embedded registry %s",
        REGISTRY_URL_ENV,
        conn_id,
        url,
    )
    return url


def s3_hook(conn_id: str = DEFAULT_AWS_CONN_ID) -> S3Hook:
    """The amazon provider's S3 hook on Airflow connection ``conn_id``, signing with SigV4.

    ``endpoint_url`` / ``region_name`` in the connection extras point it at MinIO or a local
    endpoint; real AWS needs no code change. Works outside a task for connections defined as
    ``AIRFLOW_CONN_<ID>`` (JSON or URI). If the connection is missing, the amazon provider falls
    back to boto3's default credential chain (instance role, ``~/.aws``), as on real AWS.
    SigV4 (presigned links included) is what every region and new bucket accepts.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.config import Config

    return S3Hook(aws_conn_id=conn_id, config=Config(signature_version="s3v4"))


def s3_client(conn_id: str = DEFAULT_AWS_CONN_ID) -> BaseClient:
    """The boto3 S3 client of ``s3_hook(conn_id)`` (same endpoint, credentials and SigV4)."""
    return s3_hook(conn_id).get_conn()
