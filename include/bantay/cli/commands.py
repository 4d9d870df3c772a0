"""The ``bantay`` subcommands, each a thin wrapper over a library function: what the CLI does the
DAGs do too. Imports sit inside the commands, so ``bantay --help`` stays fast."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any


def run_simulate(args: argparse.Namespace) -> int:
    from bantay import simulate
    from bantay.settings import get_settings
    from bantay.simulate.catalogue import SOURCES
    from bantay.simulate.scenario import (
        parse_broken,
        parse_concept,
        parse_date,
        parse_decoupling,
        parse_fairness,
        parse_importance,
        parse_shift,
    )

    if args.label_delay < 0:
        raise ValueError(f"--label-delay {args.label_delay}: a delay in days, 0 or more")
    scenario = simulate.Scenario(
        learners=args.learners,
        seed=args.seed,
        covariate=tuple(parse_shift(s) for s in args.shift),
        concept=parse_concept(args.concept) if args.concept else None,
        broken=tuple(parse_broken(b) for b in args.broken),
        fairness=parse_fairness(args.fairness) if args.fairness else None,
        importance=tuple(parse_importance(s) for s in args.importance),
        decoupling=tuple(parse_decoupling(s) for s in args.decouple),
        label_delay_days=args.label_delay,
        label_anchor=parse_date(args.label_anchor) if args.label_anchor else None,
    )
    raw = Path(args.out) if args.out else get_settings().raw_dir
    start = parse_date(args.start)
    dates = simulate.write_range(raw, start, args.days, scenario)
    print(
        f"wrote {len(dates)} days ({dates[0]} .. {dates[-1]}) for {args.learners} learners to {raw}"
    )
    others = [f.name for f in get_settings().features.feeds if f.name not in SOURCES]
    if others:
        print(
            f"not simulated: {', '.join(others)} (the simulator produces the demo's feeds "
            f"{', '.join(SOURCES)}; deliver the others from their own producers)"
        )
    return 0


def run_features_apply(args: argparse.Namespace) -> int:
    from bantay.settings import get_settings
    from bantay.stores.feast_store import apply

    print(apply(get_settings()), end="")
    return 0


def run_features_materialize(args: argparse.Namespace) -> int:
    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import day_range, materialize
    from bantay.features.tombstones import Tombstones
    from bantay.settings import get_settings
    from bantay.stores.connections import erasure_key
    from bantay.stores.feast_store import store

    settings = get_settings()
    days = day_range(
        dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end or args.start)
    )
    enforce_for(
        days,
        layout=settings.layout,
        features=settings.features,
        labels=label_sources(settings.models),
        as_of=dt.datetime.now(dt.UTC).date(),
    )
    lateness = settings.features.contract.max_lateness_days
    tombstones = Tombstones.read(settings.layout.tombstones, erasure_key)
    summary = materialize(
        days, feast=store(settings), lateness_days=lateness, tombstones=tombstones
    )
    print(json.dumps(summary, indent=2))
    return 0


def run_features_show(args: argparse.Namespace) -> int:
    from bantay.settings import get_settings
    from bantay.stores.feast_store import online_features

    settings = get_settings()
    ids = [int(x) for x in args.learners.split(",")]
    model = settings.model(args.model) if args.model else settings.models[0]
    frame = online_features(settings, ids, model.feature_service)
    print(frame.T.to_string())
    return 0


def run_config_check(args: argparse.Namespace) -> int:
    from bantay.features.model_check import check_models, service_features
    from bantay.monitoring.stattests import method_errors
    from bantay.settings import ConfigError, load_settings
    from bantay.stores.feast_store import store

    settings = load_settings()
    source = os.environ.get("BANTAY_CONFIG", "bantay.yaml")
    # Drift methods against Evidently's registry, then every model against what it refers to.
    errors = [
        f"models[{m.name}].drift.{e}" for m in settings.models for e in method_errors(m.drift)
    ]
    services = None if args.no_feast else service_features(store(settings))
    errors += [str(problem) for problem in check_models(settings, services)]
    if errors:
        raise ConfigError(
            f"{len(errors)} problem(s) in the configuration ({source} and BANTAY_* environment):\n"
            + "\n".join(f"  {e}" for e in errors)
        )
    print(f"{source}: OK" + (" (Feast registry not consulted)" if args.no_feast else ""))
    print(f"  storage: s3://{settings.storage.bucket}/{settings.storage.prefix}")
    features = settings.features
    print(f"  features: schedule {features.schedule or 'manual'}, sources {list(features.sources)}")
    for m in settings.models:
        print(
            f"  model {m.name}: label {m.label}, feature service {m.feature_service}, "
            f"training {m.training_schedule or 'manual'}, approval {m.approval}, "
            f"{len(m.search_space)} search-space entries"
        )
    return 0


def run_config_reference(args: argparse.Namespace) -> int:
    from bantay.settings.reference import reference

    print(reference(), end="")
    return 0


def run_registry_upgrade(args: argparse.Namespace) -> int:
    from bantay.settings import get_settings
    from bantay.stores.registry import Registry

    registry = Registry.from_settings(get_settings())
    registry.upgrade()
    print(f"{registry!r} at migration {registry.current_revision()}")
    return 0


def _store(args: argparse.Namespace) -> Any:
    from bantay.settings import get_settings
    from bantay.stores.model_store import ModelStore

    storage = get_settings().storage
    return ModelStore.from_connection(
        args.bucket or storage.bucket,
        args.prefix or storage.prefix,
        conn_id=args.conn_id or storage.aws_conn_id,
    )


def _promotion(args: argparse.Namespace, with_registry: bool = True) -> Any:
    from bantay.serving.promotion import Promotion
    from bantay.settings import get_settings
    from bantay.stores.registry import registry_for

    registry = registry_for(get_settings()) if with_registry else None
    return Promotion(_store(args), registry)


def _print_json(result: Any) -> int:
    print(json.dumps(result, indent=2, sort_keys=True, default=str))
    return 0


def run_promote(args: argparse.Namespace) -> int:
    promotion = _promotion(args)
    return _print_json(promotion.promote(args.model, args.to, actor=args.actor, reason=args.reason))


def run_rollback(args: argparse.Namespace) -> int:
    promotion = _promotion(args)
    return _print_json(
        promotion.rollback(args.model, args.to, actor=args.actor, reason=args.reason)
    )


def run_pointer(args: argparse.Namespace) -> int:
    return _print_json(_store(args).pointers.require(args.model))


def run_shadow(args: argparse.Namespace) -> int:
    promotion = _promotion(args)
    if args.clear:
        promotion.store.pointers.clear_shadow(args.model)
        return _print_json({"shadow": None})
    if not args.to:
        raise ValueError("shadow needs --to VERSION (or --clear to stop shadow scoring)")
    return _print_json(
        promotion.stage_shadow(args.model, args.to, actor=args.actor, reason=args.reason)
    )


def run_rebaseline(args: argparse.Namespace) -> int:
    import dataclasses

    from bantay.airflow.edge import for_model
    from bantay.monitoring.baseline import rebaseline
    from bantay.simulate.scenario import parse_date

    day = parse_date(args.date) if args.date else dt.datetime.now(dt.UTC).date() - dt.timedelta(1)
    res = for_model(args.model)
    record = rebaseline(
        res.model,
        res.layout,
        res.registry,
        _store(args),
        day=day,
        by=args.actor,
        reason=args.reason,
        days=args.days,
    )
    return _print_json(dataclasses.asdict(record))


def run_reproduce(args: argparse.Namespace) -> int:
    from bantay.airflow.edge import for_model
    from bantay.stores.feast_store import store as feature_store
    from bantay.training.reproduce import reproduce_version

    res = for_model(args.model)
    report = reproduce_version(
        args.version,
        model=res.model,
        layout=res.layout,
        registry=res.registry,
        feast=feature_store(res.settings),
    )
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.as_table())
    return 0 if report.equal else 1


def _logs_to_stderr() -> None:
    """Importing the registry imports Airflow, whose logging configuration writes INFO records
    to stdout; stdout is the command's answer (JSON included), so its log lines go to stderr."""
    import logging
    import sys

    for handler in logging.root.handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)


def run_shadow_report(args: argparse.Namespace) -> int:
    from bantay.monitoring.paired_inputs import shadow_report
    from bantay.settings import get_settings
    from bantay.simulate.scenario import parse_date
    from bantay.stores.registry import registry_for

    _logs_to_stderr()
    settings = get_settings()
    as_of = parse_date(args.as_of) if args.as_of else dt.datetime.now(dt.UTC).date()
    if not 0 < args.alpha < 1:
        raise ValueError(f"--alpha {args.alpha}: a significance level between 0 and 1, e.g. 0.05")
    result = shadow_report(
        settings.model(args.model),
        settings.layout,
        registry_for(settings),
        as_of,
        alpha=args.alpha,
        bootstrap=args.bootstrap,
        acting_capacity=args.capacity,
    )
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.as_table())
    return 0
