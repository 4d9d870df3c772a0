"""Seeded simulator of the learner early-warning data, with drift knobs of known ground truth.

``scenario`` holds the scenario and its drift knobs (covariate shift, concept shift, a broken
feed), the intervention knob (flags act, within a staff capacity) and the seeded random
streams; ``world`` the population and the three feature sources; ``drift`` the injected
ground-truth drift; ``labels`` the term outcomes; ``partitions`` turns them into day partitions
and parquet files. Callers use the names below.
"""

from bantay.simulate.labels import is_observation_day
from bantay.simulate.partitions import partition, write_day, write_range, write_table
from bantay.simulate.scenario import (
    BROKEN_KINDS,
    BrokenFeed,
    ConceptShift,
    CovariateShift,
    Decoupling,
    FairnessShift,
    ImportanceShift,
    Intervention,
    Scenario,
    parse_broken,
    parse_concept,
    parse_date,
    parse_decoupling,
    parse_fairness,
    parse_importance,
    parse_shift,
)

__all__ = [
    "BROKEN_KINDS",
    "BrokenFeed",
    "ConceptShift",
    "CovariateShift",
    "Decoupling",
    "FairnessShift",
    "ImportanceShift",
    "Intervention",
    "Scenario",
    "is_observation_day",
    "parse_broken",
    "parse_concept",
    "parse_date",
    "parse_decoupling",
    "parse_fairness",
    "parse_importance",
    "parse_shift",
    "partition",
    "write_day",
    "write_range",
    "write_table",
]
