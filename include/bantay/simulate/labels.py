"""Labels of the simulated world: term outcomes observed on a weekly grid that mature, and are
written, ``label_delay_days`` later; a concept shift loosens their tie to the features."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from bantay.simulate.scenario import Scenario, day_index, stream
from bantay.simulate.world import latent_risk, population, typed, utc_midnight


def is_observation_day(day: dt.date, scenario: Scenario) -> bool:
    """Labels are observed on a weekly grid (every ``label_every_days`` days from the anchor)."""
    anchor = day_index(scenario.label_anchor) if scenario.label_anchor else 0
    return (day_index(day) - anchor) % scenario.label_every_days == 0


def label_partition(day: dt.date, scenario: Scenario) -> pd.DataFrame:
    """Term outcomes that mature on ``day``: observations made ``label_delay_days`` earlier.

    Observations happen every ``label_every_days`` days (weekly snapshots); a label says whether
    the learner was at risk as seen at that observation time.
    """
    observed = day - dt.timedelta(days=scenario.label_delay_days)
    if not is_observation_day(observed, scenario):
        return typed(_empty_labels())
    pop = population(scenario)
    r = latent_risk(pop, observed, scenario)
    if scenario.concept and observed >= scenario.concept.start:
        k = scenario.concept.size
        r = (1 - k) * r + k * pop.hidden
    shift = scenario.fairness
    if shift is not None and observed >= shift.start:
        k = np.where(pop.region == shift.region, shift.size, 0.0)
        r = (1 - k) * r + k * pop.hidden
    rng = stream(scenario, 8, day_index(observed))
    p = at_risk_probability(r, pop.learner_id, observed, scenario)
    y = (rng.random(len(r)) < p).astype(np.int64)
    # disengaged: attendance and work collapse next month; driven by the same latent risk without
    # the family-contact part, so a model without family-contact features can learn it.
    activity_risk = r - 0.25 * pop.parent_abroad
    p_disengaged = 1.0 / (1.0 + np.exp(-(-1.9 + 1.3 * activity_risk)))
    disengaged = (stream(scenario, 9, day_index(observed)).random(len(r)) < p_disengaged).astype(
        np.int64
    )
    enrolled = rng.random(len(r)) >= 0.02  # a few learners leave and get no outcome
    frame = pd.DataFrame(
        {
            "learner_id": pop.learner_id[enrolled],
            "event_timestamp": utc_midnight(observed) + pd.Timedelta(hours=23, minutes=59),
            "at_risk": y[enrolled],
            "disengaged": disengaged[enrolled],
            "created_timestamp": utc_midnight(day) + pd.Timedelta(hours=6),
        }
    )
    return typed(frame)


def at_risk_probability(
    risk: np.ndarray, learner_id: np.ndarray, observed: dt.date, scenario: Scenario
) -> np.ndarray:
    """Each learner's chance of the adverse outcome observed on ``observed``: a logistic of the
    latent risk, lowered by ``efficacy`` for the learners staff acted on that day."""
    p = 1.0 / (1.0 + np.exp(-(-2.6 + 1.6 * risk)))
    if scenario.intervention is not None:
        acted = np.isin(learner_id, scenario.intervention.acted(observed))
        p = np.where(acted, p * (1 - scenario.intervention.efficacy), p)
    return p


def _empty_labels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "learner_id": pd.Series([], dtype="int64"),
            "event_timestamp": pd.Series([], dtype="datetime64[us, UTC]"),
            "at_risk": pd.Series([], dtype="int64"),
            "disengaged": pd.Series([], dtype="int64"),
            "created_timestamp": pd.Series([], dtype="datetime64[us, UTC]"),
        }
    )
