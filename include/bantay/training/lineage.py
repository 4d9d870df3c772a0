"""What a version was fitted on and by which code and libraries: recorded with the version at evaluation, read
back from its manifest by whoever needs the end of its fitted data (the drift check, backtests).
"""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from bantay.schema import TIMESTAMP


def code_version() -> dict[str, str | None]:
    """The installed package version and, in a git checkout, the short revision."""
    root = Path(__file__).resolve().parents[3]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        rev = None
    return {"package": version("bantay"), "git_revision": rev}


# The libraries whose versions can change a training set's rows or a fitted model's bytes.
LIBRARIES = ("numpy", "pandas", "scikit-learn", "feast", "pyarrow", "joblib")


def library_versions() -> dict[str, str]:
    """Python's version and the installed version of each of :data:`LIBRARIES`."""
    return {"python": platform.python_version(), **{name: version(name) for name in LIBRARIES}}


def library_changes(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """Each library whose version differs, as ``name recorded -> current``."""
    return [
        f"{name} {recorded.get(name)} -> {current.get(name)}"
        for name in sorted(set(recorded) | set(current))
        if recorded.get(name) != current.get(name)
    ]


def fitted_lineage(frame: pd.DataFrame, since: dt.date | None) -> dict[str, Any]:
    """What the published model was fitted on: rows, time span, and rows since the drift."""
    times = pd.to_datetime(frame[TIMESTAMP], utc=True)
    after = int((times >= pd.Timestamp(since, tz="UTC")).sum()) if since else 0
    return {
        "rows": len(frame),
        "parts": "train+valid+test",
        "since": times.min().isoformat(),
        "until": times.max().isoformat(),
        "drift_since": since.isoformat() if since else None,
        "rows_after_drift": after,
    }


def fitted_until(manifest: dict[str, Any]) -> pd.Timestamp | None:
    """The event time of the last row the version was fitted on (its manifest's lineage).

    ``lineage.fitted.until`` when the version records it, else the end of its training data
    window (which also covers its test rows: a little evidence is lost, none is counted twice).
    None when the manifest says neither.
    """
    lineage = manifest.get("lineage") or {}
    until = (lineage.get("fitted") or {}).get("until")
    if until is None and len(lineage.get("data_window") or ()) == 2:
        until = lineage["data_window"][1]
    if until is None:
        return None
    try:
        stamp = pd.Timestamp(until)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"version {manifest.get('version')!r} has an unreadable end of fitted data "
            f"{until!r} in its manifest lineage ({exc}); it must be an ISO timestamp: "
            "republish the version with a valid lineage"
        ) from exc
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
