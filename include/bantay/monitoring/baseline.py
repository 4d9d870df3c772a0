"""Re-baselining: the new inputs declared the norm, by a person, on the record.

When inputs moved and the production model's measured quality holds (the drift check says
"inputs moved, quality holds"), retraining is not the answer and alarming every day is not
either. A person re-baselines: the production version's drift reference becomes what serving saw
on the last ``reference_days`` days, scored by that version. The version's published reference
stays as it was (immutable, and still the baseline of its quality on matured labels); the new
one is stored beside it and recorded in the registry (who, why, when, which days, its sha256),
and the drift check reads the newest re-baseline of the version that serves.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from bantay.layout import Layout
from bantay.monitoring.guards import drift_start
from bantay.schema import TIMESTAMP
from bantay.serving.batch_features import OBSERVED
from bantay.settings import ModelSettings
from bantay.training.pipeline import predict_scores
from bantay.vocabulary import DRIFT_VERDICTS

if TYPE_CHECKING:
    from bantay.stores.registry import BaselineRecord

log = logging.getLogger(__name__)
# Fewer days than this say too little about the new inputs to call them the norm.
MIN_DAYS = 3


def recent_predictions(layout: Layout, model: str, day: dt.date, days: int) -> pd.DataFrame:
    """The prediction log of the ``days`` days ending on ``day``, observed learners only."""
    paths = [layout.prediction_path(model, day - dt.timedelta(days=i)) for i in range(days)]
    present = [p for p in paths if p.is_file()]
    if len(present) < min(days, MIN_DAYS):
        raise FileNotFoundError(
            f"re-baselining {model} needs {min(days, MIN_DAYS)} days of prediction logs up to "
            f"{day}; found {len(present)} of {days} days under {paths[0].parent.parent}. Score "
            "those days (bantay_scoring with date) or re-baseline a later day"
        )
    frame = pd.concat([pd.read_parquet(p) for p in present], ignore_index=True)
    if OBSERVED in frame.columns:
        frame = frame[frame[OBSERVED].astype(bool)]
    return frame.reset_index(drop=True)


def regime_days(reg: Any, model: str, day: dt.date, at_most: int) -> int:
    """Days of the new inputs up to ``day``: since the open drift began (its DRIFT or
    PERFORMANCE days in a row), at most ``at_most``; ``at_most`` when no drift is open."""
    history = reg.drift.reports(model, since=day - dt.timedelta(days=at_most + 7))
    today = [r for r in history if r.report_date == day]
    if not today or today[0].verdict not in DRIFT_VERDICTS:
        return at_most
    return min(at_most, (day - drift_start(day, history)).days + 1)


def rebaseline(
    model: ModelSettings,
    layout: Layout,
    reg: Any,
    store: Any,
    *,
    day: dt.date,
    by: str,
    reason: str,
    days: int | None = None,
) -> BaselineRecord:
    """Make the last ``days`` days up to ``day`` the production version's drift reference
    (default: the days since the open drift began, see :func:`regime_days`)."""
    if not (by or "").strip() or not (reason or "").strip():
        raise ValueError(
            "a re-baseline needs who decides (--by) and why the new inputs are the norm "
            "(--reason); both are kept in the registry"
        )
    name, drift = model.name, model.drift
    fitted, manifest = store.load_production(name)
    span = days or regime_days(reg, name, day, drift.reference_days)
    frame = recent_predictions(layout, name, day, span)
    # Scored by the version that serves, whichever version scored each day at the time.
    frame["score"] = predict_scores(fitted, frame, manifest["features"])
    frame["model_version"] = manifest["version"]
    if len(frame) > drift.sample_size:
        frame = frame.sample(n=drift.sample_size, random_state=drift.seed)
    frame = frame.sort_values(TIMESTAMP).reset_index(drop=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    stored = store.baselines.put(name, manifest["version"], stamp, frame)
    days_seen = pd.to_datetime(frame[TIMESTAMP], utc=True).dt.date
    record = reg.baselines.record(
        name,
        manifest["version"],
        reference_uri=stored["uri"],
        sha256=stored["sha256"],
        first_day=days_seen.min(),
        last_day=days_seen.max(),
        rows=stored["rows"],
        actor=by.strip(),
        reason=reason.strip(),
    )
    log.info("re-baselined %s %s: %s", name, manifest["version"], record)
    return record


def drift_reference(store: Any, reg: Any, model: str, version: str) -> tuple[pd.DataFrame, Any]:
    """The drift reference of ``version``: its newest re-baseline, else its published reference.
    Returns ``(frame, baseline record or None)``."""
    record = reg.baselines.current(model, version)
    if record is None:
        return store.versions.reference(model, version), None
    return store.baselines.read(record.reference_uri, record.sha256), record
