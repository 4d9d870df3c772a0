"""A model's configuration checked against what it refers to: its feature service in the Feast
registry and its features among the declared feeds' columns, its label in a declared labels
feed, its fairness slices and drift
columns among the service's features, and windows and guards that its label delay and drift schedule let it reach.

These are the mistakes a new model makes that no single key shows: each field is valid on its
own, the combination is not. ``bantay config check`` reports every one, naming the model, the
key, what is allowed and the fix; a typo found here would otherwise be dropped silently at run
time (a drift column) or fail a training run days later (a feature service).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from croniter import croniter
from feast import FeatureStore

from bantay.settings import FeatureSettings, ModelSettings, Settings
from bantay.settings.source import did_you_mean

# Slices the pipeline derives from a feature (bantay.training.evaluation.DERIVED_SLICES), with
# the feature each one needs.
DERIVED_SLICES: Mapping[str, str] = {"grade_band": "grade_level"}


@dataclass(frozen=True)
class Problem:
    """One mistake in one model's configuration: where, what, and the fix."""

    model: str
    key: str
    message: str

    def __str__(self) -> str:
        return f"models[{self.model}].{self.key}: {self.message}"


def service_features(feast: FeatureStore) -> dict[str, frozenset[str]]:
    """Every feature service applied to the Feast registry, with the feature names it serves."""
    return {
        service.name: frozenset(
            field.name
            for projection in service.feature_view_projections
            for field in projection.features
        )
        for service in feast.list_feature_services()
    }


def _unknown(
    model: str, key: str, names: Iterable[str], allowed: Iterable[str], what: str
) -> list[Problem]:
    allowed = sorted(allowed)
    return [
        Problem(
            model,
            key,
            f"{name!r} is not {what}{did_you_mean(name, allowed)}; allowed: {', '.join(allowed)}",
        )
        for name in names
        if name not in allowed
    ]


def check_feature_service(
    model: ModelSettings, services: Mapping[str, frozenset[str]]
) -> list[Problem]:
    if model.feature_service in services:
        return []
    applied = sorted(services)
    return [
        Problem(
            model.name,
            "feature_service",
            f"{model.feature_service!r} is not in the Feast registry"
            f"{did_you_mean(model.feature_service, applied)}; applied services: "
            f"{', '.join(applied) or 'none'}. Define it in feature_repo/ and run "
            "bantay features apply, or name an applied one",
        )
    ]


def check_label(model: ModelSettings, features: FeatureSettings) -> list[Problem]:
    """The label must be a declared column of a declared labels feed."""
    labels = {f.name: f for f in features.feeds if f.is_labels}
    feed = labels.get(model.label_source)
    if feed is None:
        hint = did_you_mean(model.label_source, list(labels))
        return [
            Problem(
                model.name,
                "label_source",
                f"{model.label_source!r} is not a declared labels feed{hint}; declared: "
                f"{', '.join(labels) or 'none'} (declare it under features.feeds with role: labels)",
            )
        ]
    what = f"a column of the label feed {feed.name} (declare it under features.feeds[{feed.name}])"
    return _unknown(model.name, "label", [model.label], feed.columns, what)


def check_declared(model: ModelSettings, features: frozenset[str]) -> list[Problem]:
    """Every feature the service serves must be a declared column of a features feed: the data
    contract refuses undeclared columns, so an undeclared feature would never reach Feast."""
    declared = model.columns
    return [
        Problem(
            model.name,
            "feature_service",
            f"{model.feature_service} serves {name!r}, which no features feed declares"
            f"{did_you_mean(name, list(declared))}; declare it under features.feeds[<feed>]"
            ".columns (type, min/max or values), or remove it from the feature view",
        )
        for name in sorted(features)
        if name not in declared
    ]


def check_columns(model: ModelSettings, features: frozenset[str]) -> list[Problem]:
    """Slices and drift columns the model names must be features of its service (a slice may
    also be one the pipeline derives from a served feature, e.g. grade_band)."""
    service = f"a feature of service {model.feature_service}"
    derived = {name for name, source in DERIVED_SLICES.items() if source in features}
    problems = _unknown(model.name, "slices", model.slices, features | derived, service)
    drift = model.drift
    # Default columns (and the ranges and categories derived from them) follow the version's
    # features at run time; what bantay.yaml names explicitly must be there.
    keys = ["per_column_method", "per_column_threshold"]
    keys += [k for k in ("numerical_columns", "categorical_columns") if k in drift.model_fields_set]
    for key in keys:
        problems += _unknown(model.name, f"drift.{key}", getattr(drift, key), features, service)
    return problems


def longest_daily_run(schedule: str) -> int:
    """The most consecutive calendar days a cron schedule runs on (the persistence guard counts
    DRIFT days in a row), over a year of its runs."""
    runs = croniter(schedule, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    days = sorted({runs.get_next(dt.datetime).date() for _ in range(400)})
    longest = run = 1
    for before, after in zip(days, days[1:], strict=False):
        run = run + 1 if (after - before).days == 1 else 1
        longest = max(longest, run)
    return longest


def check_timing(model: ModelSettings, drift_schedule: str | None) -> list[Problem]:
    """Windows the label delay leaves room for, guards the drift schedule can reach."""
    problems = []
    delay = model.label_delay_days
    if model.training_window_days <= delay:
        problems.append(
            Problem(
                model.name,
                "training_window_days",
                f"{model.training_window_days} is not longer than label_delay_days ({delay}): "
                f"labels take {delay} days to mature, so the window holds less than one label "
                "delay of outcomes and a retrain after drift learns almost nothing of the drifted "
                f"period; set it above {delay} (e.g. {max(4 * delay, 7)})",
            )
        )
    persistence = model.drift.guards.persistence_days
    reachable = longest_daily_run(drift_schedule) if drift_schedule and persistence > 1 else 0
    if persistence > reachable > 0:
        problems.append(
            Problem(
                model.name,
                "drift.guards.persistence_days",
                f"{persistence} consecutive DRIFT days cannot be reached: drift_schedule "
                f"{drift_schedule!r} runs on at most {reachable} day(s) in a row, so no retrain "
                f"is ever triggered by drift; set persistence_days to {reachable} or less, or make "
                "drift_schedule daily (e.g. '0 6 * * *')",
            )
        )
    return problems


def check_model(
    model: ModelSettings,
    services: Mapping[str, frozenset[str]] | None,
    drift_schedule: str | None,
    features: FeatureSettings | None = None,
) -> list[Problem]:
    """Every cross-reference mistake of one model (empty: it is consistent). ``services``: the
    Feast registry's services and their features (None: the registry is not consulted);
    ``features``: the declared feeds (default: the default feeds)."""
    problems = [] if services is None else check_feature_service(model, services)
    problems += check_label(model, features or FeatureSettings())
    if services is not None and model.feature_service in services:
        problems += check_declared(model, services[model.feature_service])
        problems += check_columns(model, services[model.feature_service])
    return problems + check_timing(model, drift_schedule)


def check_models(
    settings: Settings, services: Mapping[str, frozenset[str]] | None
) -> list[Problem]:
    """Every configured model checked; ``services`` from :func:`service_features`."""
    return [
        p
        for m in settings.models
        for p in check_model(m, services, settings.drift_schedule, settings.features)
    ]
