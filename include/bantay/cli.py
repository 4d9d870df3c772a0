"""``bantay`` command line: every subcommand, each a thin wrapper over a library function, so what
the CLI does the DAGs do too.

Errors a person can fix (bad configuration, bad data, an unknown version, an unreachable store)
print one message naming the input and the fix, and exit non-zero; never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _simulate(args: argparse.Namespace) -> int:
    from bantay import simulate
    from bantay.settings import get_settings
    from bantay.simulate.scenario import parse_broken, parse_concept, parse_date, parse_shift

    if args.label_delay < 0:
        raise ValueError(f"--label-delay {args.label_delay}: a delay in days, 0 or more")
    scenario = simulate.Scenario(
        learners=args.learners,
        seed=args.seed,
        covariate=tuple(parse_shift(s) for s in args.shift),
        concept=parse_concept(args.concept) if args.concept else None,
        broken=tuple(parse_broken(b) for b in args.broken),
        label_delay_days=args.label_delay,
        label_anchor=parse_date(args.label_anchor) if args.label_anchor else None,
    )
    raw = Path(args.out) if args.out else get_settings().raw_dir
    start = parse_date(args.start)
    dates = simulate.write_range(raw, start, args.days, scenario)
    print(
        f"wrote {len(dates)} days ({dates[0]} .. {dates[-1]}) for {args.learners} learners to {raw}"
    )
    return 0


def _features_apply(args: argparse.Namespace) -> int:
    from bantay.settings import get_settings
    from bantay.stores.feast_store import apply

    print(apply(get_settings()), end="")
    return 0


def _features_materialize(args: argparse.Namespace) -> int:
    from bantay.features.contract import enforce_for, label_sources
    from bantay.features.materialize import day_range, materialize
    from bantay.settings import get_settings
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
    print(json.dumps(materialize(days, feast=store(settings), lateness_days=lateness), indent=2))
    return 0


def _features_show(args: argparse.Namespace) -> int:
    from bantay.settings import get_settings
    from bantay.stores.feast_store import online_features

    settings = get_settings()
    ids = [int(x) for x in args.learners.split(",")]
    model = settings.model(args.model) if args.model else settings.models[0]
    frame = online_features(settings, ids, model.feature_service)
    print(frame.T.to_string())
    return 0


def _config_check(args: argparse.Namespace) -> int:
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


def _config_reference(args: argparse.Namespace) -> int:
    from bantay.settings.reference import reference

    print(reference(), end="")
    return 0


def _registry_upgrade(args: argparse.Namespace) -> int:
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


def _promote(args: argparse.Namespace) -> int:
    promotion = _promotion(args)
    return _print_json(promotion.promote(args.model, args.to, actor=args.actor, reason=args.reason))


def _rollback(args: argparse.Namespace) -> int:
    promotion = _promotion(args)
    return _print_json(
        promotion.rollback(args.model, args.to, actor=args.actor, reason=args.reason)
    )


def _pointer(args: argparse.Namespace) -> int:
    return _print_json(_store(args).pointers.require(args.model))


def _shadow(args: argparse.Namespace) -> int:
    promotion = _promotion(args)
    if args.clear:
        promotion.store.pointers.clear_shadow(args.model)
        return _print_json({"shadow": None})
    if not args.to:
        raise ValueError("shadow needs --to VERSION (or --clear to stop shadow scoring)")
    return _print_json(
        promotion.stage_shadow(args.model, args.to, actor=args.actor, reason=args.reason)
    )


def _rebaseline(args: argparse.Namespace) -> int:
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


def _reproduce(args: argparse.Namespace) -> int:
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


def _add_model_store_commands(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", required=True, help="model name, e.g. learner_risk")
    common.add_argument("--bucket", help="S3 bucket (default: storage.bucket from settings)")
    common.add_argument("--prefix", help="S3 key prefix (default: storage.prefix from settings)")
    common.add_argument(
        "--conn-id", help="Airflow AWS connection id (default: storage.aws_conn_id)"
    )
    changing = argparse.ArgumentParser(add_help=False)
    changing.add_argument("--reason", required=True, help="why; recorded in the audit log")
    changing.add_argument(
        "--actor", default=os.environ.get("USER") or "unknown", help="who (default: $USER)"
    )
    p = sub.add_parser(
        "promote", parents=[common, changing], help="point production at a verified version"
    )
    p.add_argument("--to", required=True, help="version to promote")
    p.set_defaults(func=_promote)
    p = sub.add_parser(
        "rollback",
        parents=[common, changing],
        help="point production back at the previous (or a named) version",
    )
    p.add_argument("--to", help="version to roll back to (default: the pointer's previous)")
    p.set_defaults(func=_rollback)
    sub.add_parser(
        "pointer", parents=[common], help="print the production pointer as JSON"
    ).set_defaults(func=_pointer)
    p = sub.add_parser(
        "shadow", parents=[common, changing], help="score a version beside production (or --clear)"
    )
    p.add_argument("--to", help="version to shadow")
    p.add_argument("--clear", action="store_true", help="stop shadow scoring")
    p.set_defaults(func=_shadow)
    p = sub.add_parser(
        "rebaseline",
        parents=[common, changing],
        help="inputs moved and quality holds: make the recent days the drift reference",
    )
    p.add_argument("--date", help="the last day of the new reference (default: yesterday, UTC)")
    p.add_argument("--days", type=int, help="days in it (default: the model's reference_days)")
    p.set_defaults(func=_rebaseline)


def _add_config_commands(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="the project configuration").add_subparsers(
        dest="action", required=True
    )
    check = config.add_parser("check", help="validate bantay.yaml, BANTAY_* and every model")
    check.add_argument("--no-feast", action="store_true", help="skip the Feast registry checks")
    check.set_defaults(func=_config_check)
    config.add_parser(
        "reference", help="print the bantay.yaml reference (markdown; docs/configuration.md)"
    ).set_defaults(func=_config_reference)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bantay", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write simulated daily partitions")
    sim.add_argument("--start", default="2026-08-01", help="first day, YYYY-MM-DD")
    sim.add_argument("--days", type=int, default=60)
    sim.add_argument("--learners", type=int, default=5000)
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument(
        "--label-delay",
        type=int,
        default=14,
        metavar="DAYS",
        help="days between observing a learner and their term outcome maturing (default 14)",
    )
    sim.add_argument(
        "--label-anchor",
        metavar="DATE",
        help="a day on which term outcomes are observed; the weekly grid runs through it "
        "(default: a fixed grid, so the weekday of the observations never changes)",
    )
    sim.add_argument("--out", help="raw folder (default: <data_dir>/raw from settings)")
    sim.add_argument(
        "--shift",
        action="append",
        default=[],
        metavar="FEATURES@DATE[:SIZE]",
        help="covariate shift, e.g. study_minutes,quiz_score_avg@2026-10-01:1.5",
    )
    sim.add_argument("--concept", metavar="DATE[:SIZE]", help="concept shift from DATE")
    sim.add_argument(
        "--broken",
        action="append",
        default=[],
        metavar="FEATURE@DATE:KIND",
        help="broken feed: KIND is nulls, frozen or unit",
    )
    sim.set_defaults(func=_simulate)

    feats = sub.add_parser("features", help="the Feast feature repo").add_subparsers(
        dest="action", required=True
    )
    feats.add_parser("apply", help="feast apply (a deploy step)").set_defaults(func=_features_apply)
    mat = feats.add_parser("materialize", help="validate and materialize a date range")
    mat.add_argument("--start", required=True)
    mat.add_argument("--end")
    mat.set_defaults(func=_features_materialize)
    show = feats.add_parser("show", help="print online features of some learners")
    show.add_argument("--learners", required=True, help="comma-separated learner ids")
    show.add_argument("--model")
    show.set_defaults(func=_features_show)
    _add_config_commands(sub)
    registry = sub.add_parser("registry", help="the registry database").add_subparsers(
        dest="action", required=True
    )
    registry.add_parser(
        "upgrade", help="apply the registry migrations (a deploy step)"
    ).set_defaults(func=_registry_upgrade)
    _add_model_store_commands(sub)
    rep = sub.add_parser(
        "reproduce",
        help="rebuild a version from its record and compare every artifact's digest "
        "(exit 0 when all are equal, 1 otherwise)",
    )
    rep.add_argument("model", help="model name, e.g. learner_risk")
    rep.add_argument("version", help="the version to rebuild")
    rep.add_argument("--json", action="store_true", help="the report as JSON")
    rep.set_defaults(func=_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except _user_errors() as exc:
        # Written for a person already (a bad configuration lists every bad key, one a line).
        print(f"bantay: error: {exc}", file=sys.stderr)
        return 2
    except _service_errors() as exc:
        # One line: database drivers put their hints on further lines.
        print(f"bantay: error: {' '.join(_service_message(exc).split())}", file=sys.stderr)
        return 2


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that carry a message for a person (the input and the fix), not for a debugger."""
    from bantay.features.contract import ContractViolation
    from bantay.settings import ConfigError
    from bantay.stores.model_store import ModelStoreError
    from bantay.stores.registry import RegistryError

    return (ConfigError, ContractViolation, ModelStoreError, RegistryError, ValueError, OSError)


def _service_errors() -> tuple[type[BaseException], ...]:
    """Failures to reach a service bantay depends on (the registry database, Feast's registry,
    the Redis online store): the message says which one, where, and what to check."""
    from sqlalchemy.exc import DBAPIError

    errors: list[type[BaseException]] = [DBAPIError]
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        errors += [RedisConnectionError, RedisTimeoutError]
    except ImportError:  # the redis extra is not installed: no Redis online store to reach
        pass
    return tuple(errors)


def _raised_in(exc: BaseException, package: str) -> bool:
    """Whether any frame of the traceback belongs to ``package`` (e.g. ``feast``)."""
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module == package or module.startswith(package + "."):
            return True
        tb = tb.tb_next
    return False


def _service_message(exc: BaseException) -> str:
    from sqlalchemy.exc import DBAPIError

    from bantay.stores.connections import redact_url

    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason_line = reason[0] if reason else type(exc).__name__
    if not isinstance(exc, DBAPIError):
        where = os.environ.get("BANTAY_FEAST_REDIS", "the connection_string of feature_store.yaml")
        return (
            f"the Redis online store at {where} cannot be reached ({reason_line}); start Redis "
            "or point BANTAY_FEAST_REDIS (the online store's connection_string) at it"
        )
    if _raised_in(exc, "feast"):
        url = os.environ.get("BANTAY_FEAST_REGISTRY_URL", "the registry path of feature_store.yaml")
        return (
            f"the Feast registry database at {redact_url(url)} cannot be used ({reason_line}); "
            "start it or point BANTAY_FEAST_REGISTRY_URL at it, then run bantay features apply"
        )
    from bantay.settings import get_settings
    from bantay.stores.connections import registry_url

    try:
        url = redact_url(registry_url(get_settings()))
    except ValueError:  # bad settings: the message must not fail while explaining a failure
        url = "the registry database"
    return (
        f"the bantay registry database at {url} cannot be used ({reason_line}); start it, or "
        "fix $BANTAY_REGISTRY_URL / the Airflow connection 'bantay_registry', then run bantay "
        "registry upgrade"
    )


if __name__ == "__main__":
    raise SystemExit(main())
