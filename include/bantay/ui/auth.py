"""Who may see and do what on the bantay pages: Airflow's auth manager decides, nothing else.

Reading any page needs read access to every bantay DAG (the pages join their outcomes). An action
needs the right to create a run of the DAG it triggers. The user comes from the same place as for
Airflow's own REST API: a bearer token, or the UI's session cookie (which the ``external_views``
iframe sends), through ``airflow.api_fastapi.core_api.security.get_user``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import get_user
from airflow.configuration import conf
from fastapi import Depends, HTTPException, Request, status

from bantay.airflow.training_runs import training_dag_id
from bantay.settings import Settings, get_settings

FEATURES, SCORING, DRIFT, ROLLBACK, REBASELINE, SHADOW = (
    "bantay_features",
    "bantay_scoring",
    "bantay_drift",
    "bantay_rollback",
    "bantay_rebaseline",
    "bantay_shadow",
)
TRAINING_PREFIX = training_dag_id("")


def bantay_dags() -> list[str]:
    """Every bantay DAG: the shared ones and one training DAG per configured model."""
    models = [m.name for m in get_settings().models]
    return [
        FEATURES,
        SCORING,
        DRIFT,
        ROLLBACK,
        REBASELINE,
        SHADOW,
        *(training_dag_id(m) for m in models),
    ]


def require_read(request: Request, user: Annotated[BaseUser, Depends(get_user)]) -> BaseUser:
    """403 unless the user may read every bantay DAG (401 comes earlier, from ``get_user``)."""
    allowed = get_auth_manager().batch_is_authorized_dag(
        [{"method": "GET", "details": DagDetails(id=dag_id)} for dag_id in bantay_dags()],
        user=user,
    )
    if not allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the bantay pages need read access to the DAGs " + ", ".join(bantay_dags()),
        )
    request.state.bantay_user = user
    return user


ReadUser = Annotated[BaseUser, Depends(require_read)]
SIMPLE_AUTH_MANAGER = "SimpleAuthManager"
ANONYMOUS = "anonymous"


def demo_mode(user: BaseUser | None) -> bool:
    """Whether anyone may act here: the user is anonymous, or Airflow's simple auth manager
    makes every visitor an admin (``[core] simple_auth_manager_all_admins``)."""
    if user is None:
        return False
    if (user.get_name() or "").strip().lower() == ANONYMOUS:
        return True
    simple = type(get_auth_manager()).__name__ == SIMPLE_AUTH_MANAGER
    return simple and conf.getboolean("core", "simple_auth_manager_all_admins", fallback=False)


def user_roles(user: BaseUser) -> set[str]:
    """The user's Airflow roles, lower-cased: the simple auth manager's one ``role``, or the
    names of an auth manager's ``roles`` (FAB)."""
    roles = {str(getattr(user, "role", None) or "")}
    roles |= {str(getattr(r, "name", r)) for r in getattr(user, "roles", None) or ()}
    return {r.strip().lower() for r in roles if r and r.strip()}


def _has_role(user: BaseUser | None, wanted: list[str]) -> bool:
    if user is None:
        return False
    if demo_mode(user):
        return True  # every visitor is an admin here; the pages say so
    return bool(user_roles(user) & {w.strip().lower() for w in wanted})


def may_see_learners(user: BaseUser | None, settings: Settings | None = None) -> bool:
    """Whether ``user`` may open learner pages (``ui.learner_roles``)."""
    return _has_role(user, (settings or get_settings()).ui.learner_roles)


def may_see_learner_ids(user: BaseUser | None, settings: Settings | None = None) -> bool:
    """Whether learner pages show ``user`` ids (``ui.learner_id_roles``) or pseudonyms."""
    ui = (settings or get_settings()).ui
    return _has_role(user, ui.learner_roles) and _has_role(user, ui.learner_id_roles)


def require_learners(request: Request, user: ReadUser) -> BaseUser:
    """A dependency: 403 unless the reading user's role may see learner data."""
    if not may_see_learners(user):
        roles = ", ".join(sorted(user_roles(user))) or "none"
        allowed = ", ".join(get_settings().ui.learner_roles)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"{user.get_name()} (role: {roles}) may not see learner data; the roles that may "
            f"are {allowed} (ui.learner_roles in bantay.yaml); ask an Airflow admin",
        )
    return user


def may_trigger(user: BaseUser, dag_id: str) -> bool:
    """Whether the auth manager lets ``user`` create a run of ``dag_id``."""
    return get_auth_manager().is_authorized_dag(
        method="POST",
        access_entity=DagAccessEntity.RUN,
        details=DagDetails(id=dag_id),
        user=user,
    )


def require_trigger(dag_id: str | None = None):
    """A dependency: 403 unless the reading user may also trigger ``dag_id`` (default: the
    training DAG of the ``model`` in the path)."""

    def check(request: Request, user: ReadUser) -> BaseUser:
        target = dag_id or training_dag_id(request.path_params.get("model", ""))
        if not may_trigger(user, target):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"{user.get_name()} may not trigger {target}; ask an Airflow admin for the "
                "permission to create its runs",
            )
        return user

    return check


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of ``url``, ports made explicit; None when it has no such parts."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def expected_origin(request: Request) -> tuple[str, str, int]:
    """Where bantay's pages are served: Airflow's ``[api] base_url`` when it is set (behind a
    proxy, the request's own URL is the proxy's view, not the browser's), else this request."""
    base_url = conf.get("api", "base_url", fallback=None) or ""
    configured = _origin(base_url) if base_url.strip() else None
    if base_url.strip() and configured is None:
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            f"Airflow's [api] base_url {base_url!r} is not an http(s) URL with a host; set it to "
            "the address people open Airflow at (e.g. https://airflow.example.org)",
        )
    return configured or _origin(str(request.url))  # type: ignore[return-value]


def same_origin(request: Request) -> None:
    """Refuse a cross-site form post: the Origin (or Referer) must be this server, compared by
    scheme, host and port exactly (a prefix match lets ``http://host:80800`` or
    ``http://host.evil.example`` through)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return  # not a browser form post (a script with a bearer token)
    expected = expected_origin(request)
    if _origin(origin) != expected:
        scheme, host, port = expected
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"cross-site request refused: it came from {origin[:200]!r}, but bantay's actions "
            f"accept only pages of {scheme}://{host}:{port}; submit the form from the bantay "
            "pages inside Airflow (or set [api] base_url to the address Airflow is served at)",
        )
