"""The simulated world of the drift evaluation: prediction logs, a model and its reference, built
from the simulator's partitions exactly as the pipeline sees them, without Airflow or Feast.

* A day's prediction log is each learner's latest value of every feature after that day's
  partitions arrived (a learner missing from today's partition keeps yesterday's value, as the
  online store does), scored by the model, stamped ``day 23:59`` like ``bantay_scoring``.
* The model is a small scikit-learn pipeline trained on the labels matured by its ``as_of``
  (features as of each observation day), like the training DAG's point-in-time set.
* The reference follows ``bantay.training.reference.build_reference``: the ``reference_days`` days
  ending on the last labelled day the model was trained on, sampled to ``sample_size`` rows,
  scored by the model, with the matured labels joined where an observation exists.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import cached_property

import numpy as np
import pandas as pd

from bantay import simulate as sim
from bantay.simulate.catalogue import (
    CATEGORICAL,
    ENTITY,
    LABEL,
    NUMERICAL,
    SOURCE_FEATURES,
    TIMESTAMP,
)
from bantay.simulate.labels import label_partition

FEATURES = [*NUMERICAL, *CATEGORICAL]
SOURCES = tuple(SOURCE_FEATURES)


def stamp(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(23, 59), dt.UTC))


def _touched(scenario: sim.Scenario) -> set[str]:
    """Sources whose partitions differ from the clean scenario's."""
    cols = (
        {c for s in scenario.covariate for c in s.features}
        | {b.feature for b in scenario.broken}
        | {c for s in scenario.importance for c in s.features}
        | {c for s in scenario.decoupling for c in s.features}
    )
    return {src for src, feats in SOURCE_FEATURES.items() if cols & set(feats)}


def fit_model(data: pd.DataFrame):
    """The evaluation's model: a small scikit-learn pipeline (imputer, scaler, one-hot region,
    logistic regression) fitted on labelled feature rows; the same for every version."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = [c for c in FEATURES if c != "region"]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    model = make_pipeline(pre, LogisticRegression(max_iter=500))
    model.fit(data[FEATURES].astype({"region": str}), data[LABEL].astype(int))
    return model


def predict(model, frame: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(frame[FEATURES].astype({"region": str}))[:, 1]


@dataclasses.dataclass
class World:
    """One seed and population: a clean scenario, its trained model and reference."""

    learners: int
    seed: int
    as_of: dt.date
    training_window_days: int = 56
    reference_days: int = 14
    sample_size: int = 20_000
    _cache: dict = dataclasses.field(default_factory=dict, repr=False)

    @cached_property
    def clean(self) -> sim.Scenario:
        return sim.Scenario(learners=self.learners, seed=self.seed)

    def _source_day(self, scenario: sim.Scenario, source: str, day: dt.date) -> pd.DataFrame:
        key = (id(scenario) if source in _touched(scenario) else "clean", source, day)
        if key not in self._cache:
            use = scenario if source in _touched(scenario) else self.clean
            part = sim.partition(source, day, use)
            latest = part.sort_values(TIMESTAMP).drop_duplicates(ENTITY, keep="last")
            self._cache[key] = latest.set_index(ENTITY)[list(SOURCE_FEATURES[source])]
        return self._cache[key]

    def features(self, scenario: sim.Scenario, day: dt.date) -> pd.DataFrame:
        """Every learner's features after ``day``'s partitions (yesterday's for the absent)."""
        key = (id(scenario), "features", day)
        if key in self._cache:
            return self._cache[key]
        if not _touched(scenario) and scenario is not self.clean:
            return self.features(self.clean, day)
        parts = []
        for source in SOURCES:
            today = self._source_day(scenario, source, day)
            yesterday = self._source_day(scenario, source, day - dt.timedelta(days=1))
            # A learner in today's partition has today's values, nulls included (the online
            # store keeps what was written); only an absent learner keeps yesterday's.
            parts.append(pd.concat([today, yesterday[~yesterday.index.isin(today.index)]]))
        frame = pd.concat(parts, axis=1).reindex(columns=FEATURES)
        frame = frame.reset_index().rename(columns={"index": ENTITY})
        self._cache[key] = frame
        return frame

    def labels(self, scenario: sim.Scenario, matured_by: dt.date, since: dt.date) -> pd.DataFrame:
        """Labels matured on days ``since``..``matured_by`` (the observation time in TIMESTAMP)."""
        days = [since + dt.timedelta(days=i) for i in range((matured_by - since).days + 1)]
        parts = [label_partition(d, scenario) for d in days]
        parts = [p for p in parts if len(p)]
        if not parts:
            return pd.DataFrame(columns=[ENTITY, TIMESTAMP, LABEL])
        return pd.concat(parts, ignore_index=True)[[ENTITY, TIMESTAMP, LABEL]]

    def labelled_features(self, labels: pd.DataFrame, scenario_on) -> pd.DataFrame:
        """Each label joined with its learner's features as of the observation day;
        ``scenario_on(day)`` is the scenario the features of that day come from."""
        rows = []
        for ts, group in labels.groupby(TIMESTAMP):
            feats = self.features(scenario_on(ts.date()), ts.date())
            rows.append(group.merge(feats, on=ENTITY, how="inner"))
        return pd.concat(rows, ignore_index=True)

    @cached_property
    def training_set(self) -> pd.DataFrame:
        first = self.as_of - dt.timedelta(days=self.training_window_days)
        labels = self.labels(self.clean, self.as_of, first)
        return self.labelled_features(labels, lambda _day: self.clean)

    @cached_property
    def model(self):
        return fit_model(self.training_set)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return predict(self.model, frame)

    def prediction_log(self, scenario: sim.Scenario, day: dt.date) -> pd.DataFrame:
        key = (id(scenario), "log", day)
        if key not in self._cache:
            frame = self.features(scenario, day).copy()
            frame.insert(1, TIMESTAMP, stamp(day))
            frame["score"] = self.score(frame)
            self._cache[key] = frame
        return self._cache[key]

    @cached_property
    def last_trained_day(self) -> dt.date:
        return self.training_set[TIMESTAMP].max().date()

    @cached_property
    def reference(self) -> pd.DataFrame:
        last = self.last_trained_day
        days = [last - dt.timedelta(days=i) for i in range(self.reference_days)]
        frame = pd.concat([self.prediction_log(self.clean, d) for d in days], ignore_index=True)
        frame = frame.sample(n=min(self.sample_size, len(frame)), random_state=42)
        labels = self.training_set[[ENTITY, TIMESTAMP, LABEL]]
        return frame.merge(labels, on=[ENTITY, TIMESTAMP], how="left").reset_index(drop=True)

    def window(self, scenario: sim.Scenario, day: dt.date, days: int = 7) -> pd.DataFrame:
        logs = [self.prediction_log(scenario, day - dt.timedelta(days=i)) for i in range(days)]
        return pd.concat(logs[::-1], ignore_index=True)

    def forget(self, scenario: sim.Scenario) -> None:
        """Drop a finished scenario's cached frames (memory at 50k learners)."""
        for key in [k for k in self._cache if k[0] == id(scenario)]:
            del self._cache[key]
