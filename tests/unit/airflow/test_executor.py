"""WarmLocalExecutor: its real worker processes import the preload list once, before any task.

A probe module records the pid of every process that imports it; the executor is Airflow's own
(started and ended for real, workers forked), only the preload list is swapped for the probe.
"""

from __future__ import annotations

import os
import sys
import time

import pytest

from bantay.airflow import executor as warm


@pytest.fixture
def probe(tmp_path, monkeypatch):
    record = tmp_path / "imported_by"
    (tmp_path / "bantay_preload_probe.py").write_text(
        f"import os\nwith open({str(record)!r}, 'a') as f:\n    f.write(f'{{os.getpid()}}\\n')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(warm, "PRELOAD", ("bantay_no_such_module", "bantay_preload_probe"))
    yield record
    sys.modules.pop("bantay_preload_probe", None)


def test_each_worker_imports_the_preload_list_once_and_a_missing_module_is_skipped(probe):
    ex = warm.WarmLocalExecutor(parallelism=2)
    ex.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pids = probe.read_text().split() if probe.exists() else []
            if len(pids) >= 2:
                break
            time.sleep(0.2)
        workers = {str(pid) for pid in ex.workers}
        assert sorted(pids) == sorted(workers), "each worker imports the list exactly once"
        assert str(os.getpid()) not in pids, "the scheduler process itself stays light"
        # The missing module did not stop the worker: it is alive and waiting for tasks.
        assert all(p.is_alive() for p in ex.workers.values())
    finally:
        ex.end()
    for pid in workers:  # ended and reaped
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)


def test_preload_reports_seconds_per_imported_module_and_skips_failures(caplog):
    took = warm.preload(("json", "bantay_no_such_module"))
    assert set(took) == {"json"}
    assert "preload of bantay_no_such_module skipped" in caplog.text
