"""How the model store turns values into bytes and back: content hashes, canonical JSON (the same
content always gives the same bytes, so a retried publish can be recognised), the model file and
parquet frames."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
from collections.abc import Mapping
from typing import Any

import joblib
import pandas as pd


def sha256_hex(data: bytes) -> str:
    """The hex sha256 of ``data``, as manifests, pointers and the registry record it."""
    return hashlib.sha256(data).hexdigest()


def jsonable(value: Any) -> Any:
    """``json.dumps``'s ``default``: numpy scalars, dates, sets and paths as JSON values;
    anything else is refused with what to convert it to."""
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    if hasattr(value, "__fspath__"):
        return os.fspath(value)
    raise TypeError(
        f"manifest value {value!r} of type {type(value).__name__} is not JSON-serialisable; "
        "convert it to str, int, float, bool, list or dict before publishing"
    )


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON (sorted keys), so the same content always gives the same bytes."""
    return (json.dumps(obj, sort_keys=True, indent=2, default=jsonable) + "\n").encode()


def dump_model(model_obj: Any) -> bytes:
    """The bytes of ``model.joblib`` for a fitted model."""
    buffer = io.BytesIO()
    joblib.dump(model_obj, buffer)
    return buffer.getvalue()


def load_model(data: bytes) -> Any:
    """Unpickle a model file: call only on bytes whose sha256 was checked."""
    return joblib.load(io.BytesIO(data))


def dump_parquet(frame: pd.DataFrame) -> bytes:
    """Parquet bytes of ``frame`` with microsecond timestamps (what every reader accepts)."""
    buffer = io.BytesIO()
    frame.to_parquet(
        buffer,
        index=False,
        engine="pyarrow",
        coerce_timestamps="us",
        allow_truncated_timestamps=True,
    )
    return buffer.getvalue()


def load_parquet(data: bytes) -> pd.DataFrame:
    """The frame stored as parquet ``data``."""
    return pd.read_parquet(io.BytesIO(data))
