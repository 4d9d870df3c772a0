"""The modules the warm workers import before forking tasks read no settings at import: every
task forked from a worker would otherwise inherit one process-wide settings object (the
``get_settings`` cache) made before the task's own environment was known."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from bantay.airflow.executor import PRELOAD


def test_preloaded_modules_leave_the_settings_cache_empty():
    bantay_modules = [m for m in PRELOAD if m.startswith("bantay.")]
    assert bantay_modules, "the preload list names bantay's task modules"
    code = textwrap.dedent(
        f"""
        import importlib
        from bantay.settings.core import get_settings
        for name in {bantay_modules!r}:
            importlib.import_module(name)
        print(get_settings.cache_info().currsize)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[-1] == "0"
