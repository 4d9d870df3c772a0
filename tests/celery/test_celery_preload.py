"""bantay's Celery settings: Airflow's defaults, and the preload on Celery's import_modules signal,
the one the worker's main process sends before it forks its pool (Airflow's provider preloads its
own modules there). ``make test-celery``."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("airflow.providers.celery", reason="the celery extra: run make test-celery")

pytestmark = pytest.mark.celery


def test_the_settings_are_airflows_defaults_and_the_env_file_selects_them():
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
    from celery_stack import read_env_file

    from bantay.airflow import celery_config

    assert celery_config.CELERY_CONFIG is DEFAULT_CELERY_CONFIG
    path = read_env_file()["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"]
    module, _, name = path.rpartition(".")
    assert getattr(sys.modules[module], name) is celery_config.CELERY_CONFIG


def test_import_modules_signal_preloads_bantays_list(tmp_path, monkeypatch):
    from celery.signals import import_modules

    from bantay.airflow import celery_config, executor

    (tmp_path / "bantay_celery_probe.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(executor, "PRELOAD", ("bantay_celery_probe",))
    # Connected (weakly, as Celery keeps receivers) to the signal the worker sends at start-up.
    assert any(r() is celery_config.preload_bantay for _, r in import_modules.receivers)
    try:
        celery_config.preload_bantay(sender=None)
        assert sys.modules["bantay_celery_probe"].LOADED
    finally:
        sys.modules.pop("bantay_celery_probe", None)
