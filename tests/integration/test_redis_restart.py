"""Redis restarted in the middle of an online write: a private ``redis-server`` (its own port, its
own append-only file) is killed and started again between two write batches of one
materialization, through bantay's bulk writer and through Feast's own: the write goes on once the
server is back (redis-py reconnects), and every learner of the day reads back through Feast's own
API, before and after a re-run of the day."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import redis
from feast.infra.online_stores.redis import RedisOnlineStore

from bantay import simulate as sim
from bantay.features import online_write
from bantay.features.contract import enforce_for, label_sources
from bantay.features.materialize import materialize
from bantay.stores import feast_redis
from bantay.stores.feast_store import apply, online_features
from bantay.stores.feast_store import store as feature_store
from support.feast_profiles import feast_profile
from support.services import free_port

pytestmark = pytest.mark.integration

DAY = dt.date(2026, 9, 2)
LEARNERS = 800
VIEWS = ["learning_activity", "family_contact", "learner_profile"]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """A ``redis-server`` of this test alone, on 127.0.0.1 and a free port; what it acknowledged
    survives a crash (append-only file, fsync on every write)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.folder), "--save", "", "--appendonly", "yes"]
        args += ["--appendfsync", "always"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)
            finally:
                client.close()

    def crash_and_restart(self) -> None:
        """SIGKILL (no shutdown of its own), then the same server started again."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


@contextlib.contextmanager
def private_redis(folder: Path) -> Iterator[PrivateRedis]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip(f"no redis-server binary at {REDIS_SERVER}")
    server = PrivateRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.promise(
    "online store",
    "Redis killed and restarted between two write batches of a materialization",
    says="A Redis restart in the middle of a materialization does not fail it or lose what was "
    "written: every learner of the day reads back through Feast, and re-running the day "
    "changes nothing.",
)
@pytest.mark.parametrize("bulk", [True, False], ids=["bantay-writer", "feast-writer"])
def test_a_redis_restart_mid_write_loses_no_learner(tmp_path, monkeypatch, bulk):
    sim.write_range(
        tmp_path / "data" / "raw",
        DAY - dt.timedelta(days=1),
        2,
        sim.Scenario(learners=LEARNERS, seed=17, missing_day_rate=0.0, late_row_rate=0.0),
    )
    (tmp_path / "redis").mkdir()
    with private_redis(tmp_path / "redis") as server:
        written: list[str | int] = []
        if bulk:
            # Three batches a view (800 learners, 300 a batch). The server goes down as the
            # second batch is sent and is back half a second later.
            monkeypatch.setattr(online_write, "BATCH", 300)
            send = feast_redis.send
            restarts: list[threading.Timer] = []

            def send_while_redis_restarts(client, commands, count):
                if len(written) == 1 and not restarts:
                    server.stop()
                    restarts.append(threading.Timer(0.5, server.start))
                    restarts[0].start()
                send(client, commands, count)
                written.append(count)

            monkeypatch.setattr(feast_redis, "send", send_while_redis_restarts)
        else:
            write_batch = RedisOnlineStore.online_write_batch

            def write_then_restart_once(self, config, table, data, progress):
                write_batch(self, config, table, data, progress)
                written.append(table.name)
                if len(written) == 1:  # one view written, the others not yet
                    server.crash_and_restart()

            monkeypatch.setattr(RedisOnlineStore, "online_write_batch", write_then_restart_once)
        env = {"BANTAY_FEAST_REDIS": f"127.0.0.1:{server.port}"}
        with feast_profile(
            tmp_path / "home", tmp_path / "data", "feature_store.redis.yaml", env
        ) as settings:
            apply(settings)
            enforce_for(
                [DAY - dt.timedelta(days=1), DAY],
                layout=settings.layout,
                features=settings.features,
                labels=label_sources(settings.models),
            )

            def run() -> dict:
                return materialize(
                    [DAY],
                    feast=feature_store(settings),
                    lateness_days=settings.features.contract.max_lateness_days,
                    bulk=bulk,
                )

            first = run()  # the client reconnects to the restarted server and goes on
            assert sorted(first["materialized"]) == sorted(VIEWS)
            if bulk:  # every batch of every view landed once the server was back
                restarts[0].join()
                assert written == [300, 300, 200] * len(VIEWS)
            else:  # one batch each, the restart after the first
                assert sorted(written) == sorted(VIEWS)

            ids = list(range(100_001, 100_001 + LEARNERS))
            after_restart = online_features(settings, ids, "learner_risk_v1")
            rerun = run()  # the task's retry: the same window, written again
            assert (
                sorted(rerun["materialized"]) == sorted(VIEWS)
                and rerun["skipped_newer_online"] == {}
            )
            frame = online_features(settings, ids, "learner_risk_v1")
    assert sorted(frame["learner_id"]) == ids
    missing = frame.columns[frame.isna().any()].tolist()
    assert missing == [], f"learners without online values in {missing}"
    # What Redis acknowledged before the crash was kept (append-only file): nothing was missing
    # even before the re-run, which changed nothing.
    pd.testing.assert_frame_equal(after_restart, frame)
