"""A lake holding a randomised experiment's nightly logs, put in arms by the scoring step
(``apply_experiment``), and the labels that matured since: the challenger's arm fails half as
often. For the experiment report's and the Experiment tab's tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from bantay.layout import Layout, partition_path
from bantay.monitoring.experiment_stats import sample_size
from bantay.serving.experiment import ExperimentPlan, new_record
from bantay.serving.scoring import apply_experiment
from support.shadow_lake import DELAY, MODEL, stamp

START = dt.date(2026, 3, 2)
LEARNERS = 3000


def experiment_record() -> dict:
    plan = ExperimentPlan(base_rate=0.3, min_effect=0.05, looks=3)
    size = sample_size(0.3, 0.05, alpha=0.05, power=0.8, looks=3).as_dict()
    record = new_record(
        MODEL,
        "s1",
        "p1",
        plan,
        start=START,
        label_delay_days=DELAY,
        sample=size,
        actor="t",
        reason="r",
    )
    return record | {"key": "fedcba9876543210" * 4}  # fixed arms: the same lake on every run


def write_experiment_days(layout: Layout, record: dict, weeks: int) -> None:
    rng = np.random.default_rng(1)
    for k in range(weeks):
        day = START + dt.timedelta(days=7 * k)
        log = pd.DataFrame(
            {
                "learner_id": np.arange(LEARNERS, dtype=np.int64),
                "event_timestamp": stamp(day),
                "score": rng.random(LEARNERS),
                "model_version": "p1",
                "shadow_score": rng.random(LEARNERS),
                "shadow_version": "s1",
            }
        )
        apply_experiment(log, record)
        path = layout.prediction_path(MODEL, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.to_parquet(path, index=False)
        p = np.where(log["arm"] == "challenger", 0.15, 0.3)
        labels = log[["learner_id", "event_timestamp"]].assign(
            at_risk=(rng.random(LEARNERS) < p).astype(np.int64)
        )
        label_path = partition_path(layout.accepted, "term_outcomes", day + dt.timedelta(DELAY))
        label_path.parent.mkdir(parents=True, exist_ok=True)
        labels.to_parquet(label_path, index=False)
