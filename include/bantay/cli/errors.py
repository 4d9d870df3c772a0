"""What the CLI says when something fails: errors a person can fix, and services that do not
answer, each as one line naming the input or the service and the fix."""

from __future__ import annotations

import os


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that carry a message for a person (the input and the fix), not for a debugger."""
    from bantay.features.contract import ContractViolation
    from bantay.settings import ConfigError
    from bantay.stores.model_store import ModelStoreError
    from bantay.stores.registry import RegistryError

    return (ConfigError, ContractViolation, ModelStoreError, RegistryError, ValueError, OSError)


def service_errors() -> tuple[type[BaseException], ...]:
    """Failures to reach a service bantay depends on (the registry database, Feast's registry,
    the Redis online store): the message says which one, where, and what to check."""
    from sqlalchemy.exc import DBAPIError

    errors: list[type[BaseException]] = [DBAPIError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        errors += [RedisConnectionError, RedisTimeoutError]
    except ImportError:  # the redis extra is not installed: no Redis online store to reach
        pass
    return tuple(errors)


def _raised_in(exc: BaseException, package: str) -> bool:
    """Whether any frame of the traceback belongs to ``package`` (e.g. ``feast``)."""
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module == package or module.startswith(package + "."):
            return True
        tb = tb.tb_next
    return False


def service_message(exc: BaseException) -> str:
    from sqlalchemy.exc import DBAPIError

    from bantay.stores.connections import redact_url

    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason_line = reason[0] if reason else type(exc).__name__
    if not isinstance(exc, DBAPIError):
        where = os.environ.get("BANTAY_FEAST_REDIS", "the connection_string of feature_store.yaml")
        return (
            f"the Redis online store at {where} cannot be reached ({reason_line}); start Redis "
            "or point BANTAY_FEAST_REDIS (the online store's connection_string) at it"
        )
    if _raised_in(exc, "feast"):
        url = os.environ.get("BANTAY_FEAST_REGISTRY_URL", "the registry path of feature_store.yaml")
        return (
            f"the Feast registry database at {redact_url(url)} cannot be used ({reason_line}); "
            "start it or point BANTAY_FEAST_REGISTRY_URL at it, then run bantay features apply"
        )
    from bantay.settings import get_settings
    from bantay.stores.connections import registry_url

    try:
        url = redact_url(registry_url(get_settings()))
    except ValueError:  # bad settings: the message must not fail while explaining a failure
        url = "the registry database"
    return (
        f"the bantay registry database at {url} cannot be used ({reason_line}); start it, or "
        "fix $BANTAY_REGISTRY_URL / the Airflow connection 'bantay_registry', then run bantay "
        "registry upgrade"
    )
