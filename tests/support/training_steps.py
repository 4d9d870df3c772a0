"""The training DAG's task bodies for one run, in DAG order, with the collaborators its tasks hand
in (``bantay.airflow.edge.for_model``): for tests that train without Airflow's scheduler."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from bantay.airflow.edge import for_model
from bantay.monitoring.episodes import regime_since
from bantay.serving.publish import publish_and_promote
from bantay.settings import Settings
from bantay.stores.feast_store import store as feature_store
from bantay.training.approval import record_approval
from bantay.training.candidate import evaluate_candidate
from bantay.training.dataset import build_training_set, load_split
from bantay.training.run import RunContext, run_dir
from bantay.training.split import Split
from bantay.training.tuning import trials, tune_one


class TrainingSteps:
    """One run's steps: training set, tuning, evaluation, approval, publishing."""

    def __init__(self, settings: Settings, ctx: RunContext) -> None:
        self.ctx = ctx
        self.res = for_model(ctx.model, settings)

    @property
    def dir(self) -> Path:
        return run_dir(self.res.layout, self.ctx)

    def training_set(self) -> dict[str, Any]:
        return build_training_set(
            self.ctx,
            model=self.res.model,
            layout=self.res.layout,
            feast=feature_store(self.res.settings),
        )

    def split(self, training: dict[str, Any]) -> Split:
        return load_split(self.res.model, training["path"])

    def tune(self, training: dict[str, Any], limit: int | None = None) -> list[dict[str, Any]]:
        """The first ``limit`` trials of the search space (all of them by default)."""
        model = self.res.model
        return [tune_one(training, t, model=model) for t in trials(model)[:limit]]

    def regime(self) -> dt.date | None:
        """What the training DAG's edge hands the evaluation: the regime the drift check decided."""
        as_of = dt.datetime.fromisoformat(self.ctx.as_of)
        return regime_since(self.res.registry, self.ctx.model, as_of)

    def evaluate(self, training: dict[str, Any], results: list[dict]) -> dict[str, Any]:
        return evaluate_candidate(
            self.ctx,
            training,
            results,
            self.regime(),
            model=self.res.model,
            layout=self.res.layout,
            registry=self.res.registry,
            store=self.res.store,
            feast=feature_store(self.res.settings),
        )

    def approve(self, version: str, approved: bool, by: str, note: str) -> None:
        record_approval(
            self.ctx,
            version,
            approved,
            by,
            note,
            registry=self.res.registry,
            layout=self.res.layout,
        )

    def publish(self, version: str) -> dict[str, Any]:
        return publish_and_promote(
            self.ctx,
            version,
            model=self.res.model,
            layout=self.res.layout,
            store=self.res.store,
            registry=self.res.registry,
        )
