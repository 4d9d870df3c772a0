"""``bantay`` command line: simulate data, deploy the feature repo, inspect features, roll back.

Each subcommand is a thin wrapper over a library function, so what the CLI does the DAGs do too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path


def _simulate(args: argparse.Namespace) -> int:
    from bantay import simulate
    from bantay.config import get_settings

    scenario = simulate.Scenario(
        learners=args.learners,
        seed=args.seed,
        covariate=tuple(simulate.parse_shift(s) for s in args.shift),
        concept=simulate.parse_concept(args.concept) if args.concept else None,
        broken=tuple(simulate.parse_broken(b) for b in args.broken),
    )
    raw = Path(args.out) if args.out else get_settings().raw_dir
    start = simulate.parse_date(args.start)
    dates = simulate.write_range(raw, start, args.days, scenario)
    print(
        f"wrote {len(dates)} days ({dates[0]} .. {dates[-1]}) for {args.learners} learners to {raw}"
    )
    return 0


def _features_apply(args: argparse.Namespace) -> int:
    from bantay.config import get_settings
    from bantay.features import apply

    apply(get_settings())
    return 0


def _features_materialize(args: argparse.Namespace) -> int:
    from bantay.config import get_settings
    from bantay.contract import enforce
    from bantay.features import day_range, materialize

    settings = get_settings()
    days = day_range(
        dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end or args.start)
    )
    enforce(
        settings.raw_dir,
        settings.quarantine_dir,
        settings.features.sources,
        days,
        settings.features.contract,
    )
    print(json.dumps(materialize(settings, days), indent=2))
    return 0


def _features_show(args: argparse.Namespace) -> int:
    from bantay.config import get_settings
    from bantay.features import online_features

    settings = get_settings()
    ids = [int(x) for x in args.learners.split(",")]
    model = settings.model(args.model) if args.model else settings.models[0]
    frame = online_features(settings, ids, model.feature_service)
    print(frame.T.to_string())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bantay", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="write simulated daily partitions")
    sim.add_argument("--start", default="2026-08-01", help="first day, YYYY-MM-DD")
    sim.add_argument("--days", type=int, default=60)
    sim.add_argument("--learners", type=int, default=5000)
    sim.add_argument("--seed", type=int, default=7)
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
    from bantay.serving_store import add_cli

    add_cli(sub)
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
    except (ValueError, FileNotFoundError) as exc:
        print(f"bantay: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
