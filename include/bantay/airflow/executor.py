"""Airflow's LocalExecutor with workers that import bantay's heavy libraries once, not per task.

The LocalExecutor forks its worker processes from the scheduler, and each worker forks one process
per task (``supervise``), so a task starts with whatever its worker had imported. Stock workers
import nothing of bantay's stack, so every task that touches Feast, Evidently or scikit-learn pays
their imports again: measured on the 2-core reference machine, ``import feast`` alone takes ~7-8 s,
Evidently ~5 s, scikit-learn ~1.5 s, which made a 2,000-learner materialization a 12 s task of which
2 s was work. :class:`WarmLocalExecutor` imports :data:`PRELOAD` in each worker when it starts
(both workers at once, while the scheduler is still starting) and then runs Airflow's own worker
loop; tasks find the modules in ``sys.modules``.

Use it wherever the LocalExecutor would be used:
``AIRFLOW__CORE__EXECUTOR=bantay.airflow.executor.WarmLocalExecutor``. Only imports happen early:
no connection, thread pool, settings or Feast store is created before the fork, so each task still
builds its own. A module that fails to import is logged and skipped; the task that needs it then
fails with the real error, as it would have without the preload.
"""

from __future__ import annotations

import gc
import importlib
import logging
import multiprocessing
import time

from airflow.executors import local_executor
from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)

# What bantay's tasks import, heaviest first; each is imported at most once per worker.
PRELOAD = (
    "feast",
    "feast.infra.offline_stores.duckdb",
    "feast.infra.online_stores.sqlite",
    "evidently",
    "evidently.presets",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.metrics",
    "pandas",
    "pyarrow.parquet",
    "duckdb",
    "boto3",
    "airflow.providers.amazon.aws.hooks.s3",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    # bantay's own task modules (0.2-0.8 s each on top of the libraries, measured under load):
    # none reads settings or opens anything at import (settings are read inside functions).
    "bantay.features.contract",
    "bantay.features.materialize",
    "bantay.serving.scoring",
    "bantay.monitoring.check",
    "bantay.notify.drift_day",
    "bantay.notify.charts",
)


def preload(modules: tuple[str, ...]) -> dict[str, float]:
    """Import ``modules`` and log what it took; returns seconds per module (skipped ones are
    logged, not raised)."""
    took: dict[str, float] = {}
    for name in modules:
        t0 = time.perf_counter()
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 (a task that needs it will raise the real error)
            log.warning("preload of %s skipped: %s", name, exc)
            continue
        took[name] = round(time.perf_counter() - t0, 2)
    log.info("preloaded %d modules in %.1f s: %s", len(took), sum(took.values()), took)
    return took


def _warm_worker(**kwargs) -> None:
    preload(PRELOAD)
    # What is loaded now stays for the worker's life: keep the collector from touching (and so
    # copying) those pages in every forked task, as Airflow's Celery worker does.
    gc.freeze()
    local_executor._run_worker(**kwargs)


class WarmLocalExecutor(LocalExecutor):
    """:class:`LocalExecutor` whose workers run :func:`preload` first (see the module docstring)."""

    def _spawn_worker(self) -> None:
        # Airflow's own _spawn_worker with the worker loop wrapped; the arguments are its own.
        p = multiprocessing.Process(
            target=_warm_worker,
            kwargs={
                "logger_name": self.log.name,
                "input": self.activity_queue,
                "output": self.result_queue,
                "unread_messages": self._unread_messages,
                "team_conf": self.conf,
            },
        )
        p.start()
        self.workers[p.pid] = p
