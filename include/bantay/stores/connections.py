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

import json
import logging
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from botocore import UNSIGNED
from botocore.config import Config
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from bantay.settings import Settings

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


def registry_url(settings: Settings) -> str:
    """The registry database URL: ``settings.registry_url`` (``$BANTAY_REGISTRY_URL``), else the
    Airflow connection ``settings.registry_conn_id``, else the embedded SQLite file under home.

    The value may contain a password: log it only through ``redact_url``.
    """
    conn_id = settings.registry_conn_id
    if settings.registry_url is not None:
        env = settings.registry_url.get_secret_value()
        log.debug("registry URL from $%s: %s", REGISTRY_URL_ENV, redact_url(env))
        return _normalise_scheme(env)
    conn = _get_connection(conn_id)
    if conn is not None:
        url = connection_to_sqlalchemy_url(conn)
        log.debug("registry URL from Airflow connection %r: %s", conn_id, redact_url(url))
        return url
    url = f"sqlite:///{settings.layout.registry_db}"
    log.debug(
        "no $%s and no Airflow connection %r: using the embedded registry %s",
        REGISTRY_URL_ENV,
        conn_id,
        url,
    )
    return url


class ConnectionInvalid(ValueError):
    """An Airflow connection that is defined but cannot be used as written. Refused rather than
    repaired: for S3, the fallback would be boto3's ambient credentials, which in production are
    another account or role."""


_CONN_FIELDS = ("conn_type", "description", "host", "login", "password", "schema", "port", "extra")
# Extras that carry credentials or say where they come from; without one of them (or login and
# password), boto3 signs with whatever the process environment offers.
_CREDENTIAL_EXTRAS = (
    "aws_access_key_id",
    "role_arn",
    "profile_name",
    "assume_role_method",
    "session_kwargs",
)


def _aws_env_connection(conn_id: str) -> None:
    """Refuse ``AIRFLOW_CONN_<ID>`` when it is set but unreadable: Airflow's resolver reports
    such a variable as "not defined", which the amazon provider turns into ambient credentials."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    raw = os.environ.get(name)
    if raw is None:
        return
    text = raw.strip()
    where = f"Airflow connection {conn_id!r} (environment variable {name})"
    if not text:
        raise ConnectionInvalid(
            f"{where} is set but empty; set it to the connection's JSON or unset it"
        )
    if text[0] not in "{[":
        return  # a URI: Airflow parses it, the fields are checked below
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise ConnectionInvalid(
            f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            'fix it, e.g. {"conn_type": "aws", "login": "<key id>", "password": "<secret>", '
            '"extra": {"region_name": "eu-west-1"}}'
        ) from None
    if not isinstance(parsed, dict):
        raise ConnectionInvalid(
            f"{where} is JSON {type(parsed).__name__}, not an object; write the connection as "
            '{"conn_type": "aws", "login": ..., "password": ..., "extra": {...}}'
        )
    unknown = sorted(set(parsed) - set(_CONN_FIELDS))
    if unknown:
        raise ConnectionInvalid(
            f"{where} has unknown field(s) {unknown}; a connection's fields are "
            f"{list(_CONN_FIELDS)} (check the spelling)"
        )
    if "port" in parsed and parsed["port"] not in (None, ""):
        try:
            int(parsed["port"])
        except (TypeError, ValueError):
            raise ConnectionInvalid(
                f"{where}: field 'port' is {parsed['port']!r}, not a number; fix or remove it"
            ) from None


def _extra_of(conn: Any, conn_id: str) -> dict[str, Any]:
    """The connection's extras as a mapping; Airflow turns unreadable extras into ``{}`` (and an
    S3 connection without its ``endpoint_url`` quietly talks to real AWS), so they are refused."""
    raw = conn.extra
    if raw in (None, ""):
        return {}
    try:
        extra = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise ConnectionInvalid(
            f"Airflow connection {conn_id!r}: field 'extra' is not valid JSON ({exc.msg} at "
            f"column {exc.colno}); write it as a JSON object such as "
            '{"endpoint_url": "http://minio:9000", "region_name": "us-east-1"}'
        ) from None
    if not isinstance(extra, dict):
        raise ConnectionInvalid(
            f"Airflow connection {conn_id!r}: field 'extra' is JSON {type(extra).__name__}, not an "
            'object; write it as {"region_name": ..., "endpoint_url": ...}'
        )
    return extra


def aws_connection(conn_id: str = DEFAULT_AWS_CONN_ID) -> tuple[Any | None, dict[str, Any]]:
    """(connection, its botocore ``config_kwargs``) of AWS connection ``conn_id``, checked.

    ``(None, {})`` when no such connection is defined anywhere: then boto3's default credential
    chain applies (an instance or task role), as intended on AWS. A connection that is defined
    but unreadable, of another type, or with half of a credential pair raises
    ``ConnectionInvalid`` naming the connection and the field.
    """
    _aws_env_connection(conn_id)
    conn = _get_connection(conn_id)
    if conn is None:
        return None, {}
    where = f"Airflow connection {conn_id!r}"
    if (conn.conn_type or "").lower() != "aws":
        raise ConnectionInvalid(
            f"{where}: field 'conn_type' is {conn.conn_type or 'missing'!r}; bantay reads S3 "
            "through an Amazon Web Services connection: set conn_type to 'aws'"
        )
    extra = _extra_of(conn, conn_id)
    _check_credentials(where, conn, extra)
    _check_endpoint(where, conn, extra)
    region = extra.get("region_name")
    if region is not None and (not isinstance(region, str) or not region.strip()):
        raise ConnectionInvalid(
            f"{where}: field 'extra.region_name' is {region!r}; set a region name such as "
            "'eu-west-1' or remove it"
        )
    config_kwargs = _config_kwargs(where, extra)
    return conn, dict(config_kwargs)


def _check_credentials(where: str, conn: Any, extra: dict[str, Any]) -> None:
    """Refuse half of an access key pair (in the fields or in the extras)."""
    pairs = (
        ("login", bool(conn.login), "password", bool(conn.password)),
        (
            "extra.aws_access_key_id",
            bool(extra.get("aws_access_key_id")),
            "extra.aws_secret_access_key",
            bool(extra.get("aws_secret_access_key")),
        ),
    )
    for first, has_first, second, has_second in pairs:
        if has_first != has_second:
            missing, present = (second, first) if has_first else (first, second)
            raise ConnectionInvalid(
                f"{where}: field {missing!r} is missing (field {present!r} is set); an access "
                "key needs both halves. Set it, or remove both to use the role of the machine"
            )


def _check_endpoint(where: str, conn: Any, extra: dict[str, Any]) -> None:
    """Refuse an ``endpoint_url`` that is not http(s), or one without credentials of its own."""
    endpoint = extra.get("endpoint_url")
    if endpoint is None:
        return
    parts = urlsplit(str(endpoint)) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionInvalid(
            f"{where}: field 'extra.endpoint_url' is {endpoint!r}, not an http(s) URL with a "
            "host; set it to the S3 endpoint (e.g. http://minio:9000) or remove it for AWS"
        )
    has_credentials = conn.login or any(extra.get(k) for k in _CREDENTIAL_EXTRAS)
    if not has_credentials:
        raise ConnectionInvalid(
            f"{where}: fields 'login' and 'password' are missing but 'extra.endpoint_url' "
            f"names {endpoint}; without them boto3 would sign with whatever credentials the "
            "machine has. Set login (access key id) and password (secret key)"
        )


def _config_kwargs(where: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The connection's botocore ``Config`` options (``extra.config_kwargs``), checked."""
    config_kwargs = extra.get("config_kwargs") or {}
    if not isinstance(config_kwargs, dict):
        raise ConnectionInvalid(
            f"{where}: field 'extra.config_kwargs' is {type(config_kwargs).__name__}, not an "
            'object of botocore Config options (e.g. {"retries": {"max_attempts": 10}})'
        )
    try:
        Config(**config_kwargs)
    except TypeError as exc:
        raise ConnectionInvalid(
            f"{where}: field 'extra.config_kwargs' is not valid botocore Config options ({exc}); "
            "see botocore.config.Config for the names"
        ) from None
    return config_kwargs


def s3_hook(conn_id: str = DEFAULT_AWS_CONN_ID) -> S3Hook:
    """The amazon provider's S3 hook on Airflow connection ``conn_id``, signing with SigV4.

    ``endpoint_url`` / ``region_name`` in the connection extras point it at MinIO or a local
    endpoint; real AWS needs no code change; ``config_kwargs`` (botocore ``Config`` options:
    retries, timeouts, addressing style) are honoured, SigV4 unless they name another signature.
    Works outside a task for connections defined as ``AIRFLOW_CONN_<ID>`` (JSON or URI). A
    connection that is not defined at all leaves boto3's default credential chain (instance
    role, ``~/.aws``), as on real AWS; one that is defined but malformed is refused
    (``ConnectionInvalid``), never replaced by ambient credentials. SigV4 (presigned links
    included) is what every region and new bucket accepts.
    """
    _conn, config_kwargs = aws_connection(conn_id)
    if config_kwargs.get("signature_version") == "unsigned":
        config_kwargs["signature_version"] = UNSIGNED
    # The hook ignores the connection's config_kwargs once it is handed a Config, so they are
    # merged here: the connection's options win over bantay's SigV4 default.
    config = Config(signature_version="s3v4").merge(Config(**config_kwargs))
    return S3Hook(aws_conn_id=conn_id, config=config)


def s3_client(conn_id: str = DEFAULT_AWS_CONN_ID) -> BaseClient:
    """The boto3 S3 client of ``s3_hook(conn_id)`` (same endpoint, credentials and SigV4)."""
    return s3_hook(conn_id).get_conn()


ERASURE_KEY_ENV = "BANTAY_ERASURE_KEY"
ERASURE_CONN_ID = "bantay_erasure"


def erasure_key() -> bytes:
    """The secret that keys the hashes of erased learners (tombstones, audit rows): the
    environment variable ``BANTAY_ERASURE_KEY``, else the password of the Airflow connection
    ``bantay_erasure``. Without it no learner id can be hashed, so nothing is guessed."""
    value = os.environ.get(ERASURE_KEY_ENV)
    if not value:
        conn = _get_connection(ERASURE_CONN_ID)
        value = conn.password if conn is not None else None
    if not value or len(value) < 16:
        raise ValueError(
            f"no erasure key: set ${ERASURE_KEY_ENV} (or the password of the Airflow connection "
            f"{ERASURE_CONN_ID!r}) to a secret of at least 16 characters; keep it: tombstones "
            "written with one key are not recognised under another"
        )
    return value.encode()
