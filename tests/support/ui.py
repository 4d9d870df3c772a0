"""The bantay pages under test: a seeded registry and S3 store, and Airflow's API app serving them.

Import what you need into a test module explicitly::

    from support.services import moto_s3  # noqa: F401
    from support.ui import MODELS, seeded_ui  # noqa: F401

* ``seeded_ui`` (module fixture): two configured models, each with an archived, a production and
  a rejected version and ``UI_DAYS`` days of drift rows (the second model's last day held by
  the labels guard), written through bantay's own Registry
  and ModelStore (SQLite registry, moto S3 over HTTP). Settings are re-read for the module.
  Yields ``{model: Seeded}``.
* ``ui`` (module fixture): Airflow's API app (simple auth manager, users ``USERS``) serving the
  seeded pages; ``ui.client`` a test client, ``ui.as_user(name)`` that user's bearer header.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from support.services import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, s3_client_for, s3_hook_over
from support.ui_seed import Seeded, publish_approved, seed_model

MODELS = ("learner_risk", "dropout_risk")
LAST_DAY = dt.date(2026, 11, 22)
UI_DAYS = 40
USERS = {"viewer": "viewer", "operator": "user"}  # name -> SimpleAuthManager role
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)


def bantay_env(home, endpoint: str, bucket: str) -> dict[str, str]:
    """The environment of a bantay deployment whose registry and store the tests seed."""
    conn = {
        "conn_type": "aws",
        "login": FAKE_ACCESS_KEY,
        "password": FAKE_SECRET_KEY,
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }
    return {
        "BANTAY_HOME": str(home),
        "BANTAY_DATA_DIR": str(home / "data"),
        "BANTAY_REGISTRY_URL": f"sqlite:///{home / 'registry.db'}",
        "BANTAY_STORAGE__BUCKET": bucket,
        "BANTAY_MODELS": json.dumps([{"name": m} for m in MODELS]),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn),
    }


def seed_all(
    env: dict[str, str], days: int = UI_DAYS, approved: tuple[str, ...] = ()
) -> dict[str, Seeded]:
    """Seed every model of :data:`MODELS`; each model named in ``approved`` also gets a version
    approved after its production one, published and not serving (``Seeded.approved``)."""
    from bantay.serving.promotion import Promotion
    from bantay.settings import get_settings
    from bantay.stores.model_store import ModelStore
    from bantay.stores.registry import Registry

    settings = get_settings()
    registry = Registry(env["BANTAY_REGISTRY_URL"])
    registry.upgrade()
    client = s3_client_for(json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"])
    client.create_bucket(Bucket=env["BANTAY_STORAGE__BUCKET"])
    # Published and promoted through the promotion policy, as the training DAG does.
    promotion = Promotion(
        ModelStore(s3_hook_over(client), env["BANTAY_STORAGE__BUCKET"], settings.storage.prefix),
        registry,
    )
    try:
        # The second model's latest decision is a hold of the labels guard.
        seeded = {
            m: seed_model(registry, promotion, m, LAST_DAY, days, hold_last=m == MODELS[1])
            for m in MODELS
        }
        for m in approved:
            seeded[m].approved = publish_approved(
                registry, promotion, m, seeded[m].production, LAST_DAY
            )
        return seeded
    finally:
        registry.dispose()


@pytest.fixture(scope="module")
def seeded_ui(tmp_path_factory, moto_s3) -> Iterator[dict[str, Seeded]]:
    from bantay.settings import get_settings
    from bantay.ui import queries

    home = tmp_path_factory.mktemp("bantay_ui")
    env = bantay_env(home, moto_s3, f"bantay-ui-{uuid.uuid4().hex[:10]}")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        queries.reset()
        try:
            yield seed_all(env)
        finally:
            queries.reset()
            get_settings.cache_clear()


@dataclass
class Ui:
    client: object
    tokens: dict[str, str]

    def as_user(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture(scope="module")
def ui(seeded_ui, tmp_path_factory) -> Iterator[Ui]:  # noqa: F811
    from support.airflow_runs import migrated, reserialize

    migrated()
    passwords = {name: secrets.token_urlsafe(12) for name in USERS}
    path = tmp_path_factory.mktemp("simple_auth") / "passwords.json"
    path.write_text(json.dumps(passwords))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__CORE__AUTH_MANAGER", SIMPLE_AUTH_MANAGER)
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        mp.setenv(
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
            ",".join(f"{n}:{r}" for n, r in USERS.items()),
        )
        mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(path))
        mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_hex(32))
        reserialize()  # the actions trigger real DAGs: they must be in the metadata DB
        from airflow.api_fastapi.app import create_app, purge_cached_app
        from fastapi.testclient import TestClient

        purge_cached_app()
        try:
            with TestClient(create_app(apps="core")) as client:
                tokens = {}
                for name, password in passwords.items():
                    login = client.post(
                        "/auth/token", json={"username": name, "password": password}
                    )
                    assert login.status_code == 201, login.text
                    tokens[name] = login.json()["access_token"]
                yield Ui(client, tokens)
        finally:
            purge_cached_app()
