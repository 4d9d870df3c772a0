"""The Celery settings of bantay's CeleryExecutor stack: Airflow's defaults, with bantay's heavy
libraries imported once per Celery worker instead of once per task.

Airflow's Celery provider preloads a few of its own modules on Celery's ``import_modules``
signal, in the worker's main process before it forks its pool, so that every task process starts
with them. bantay's tasks need Feast, Evidently and scikit-learn (seconds to import each, see
:mod:`bantay.airflow.executor`); this module adds them on the same signal. Selected in
``docker/airflow.env`` (the compose stack and ``make test-celery``):
``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=bantay.airflow.celery_config.CELERY_CONFIG``.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import import_modules

from bantay.airflow import executor

# Airflow's own defaults, unchanged: importing this module is what connects the preload below.
CELERY_CONFIG = DEFAULT_CELERY_CONFIG


@import_modules.connect
def preload_bantay(*args, **kwargs) -> None:
    executor.preload(executor.PRELOAD)
