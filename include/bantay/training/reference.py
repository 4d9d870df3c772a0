"""The drift reference of a new version: which days it covers and why, and the sample itself
(the fitted learners' features on those days, scored by the new model)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bantay.schema import ENTITY, TIMESTAMP
from bantay.settings import ModelSettings
from bantay.training.pipeline import FeaturesLike, predict_scores

if TYPE_CHECKING:
    from feast import FeatureStore


def reference_days(
    model: ModelSettings, fitted: dict[str, Any], as_of: dt.datetime
) -> dict[str, Any]:
    """Which days the drift reference covers, and why (recorded with the version).

    Normally the ``reference_days`` days that end on the newest fitted row: what the model was
    trained on, every weekday, never the days after its data (a reference holding drifted days
    the model never learned would hide the drift it should show). A version fitted on rows of
    a new regime (see ``bantay.monitoring.episodes.regime_since``) whose fitted days do not yet
    cover a reference window takes the new regime only: the days from its start to the day
    before ``as_of`` (the data the run was built from), at most ``reference_days`` of them.
    Until that regime spans a week, some weekdays are missing from it and the check compares
    those days with the whole reference.
    """
    last = pd.Timestamp(fitted["until"]).date()
    span = dt.timedelta(days=model.drift.reference_days - 1)
    since = fitted.get("drift_since")
    if fitted.get("rows_after_drift") and dt.date.fromisoformat(since) > last - span:
        end = max(last, as_of.date() - dt.timedelta(days=1))
        start = max(dt.date.fromisoformat(since), end - span)
        basis = "post_drift"
    else:
        end, basis = last, "last_fitted_days"
        start = end - span
    return {"basis": basis, "first": start.isoformat(), "last": end.isoformat()}


def build_reference(
    fitted: Any,
    rows: pd.DataFrame,
    features: FeaturesLike,
    window: dict[str, Any],
    *,
    model: ModelSettings,
    feast: FeatureStore,
) -> pd.DataFrame:
    """The drift reference: the fitted learners' features on each day of ``window`` (see
    :func:`reference_days`), from Feast as of the end of that day, scored by the new model, with
    the matured labels kept where an observation exists (for the performance check); capped at
    the drift sample size with a fixed seed."""
    first, last = (dt.date.fromisoformat(window[k]) for k in ("first", "last"))
    days = [last - dt.timedelta(days=i) for i in range((last - first).days + 1)]
    learners = np.unique(rows[ENTITY].to_numpy())
    rng = np.random.default_rng(model.drift.seed)
    n = min(model.drift.sample_size, len(learners) * len(days))
    picks = rng.choice(len(learners) * len(days), size=n, replace=False)
    entity = pd.DataFrame(
        {
            ENTITY: learners[picks % len(learners)],
            TIMESTAMP: [
                pd.Timestamp(dt.datetime.combine(days[i], dt.time(23, 59), dt.UTC))
                for i in picks // len(learners)
            ],
        }
    )
    frame = feast.get_historical_features(
        entity_df=entity, features=feast.get_feature_service(model.feature_service)
    ).to_df()
    frame["score"] = predict_scores(fitted, frame, features)
    labels = rows[[ENTITY, TIMESTAMP, model.label]].drop_duplicates([ENTITY, TIMESTAMP])
    frame = frame.drop(columns=[model.label], errors="ignore").merge(
        labels, on=[ENTITY, TIMESTAMP], how="left"
    )
    return frame.sort_values([TIMESTAMP, ENTITY]).reset_index(drop=True)
