"""The stack's Airflow configuration: Celery executor, execution API, keys, real options."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from support.compose import (
    AIRFLOW_ENV_FILE,
    CELERY_OPTIONS,
    CONTAINER_PORTS,
    Stack,
    env_files,
    load_compose,
    raw_compose,
    service_env,
)


def test_executor_is_celery_with_redis_broker_and_postgres_backend(stack: Stack) -> None:
    env = stack.env
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"

    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname in stack.services
    assert stack.image_of(broker.hostname).startswith("redis")
    assert (broker.port or 6379) == CONTAINER_PORTS["redis"]

    pg = stack.senv("postgres")
    for key in ("AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        value = env[key]
        url = make_url(value.removeprefix("db+"))
        assert url.drivername.startswith("postgresql"), f"{key}={value}"
        assert url.host in stack.services and stack.image_of(url.host).startswith("postgres")
        assert (url.port or 5432) == CONTAINER_PORTS["pg"]
        assert (url.username, url.password, url.database) == (
            pg["POSTGRES_USER"],
            pg["POSTGRES_PASSWORD"],
            pg["POSTGRES_DB"],
        ), f"{key} does not match the postgres service's POSTGRES_* variables"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")


def test_executor_settings_are_one_file_shared_with_the_celery_tier() -> None:
    """docker/airflow.env configures the executor of the stack AND of make test-celery: a value
    changed in one place only, or a stack-only override, fails here."""
    import celery_stack

    compose = raw_compose()
    common = compose["x-airflow-common"]
    assert celery_stack.ENV_FILE == AIRFLOW_ENV_FILE
    assert env_files(common) == [AIRFLOW_ENV_FILE], "x-airflow-common must load docker/airflow.env"
    shared = celery_stack.read_env_file()
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert "${" not in AIRFLOW_ENV_FILE.read_text(), "keep docker/airflow.env literal (no secrets)"

    scopes = {"x-airflow-common": common, **compose["services"]}
    for name, service in scopes.items():
        own = service.get("environment") or {}
        overridden = sorted(set(own) & set(shared))
        assert not overridden, (
            f"{name} overrides {overridden} of docker/airflow.env in compose only"
        )
        files = env_files(service)
        assert not files or files == [AIRFLOW_ENV_FILE], f"{name} loads other env files: {files}"
        executor_keys = {
            k for k in own if k.startswith(("AIRFLOW__CELERY", "AIRFLOW__CORE__EXECUTOR"))
        }
        # The result backend holds the database password, so it stays beside the metadata URL.
        stray = sorted(executor_keys - {celery_stack.RESULT_BACKEND_KEY})
        assert not stray, f"{name} sets executor settings {stray} outside docker/airflow.env"

    metadata = "postgresql+psycopg2://postgres@127.0.0.1:5432/bantay_test_x"
    broker = "redis://127.0.0.1:6379/11"
    tier = celery_stack.celery_environment(metadata, broker)
    moved = {celery_stack.BROKER_KEY, celery_stack.RESULT_BACKEND_KEY}
    assert set(tier) == set(shared) | {celery_stack.RESULT_BACKEND_KEY}
    assert {k: v for k, v in tier.items() if k not in moved} == {
        k: v for k, v in shared.items() if k not in moved
    }, "the Celery tier changes more than where the broker and result backend are"
    assert (
        urlsplit(tier[celery_stack.BROKER_KEY]).scheme
        == urlsplit(shared[celery_stack.BROKER_KEY]).scheme
    )
    assert tier[celery_stack.RESULT_BACKEND_KEY] == f"db+{metadata}"
    stack = Stack(load_compose({}), defaults=True)
    stack_backend = make_url(stack.env[celery_stack.RESULT_BACKEND_KEY].removeprefix("db+"))
    stack_metadata = make_url(stack.env[celery_stack.METADATA_KEY])
    assert (stack_backend.host, stack_backend.database) == (
        stack_metadata.host,
        stack_metadata.database,
    ), "in the stack too the result backend is the metadata database"
    cmd, _ = celery_stack.worker(tier, "bantay-worker-test@host")
    concurrency = cmd[cmd.index("--concurrency") + 1]
    assert concurrency == shared["AIRFLOW__CELERY__WORKER_CONCURRENCY"]


def test_workers_reach_the_execution_api_and_share_one_jwt_secret(stack: Stack) -> None:
    env = stack.env
    url = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == "airflow-apiserver" and url.path == "/execution/"
    assert url.port == CONTAINER_PORTS["apiserver"]
    apiserver = stack.services["airflow-apiserver"]
    assert apiserver["command"] == "api-server"
    assert stack.host_port("airflow-apiserver", url.port)
    assert f"localhost:{url.port}/" in " ".join(apiserver["healthcheck"]["test"])
    # In the anchor, hence identical in scheduler, api-server and workers.
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"]


def test_fernet_key_is_valid(stack: Stack) -> None:
    from cryptography.fernet import Fernet

    key = stack.env["AIRFLOW__CORE__FERNET_KEY"]
    try:
        Fernet(key.encode())
    except ValueError as exc:  # binascii.Error is a ValueError
        pytest.fail(f"AIRFLOW__CORE__FERNET_KEY {key!r} is not a Fernet key: {exc}")


def test_airflow_settings_are_real_options() -> None:
    """A misspelt AIRFLOW__SECTION__KEY is silently ignored by Airflow: catch it here."""
    import airflow

    schema = Path(airflow.__file__).parent / "config_templates" / "config.yml"
    options = {
        s: set(v.get("options") or {}) for s, v in yaml.safe_load(schema.read_text()).items()
    }
    try:
        from airflow.providers.celery.get_provider_info import get_provider_info

        provider = get_provider_info()["config"]
        options |= {name: set(section["options"]) for name, section in provider.items()}
    except ImportError:
        options |= CELERY_OPTIONS
    # The OpenLineage provider is a dependency of bantay: its [openlineage] section is real.
    from airflow.providers.openlineage.get_provider_info import get_provider_info as lineage_info

    lineage = lineage_info()["config"]
    options |= {name: set(section["options"]) for name, section in lineage.items()}
    compose = load_compose({})
    for name, service in {
        "x-airflow-common": compose["x-airflow-common"],
        **compose["services"],
    }.items():
        for key in service_env(service):
            if not key.startswith("AIRFLOW__"):
                continue
            section, _, option = key.removeprefix("AIRFLOW__").lower().partition("__")
            assert option in options.get(section, set()), (
                f"{name}: {key} is not an Airflow 3 option ([{section}] {option})"
            )
