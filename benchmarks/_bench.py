"""Shared plumbing for the benchmarks: an isolated environment, fresh-subprocess steps with their
own peak RSS, machine facts, a printed table and the results file.

Why fresh subprocesses: ``ru_maxrss`` only ever grows, so the peak of a step measured inside a
long-lived process is hidden by whatever ran before it. Each measured step runs in its own
``python <bench script> --_step NAME`` child that reports its wall time, its RSS before the step
(after imports and setup) and its peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
PACKAGES = (
    "apache-airflow",
    "feast",
    "evidently",
    "scikit-learn",
    "pandas",
    "numpy",
    "pyarrow",
    "duckdb",
    "boto3",
    "moto",
    "sqlalchemy",
    "bantay",
)

Step = Callable[[dict[str, Any]], dict[str, Any]]


def set_env(home: Path) -> dict[str, str]:
    """Point bantay (and Airflow) at ``home`` only; call BEFORE anything imports bantay.settings."""
    env = {
        "BANTAY_HOME": str(home),
        "BANTAY_DATA_DIR": str(home / "data"),
        "BANTAY_FEAST_REGISTRY_URL": f"sqlite:///{home / 'feast_registry.db'}",
        "BANTAY_FEAST_ONLINE_PATH": str(home / "online_store.db"),
        "BANTAY_CONFIG": str(home / "bantay.yaml"),  # defaults, never a stray project file
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow' / 'airflow.db'}",
    }
    (home / "airflow").mkdir(parents=True, exist_ok=True)
    (home / "bantay.yaml").write_text("project: bantay\n")  # BANTAY_CONFIG must name a file
    os.environ.update(env)
    return env


def isolated_home(name: str, keep: Path | None = None) -> Path:
    """A fresh temporary BANTAY_HOME (or ``keep``, reused) with the environment pointing at it."""
    home = keep or Path(tempfile.mkdtemp(prefix=f"bantay-bench-{name}-"))
    home.mkdir(parents=True, exist_ok=True)
    set_env(home)
    return home


def flush_redis(db: int) -> None:
    """Empty database ``db`` of the Redis server on 127.0.0.1:6379 (the benchmarks' own numbers)."""
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()


def settings():
    """Settings re-read from the (benchmark) environment."""
    from bantay.settings import get_settings

    get_settings.cache_clear()
    return get_settings()


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict[str, Any]:
    """Facts a reader needs to compare numbers: cores, memory, load, Python, library versions."""
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {
        "cpu_count": os.cpu_count(),
        "memory_gib": _mem_total_gib(),
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "git_revision": _git_revision(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def repeat(fn: Callable[[], Any], n: int) -> list[float]:
    """Wall seconds of ``n`` calls of ``fn`` (perf_counter)."""
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


# -- fresh-subprocess steps ---------------------------------------------------------------------


def add_step_args(parser: argparse.ArgumentParser) -> None:
    """Hidden arguments a benchmark script uses to run one of its steps as a child process."""
    parser.add_argument("--_step", help=argparse.SUPPRESS)
    parser.add_argument("--_payload", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)


def child_main(args: argparse.Namespace, steps: dict[str, Step]) -> None:
    """Run step ``args._step`` with its payload; write wall time and RSS next to its result.

    ``setup`` (optional, in the payload's step function) is excluded from the wall time by
    letting the step return ``{"_wall_s": seconds}`` for the measured part; otherwise the whole
    call is timed.
    """
    payload = json.loads(args._payload or "{}")
    if "home" in payload:
        set_env(Path(payload["home"]))
    rss_before = rss_mib()
    start = time.perf_counter()
    result = steps[args._step](payload)
    wall = time.perf_counter() - start
    result.setdefault("_wall_s", wall)
    result.setdefault("_rss_before_mib", rss_before)
    result["_peak_rss_mib"] = rss_mib()
    Path(args._out).write_text(json.dumps(result, default=str))


def run_step(
    script: Path,
    step: str,
    payload: dict[str, Any],
    timeout: float = 7200,
    env: dict[str, str] | None = None,
) -> dict:
    """Run ``step`` of ``script`` in a fresh Python process (``env`` added to the environment);
    return its result dict."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    cmd = [
        sys.executable,
        str(script),
        "--_step",
        step,
        "--_payload",
        json.dumps(payload),
        "--_out",
        str(out),
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=os.environ | (env or {}),
    )
    try:
        if proc.returncode != 0:
            raise RuntimeError(
                f"benchmark step {step!r} of {script.name} failed (exit {proc.returncode}); "
                f"its stderr ends with:\n{proc.stderr[-4000:]}"
            )
        text = out.read_text()
        if not text:
            raise RuntimeError(
                f"benchmark step {step!r} of {script.name} exited 0 without a result (was the "
                f"script edited while it ran?); stderr ends with:\n{proc.stderr[-2000:]}"
            )
        return json.loads(text)
    finally:
        out.unlink(missing_ok=True)


# -- output -------------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 0.01:
            return f"{value:.3f}"
        return f"{value:.2e}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain-text table (also valid Markdown)."""
    rows = [list(row) for row in rows]
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    raw = rows
    body = [
        "| "
        + " | ".join(
            c.ljust(w) if isinstance(v, str) else c.rjust(w)
            for c, v, w in zip(r, src, widths, strict=True)
        )
        + " |"
        for r, src in zip(cells, raw, strict=True)
    ]
    return "\n".join([line, sep, *body])


def write_results(
    name: str, parameters: dict[str, Any], numbers: dict[str, Any], notes: list[str] | None = None
) -> Path:
    """``benchmarks/results/<name>.json``: machine, parameters, numbers, notes."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    doc = {
        "benchmark": name,
        "machine": machine(),
        "parameters": parameters,
        "numbers": numbers,
        "notes": notes or [],
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return path
