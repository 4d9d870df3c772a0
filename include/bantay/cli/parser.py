"""The ``bantay`` argument parser: every subcommand, its options and the command it runs."""

from __future__ import annotations

import argparse
import os

from bantay.cli.commands import (
    run_config_check,
    run_config_reference,
    run_features_apply,
    run_features_materialize,
    run_features_show,
    run_pointer,
    run_promote,
    run_rebaseline,
    run_registry_upgrade,
    run_reproduce,
    run_rollback,
    run_shadow,
    run_shadow_report,
    run_simulate,
)
from bantay.cli.erase import add_erase_command
from bantay.cli.experiment import add_experiment_command
from bantay.cli.retention import add_retention_command
from bantay.cli.runs import run_check_drift, run_score, run_train

DESCRIPTION = """bantay: keep models healthy in production. Each subcommand is a thin wrapper over a library
function, so what the CLI does the DAGs do too. Errors a person can fix print one message naming
the input and the fix, and exit non-zero; never a traceback."""


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
    p.set_defaults(func=run_promote)
    p = sub.add_parser(
        "rollback",
        parents=[common, changing],
        help="point production back at the previous (or a named) version",
    )
    p.add_argument("--to", help="version to roll back to (default: the pointer's previous)")
    p.set_defaults(func=run_rollback)
    sub.add_parser(
        "pointer", parents=[common], help="print the production pointer as JSON"
    ).set_defaults(func=run_pointer)
    p = sub.add_parser(
        "shadow", parents=[common, changing], help="score a version beside production (or --clear)"
    )
    p.add_argument("--to", help="version to shadow")
    p.add_argument("--clear", action="store_true", help="stop shadow scoring")
    p.set_defaults(func=run_shadow)
    p = sub.add_parser(
        "rebaseline",
        parents=[common, changing],
        help="inputs moved and quality holds: make the recent days the drift reference",
    )
    p.add_argument("--date", help="the last day of the new reference (default: yesterday, UTC)")
    p.add_argument("--days", type=int, help="days in it (default: the model's reference_days)")
    p.set_defaults(func=run_rebaseline)


def _add_config_commands(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="the project configuration").add_subparsers(
        dest="action", required=True
    )
    check = config.add_parser("check", help="validate bantay.yaml, BANTAY_* and every model")
    check.add_argument("--no-feast", action="store_true", help="skip the Feast registry checks")
    check.set_defaults(func=run_config_check)
    config.add_parser(
        "reference", help="print the bantay.yaml reference (markdown; docs/configuration.md)"
    ).set_defaults(func=run_config_reference)


def _add_run_commands(sub: argparse._SubParsersAction) -> None:
    """A DAG's task bodies run by hand: the first run of a new project, or one day again."""
    p = sub.add_parser(
        "train",
        help="the training DAG's steps by hand: window, training set, tuning, evaluation, gate",
    )
    p.add_argument("model", help="model name, e.g. learner_risk")
    p.add_argument("--as-of", help="labels matured by this day, YYYY-MM-DD (default: now)")
    p.add_argument("--reason", help="why (kept with the version; default: trained by hand)")
    p.add_argument("--force-reason", help="skip the no-regression check, saying why (audited)")
    p.add_argument(
        "--publish",
        action="store_true",
        help="with approval: auto, approve as the DAG does, then publish and promote",
    )
    p.set_defaults(func=run_train)
    for name, func, what in (
        ("score", run_score, "score a day's learners with the production version"),
        ("check-drift", run_check_drift, "judge a day's predictions against the reference"),
    ):
        p = sub.add_parser(name, help=f"{what} (the DAG's task, by hand)")
        p.add_argument("model", help="model name, e.g. learner_risk")
        p.add_argument("--day", help="the day, YYYY-MM-DD (default: yesterday, UTC)")
        p.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bantay", description=DESCRIPTION)
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
        help="broken feed: KIND is nulls, frozen, stuck or unit",
    )
    sim.add_argument(
        "--fairness",
        metavar="REGION@DATE[:SIZE]",
        help="from DATE the labels of one region depend less on the features (size in 0..1)",
    )
    sim.add_argument(
        "--importance",
        action="append",
        default=[],
        metavar="FEATURES@DATE[:FACTOR]",
        help="from DATE the features spread around their median by FACTOR, e.g. "
        "attendance_rate@2026-10-01:1.1",
    )
    sim.add_argument(
        "--decouple",
        action="append",
        default=[],
        metavar="FEATURES@DATE[:SHARE]",
        help="from DATE a SHARE of learners get other learners' values of the features (their "
        "distributions unchanged), e.g. attendance_rate@2026-10-01:0.5",
    )
    sim.set_defaults(func=run_simulate)

    feats = sub.add_parser("features", help="the Feast feature repo").add_subparsers(
        dest="action", required=True
    )
    feats.add_parser("apply", help="feast apply (a deploy step)").set_defaults(
        func=run_features_apply
    )
    mat = feats.add_parser("materialize", help="validate and materialize a date range")
    mat.add_argument("--start", required=True)
    mat.add_argument("--end")
    mat.set_defaults(func=run_features_materialize)
    show = feats.add_parser("show", help="print online features of some learners")
    show.add_argument("--learners", required=True, help="comma-separated learner ids")
    show.add_argument("--model")
    show.set_defaults(func=run_features_show)
    _add_config_commands(sub)
    registry = sub.add_parser("registry", help="the registry database").add_subparsers(
        dest="action", required=True
    )
    registry.add_parser(
        "upgrade", help="apply the registry migrations (a deploy step)"
    ).set_defaults(func=run_registry_upgrade)
    _add_model_store_commands(sub)
    _add_run_commands(sub)
    rep = sub.add_parser(
        "reproduce",
        help="rebuild a version from its record and compare every artifact's digest "
        "(exit 0 when all are equal, 1 otherwise)",
    )
    rep.add_argument("model", help="model name, e.g. learner_risk")
    rep.add_argument("version", help="the version to rebuild")
    rep.add_argument("--json", action="store_true", help="the report as JSON")
    rep.set_defaults(func=run_reproduce)
    _add_shadow_report(sub)
    add_erase_command(sub, os.environ.get("USER") or "unknown")
    add_retention_command(sub)
    add_experiment_command(sub, os.environ.get("USER") or "unknown")
    return parser


def _add_shadow_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "shadow-report",
        help="is the shadow challenger better than production? a paired comparison on the "
        "same learners' matured labels (DeLong's test), and a one-line decision",
    )
    p.add_argument("model", help="model name, e.g. learner_risk")
    p.add_argument(
        "--as-of", metavar="DATE", help="judge the labels matured by DATE (default: today, UTC)"
    )
    p.add_argument(
        "--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)"
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="paired bootstrap resamples of the PR AUC difference (0: none; default 1000)",
    )
    p.add_argument(
        "--capacity",
        type=int,
        metavar="N",
        help="staff act on at most N of production's flags a day: compare below both models' "
        "daily top N, on outcomes no flag changed (default: everyone)",
    )
    p.add_argument("--json", action="store_true", help="the comparison as JSON")
    p.set_defaults(func=run_shadow_report)
