"""Server time of every bantay page with a year of history.

Three models, each with 365 days of drift rows, three versions and their promotions (written
through bantay's own Registry and ModelStore, as ``tests/support/ui_seed.py`` does for the UI tests), and
``--serving-days`` days of prediction log for ``--learners`` learners. The registry is a fresh
PostgreSQL database on 127.0.0.1:5432 (``--sqlite`` for an SQLite file), S3 is moto over HTTP.

The pages are served by Airflow's real API app (``create_app("core")`` with the bantay plugin
mounted, SimpleAuthManager, a signed-in viewer), called in-process over ASGI, so each time is
the server's work for one request: authentication and authorisation, registry and S3 reads,
rendering. Each page is requested twice to warm up, then ``--repeats`` times; median and p95.
Target: every page under 300 ms.

    .venv/bin/python benchmarks/bench_ui.py            # 3 models x 365 days, 20 repeats
    .venv/bin/python benchmarks/bench_ui.py --quick    # 1 model x 30 days, 5 repeats
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import _bench

sys.path.insert(0, str(_bench.ROOT / "tests"))  # tests/support: the UI seeding, moto and PG helpers
MODELS = ("learner_risk", "dropout_risk", "attendance_risk")
LAST_DAY = dt.date(2026, 11, 22)
TARGET_MS = 300.0


def write_prediction_log(settings, model: str, version: str, days: int, learners: int) -> None:
    """``days`` partitions of the prediction log, shaped like bantay_scoring writes them."""
    import numpy as np
    import pandas as pd

    from bantay.simulate.catalogue import feature_set

    features = [n for names in feature_set().values() for n in names]
    rng = np.random.default_rng(7)
    for d in range(days):
        day = LAST_DAY - dt.timedelta(days=d)
        frame = pd.DataFrame({f: rng.random(learners) for f in features})
        frame["learner_id"] = np.arange(learners)
        frame["score"] = rng.random(learners)
        frame["model_version"] = version
        path = settings.predictions_dir / model / f"date={day.isoformat()}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)


@contextlib.contextmanager
def registry_url(home: Path, use_sqlite: bool):
    if use_sqlite:
        yield f"sqlite:///{home / 'registry.db'}"
        return
    from support.services import pg_database

    with pg_database() as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--serving-days", type=int, default=30)
    parser.add_argument("--learners", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sqlite", action="store_true", help="SQLite registry, not PostgreSQL")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.models, args.days, args.serving_days, args.repeats = 1, 30, 3, 5

    home = _bench.isolated_home("ui")
    models = MODELS[: args.models]
    from bench_serving import moto_endpoint

    with moto_endpoint() as endpoint, registry_url(home, args.sqlite) as url:
        from support.ui import bantay_env, seed_all

        env = bantay_env(home, endpoint, f"bantay-bench-{uuid.uuid4().hex[:8]}")
        env["BANTAY_REGISTRY_URL"] = url
        env["BANTAY_MODELS"] = json.dumps([{"name": m} for m in models])
        env["BANTAY_CONFIG"] = str(home / "bantay.yaml")
        (home / "bantay.yaml").write_text("project: bantay\n")
        os.environ.update(env)
        password = secrets.token_urlsafe(12)
        (home / "passwords.json").write_text(json.dumps({"bench": password}))
        os.environ.update(
            {
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(_bench.ROOT / "plugins"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(_bench.ROOT / "dags"),
                "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
                "simple_auth_manager.SimpleAuthManager",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "bench:viewer",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",  # no access-log line per request
            }
        )
        settings = _bench.settings()
        t0 = time.perf_counter()
        from support import ui as ui_support

        ui_support.MODELS = models  # seed exactly the configured models
        seeded = seed_all(env, days=args.days)
        for model in models:
            write_prediction_log(
                settings, model, seeded[model].production, args.serving_days, args.learners
            )
        print(f"seeded {len(models)} models x {args.days} days in {time.perf_counter() - t0:.1f} s")
        airflow = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True)

        from airflow.api_fastapi.app import create_app
        from fastapi.testclient import TestClient

        with TestClient(create_app(apps="core")) as client:
            login = client.post("/auth/token", json={"username": "bench", "password": password})
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            model = models[0]
            s = seeded[model]
            drift_day = s.days[-13].isoformat()
            pages = {
                "Models": "/bantay/models",
                "Model: Versions": f"/bantay/models/{model}",
                "Model: Promotions": f"/bantay/models/{model}/promotions",
                "Model: Drift": f"/bantay/models/{model}/drift",
                "Model: Serving": f"/bantay/models/{model}/serving",
                "Version": f"/bantay/models/{model}/versions/{s.production}",
                "Compare (archived vs production)": (
                    f"/bantay/models/{model}/compare?a={s.archived}&b={s.production}"
                ),
                "Drift day": f"/bantay/models/{model}/drift/{drift_day}",
                "Run tab (training)": f"/bantay/runs/bantay_training/{s.runs[1]}",
                "Run tab (drift)": f"/bantay/runs/bantay_drift/manual__{drift_day}T06:00:00+00:00",
            }
            numbers: dict = {}
            for name, path in pages.items():
                for _ in range(2):
                    response = client.get(path, headers=headers)
                    assert response.status_code == 200, (path, response.status_code)
                samples = _bench.repeat(lambda p=path: client.get(p, headers=headers), args.repeats)
                ms = sorted(1000 * x for x in samples)
                numbers[name] = {
                    "path": path,
                    "median_ms": _bench.median(ms),
                    "p95_ms": ms[min(len(ms) - 1, int(0.95 * len(ms)))],
                    "bytes": len(response.content),
                    "samples_ms": ms,
                }
    rows = [
        (
            name,
            n["median_ms"],
            n["p95_ms"],
            n["bytes"],
            "yes" if n["p95_ms"] < TARGET_MS else "NO",
        )
        for name, n in numbers.items()
    ]
    print()
    print(_bench.table(rows, ["page", "median ms", "p95 ms", "bytes", f"< {TARGET_MS:.0f} ms"]))
    params = {
        "models": len(models),
        "drift_days": args.days,
        "serving_days": args.serving_days,
        "learners": args.learners,
        "repeats": args.repeats,
        "registry": "sqlite" if args.sqlite else "postgresql",
        "target_ms": TARGET_MS,
    }
    name = "ui.quick" if args.quick else "ui"
    path = _bench.write_results(
        name,
        params,
        numbers,
        notes=[
            "in-process ASGI requests to Airflow's API app with the bantay plugin mounted: "
            "server time without the network",
        ],
    )
    print(f"\nwrote {path}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
