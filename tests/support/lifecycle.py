"""A complete, isolated bantay environment for lifecycle integration tests.

Per test module: its own BANTAY_HOME (raw data, Feast registry, online store), a real S3 endpoint
(moto over HTTP on loopback) with a bucket, a real PostgreSQL registry database, and the Airflow
connection ``aws_default`` pointing at the endpoint. Settings are re-read (the cache is cleared),
so DAG files parsed afterwards and their tasks see this environment.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bantay import simulate as sim
from support.services import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, pg_database, s3_client_for


@dataclass
class LifecycleEnv:
    home: Path
    endpoint: str
    bucket: str
    registry_url: str
    s3: Any
    first_day: dt.date
    last_day: dt.date
    scenario: sim.Scenario

    def settings(self):
        from bantay.settings import get_settings

        return get_settings()


@pytest.fixture(scope="module")
def lifecycle_env(tmp_path_factory, moto_s3, request) -> Iterator[LifecycleEnv]:
    from bantay.features.contract import enforce_for, label_sources
    from bantay.settings import get_settings
    from bantay.stores.feast_store import apply

    params = getattr(request.module, "LIFECYCLE", {})
    days = params.get("days", 70)
    scenario = params.get("scenario", sim.Scenario(learners=3000, seed=21))
    last_day = params.get("last_day", dt.date(2026, 10, 31))
    first_day = last_day - dt.timedelta(days=days - 1)
    home = tmp_path_factory.mktemp("bantay_home")
    s3 = s3_client_for(moto_s3)
    bucket = f"bantay-it-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    conn = {
        "conn_type": "aws",
        "login": FAKE_ACCESS_KEY,
        "password": FAKE_SECRET_KEY,
        "extra": {"endpoint_url": moto_s3, "region_name": "us-east-1"},
    }
    with pg_database() as registry_url, pytest.MonkeyPatch.context() as mp:
        mp.setenv("BANTAY_HOME", str(home))
        mp.setenv("BANTAY_DATA_DIR", str(home / "data"))
        mp.setenv("BANTAY_FEAST_REGISTRY_URL", f"sqlite:///{home / 'feast_registry.db'}")
        mp.setenv("BANTAY_FEAST_ONLINE_PATH", str(home / "online_store.db"))
        mp.setenv("BANTAY_REGISTRY_URL", registry_url)
        mp.setenv("BANTAY_STORAGE__BUCKET", bucket)
        mp.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
        for key, value in params.get("env", {}).items():
            mp.setenv(key, value)
        if "prepare" in params:  # a project of its own: its bantay.yaml, its feature repo
            for key, value in params["prepare"](home).items():
                mp.setenv(key, value)
        get_settings.cache_clear()
        settings = get_settings()
        dates = sim.write_range(settings.raw_dir, first_day, days, scenario)
        if "deliver" in params:  # feeds the simulator does not produce, from their producer
            params["deliver"](settings.raw_dir, dates)
        enforce_for(
            dates,
            layout=settings.layout,
            features=settings.features,
            labels=label_sources(settings.models),
        )  # the data contract accepts what Feast and training read
        apply(settings)
        from bantay.stores.registry import Registry

        Registry(registry_url).upgrade()  # the deploy step, as `bantay registry upgrade`
        try:
            yield LifecycleEnv(
                home, moto_s3, bucket, registry_url, s3, first_day, last_day, scenario
            )
        finally:
            from bantay.stores.registry import Registry

            Registry(registry_url).dispose()
            get_settings.cache_clear()
