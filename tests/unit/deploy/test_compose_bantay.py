"""bantay's variables, settings and Connections under the stack's environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from support.compose import (
    CONTAINER_PORTS,
    ROOT,
    Stack,
    code_env_names,
    command_option,
    conn_id_settings,
    load_compose,
    service_env,
    settings_path,
    yaml_env_names,
)


def _store_yamls() -> tuple[Path, set[str]]:
    """The selected feature_store yaml and the variables only the other store yamls use."""
    env = load_compose({})["x-airflow-common"]["environment"]
    selected = ROOT / "feature_repo" / env["BANTAY_FEAST__STORE_YAML"]
    assert selected.is_file(), f"BANTAY_FEAST__STORE_YAML names missing {selected}"
    others = [p for p in (ROOT / "feature_repo").glob("feature_store*.yaml") if p != selected]
    other_vars = set().union(*(yaml_env_names(p) for p in others)) if others else set()
    return selected, other_vars - yaml_env_names(selected)


def test_every_variable_the_code_reads_is_set() -> None:
    env = load_compose({})["x-airflow-common"]["environment"]
    selected, unused_store_vars = _store_yamls()
    code = code_env_names()
    assert {"BANTAY_DATA_DIR", "BANTAY_REGISTRY_URL"} <= code, "the code scan found nothing"
    required = (code | yaml_env_names(selected)) - unused_store_vars
    missing = sorted(required - set(env))
    assert not missing, (
        f"the code reads {missing} but x-airflow-common does not set them; add them to "
        "docker-compose.yaml (or to the feature_store yaml exemption if only another store uses them)"
    )


def test_every_bantay_variable_set_is_read_by_the_code() -> None:
    """A misspelt BANTAY_* variable is ignored by pydantic-settings: catch it here."""
    env = load_compose({})["x-airflow-common"]["environment"]
    known = code_env_names() | set().union(
        *(yaml_env_names(p) for p in (ROOT / "feature_repo").glob("feature_store*.yaml"))
    )
    unused = sorted(
        k for k in env if k.startswith("BANTAY_") and k not in known and settings_path(k) is None
    )
    assert not unused, f"no code or settings field reads {unused}"


def test_settings_load_under_the_stack_environment(
    stack: Stack, stack_process_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bantay.settings import load_settings

    env = stack_process_env(stack)
    config = stack.host_path("airflow-worker", env["BANTAY_CONFIG"])
    assert config is not None, f"BANTAY_CONFIG={env['BANTAY_CONFIG']} is not bind-mounted"
    monkeypatch.setenv("BANTAY_CONFIG", str(config))  # the same file, seen from this machine
    settings = load_settings()

    # Every BANTAY_<SECTION>__<KEY> took effect (a wrong value type would have raised).
    for key, value in env.items():
        path = settings_path(key) if key.startswith("BANTAY_") else None
        if path:
            actual: Any = settings
            for part in path:
                actual = getattr(actual, part)
            if hasattr(actual, "get_secret_value"):
                actual = actual.get_secret_value()
            assert str(actual) == value, f"{key}={value!r} but settings have {actual!r}"
    # bantay.yaml was read from the mounted file (its models differ from the defaults).
    project_file = yaml.safe_load(config.read_text())
    assert len(settings.models) == len(project_file["models"])
    for model, written in zip(settings.models, project_file["models"], strict=True):
        for key, value in written.items():
            assert getattr(model, key) == value, f"bantay.yaml models.{key} was not applied"

    assert settings.storage.bucket == stack.senv("minio-init")["BUCKET"], (
        "BANTAY_STORAGE__BUCKET is not the bucket minio-init creates"
    )
    repo = stack.host_path("airflow-worker", settings.feast.repo_path)
    assert repo is not None and (repo / settings.feast.store_yaml).is_file()
    assert settings.notify.airflow_base_url == stack.env["AIRFLOW__API__BASE_URL"]
    if stack.defaults:  # the links in e-mails open the UI this stack publishes
        base = urlsplit(settings.notify.airflow_base_url)
        assert base.port == stack.host_port("airflow-apiserver", CONTAINER_PORTS["apiserver"])

    from bantay.stores.connections import REGISTRY_URL_ENV

    conn_ids = dict(conn_id_settings(settings))
    assert {"storage.aws_conn_id", "notify.smtp_conn_id", "registry_conn_id"} <= set(conn_ids)
    for field, conn_id in conn_ids.items():
        provided = f"AIRFLOW_CONN_{conn_id.upper()}" in env
        if (
            field == "registry_conn_id"
        ):  # bantay.stores.connections.registry_url reads the URL first
            provided = provided or REGISTRY_URL_ENV in env
        assert provided, f"settings.{field}={conn_id!r} but no AIRFLOW_CONN_{conn_id.upper()}"


def test_connections_point_at_the_stack_services(
    stack: Stack, stack_process_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from bantay.settings import load_settings
    from bantay.stores.connections import registry_url, s3_hook

    env = stack_process_env(stack)
    config = stack.host_path("airflow-worker", env["BANTAY_CONFIG"])
    monkeypatch.setenv("BANTAY_CONFIG", str(config))  # the same file, seen from this machine

    s3 = s3_hook("aws_default")
    endpoint = urlsplit(s3.get_conn().meta.endpoint_url)
    minio = stack.services["minio"]
    assert endpoint.hostname == "minio" and "minio" in stack.image_of("minio")
    assert endpoint.port == CONTAINER_PORTS["minio_api"]
    assert command_option(minio, "--address") == f":{endpoint.port}", "MinIO listens elsewhere"
    credentials = s3.get_credentials()
    assert (credentials.access_key, credentials.secret_key) == (
        stack.senv("minio")["MINIO_ROOT_USER"],
        stack.senv("minio")["MINIO_ROOT_PASSWORD"],
    ), "aws_default does not log in with MinIO's root credentials"
    assert len(stack.senv("minio")["MINIO_ROOT_PASSWORD"]) >= 8, "MinIO refuses shorter passwords"

    hook = SmtpHook(smtp_conn_id="smtp_default")
    hook.smtp_connection = hook.get_connection("smtp_default")
    assert hook.host == "mailpit" and "mailpit" in stack.image_of("mailpit")
    assert hook.port == CONTAINER_PORTS["smtp"]
    assert not hook.use_ssl and not hook.smtp_starttls, "Mailpit speaks plain SMTP"

    url = make_url(registry_url(load_settings()))
    pg = stack.senv("postgres")
    assert url.drivername == "postgresql+psycopg2" and url.host == "postgres"
    assert (url.username, url.password, url.database) == (
        pg["BANTAY_DB_USER"],
        pg["BANTAY_DB_PASSWORD"],
        pg["BANTAY_DB_NAME"],
    ), "BANTAY_REGISTRY_URL does not match the database the postgres init script creates"


def test_postgres_init_script_creates_the_registry_database() -> None:
    compose = load_compose({})
    postgres = compose["services"]["postgres"]
    initdb = Stack(compose, defaults=True).host_path("postgres", "/docker-entrypoint-initdb.d")
    assert initdb is not None and initdb.is_dir(), "no init scripts mounted into postgres"
    scripts = sorted(p for p in initdb.iterdir() if p.suffix in (".sh", ".sql"))
    assert scripts, f"{initdb} has no .sh or .sql script"
    text = "\n".join(p.read_text() for p in scripts)
    for script in scripts:
        if script.suffix == ".sh":
            assert os.access(script, os.X_OK), f"{script} must be executable (else it is sourced)"
    for key in ("BANTAY_DB_NAME", "BANTAY_DB_USER", "BANTAY_DB_PASSWORD"):
        assert key in service_env(postgres), f"postgres service does not pass {key}"
        assert key in text, f"the init script ignores {key}"


def test_feast_store_resolves_to_the_stack(stack: Stack, stack_process_env) -> None:
    from feast.infra.online_stores.redis import RedisOnlineStore
    from feast.infra.registry.sql import metadata as feast_metadata
    from feast.repo_config import load_repo_config

    from bantay.stores.registry import ALEMBIC_VERSION_TABLE, Base

    env = stack_process_env(stack)
    repo = stack.host_path("airflow-worker", env["BANTAY_FEAST__REPO_PATH"])
    store_yaml = repo / env["BANTAY_FEAST__STORE_YAML"]
    expanded = os.path.expandvars(store_yaml.read_text())  # what Feast does
    assert "${" not in expanded, f"unset variable left in {store_yaml.name}: {expanded}"
    config = load_repo_config(repo, store_yaml)

    assert config.registry.registry_type == "sql"
    registry = make_url(config.registry.path)
    pg = stack.senv("postgres")
    assert (registry.host, registry.database) == ("postgres", pg["BANTAY_DB_NAME"])
    ours = {*Base.metadata.tables, ALEMBIC_VERSION_TABLE}
    assert not ours & set(feast_metadata.tables), "Feast and bantay registry tables collide"

    assert config.online_store.type == "redis"
    nodes, params = RedisOnlineStore._parse_connection_string(config.online_store.connection_string)
    assert [(n["host"], int(n["port"])) for n in nodes] == [("redis", CONTAINER_PORTS["redis"])]
    broker_db = int(urlsplit(stack.env["AIRFLOW__CELERY__BROKER_URL"]).path.strip("/") or 0)
    assert int(params.get("db", 0)) != broker_db, "Feast and Celery share one Redis database"
