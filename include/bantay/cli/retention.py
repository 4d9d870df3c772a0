"""``bantay retention [--dry-run]``: delete what is older than its kind's retention period
(``retention:`` in ``bantay.yaml``), never an accepted day a production, approved or
rollback-target version needs (:mod:`bantay.features.retention`). Prints one line per deletion
(kind, path, age in days), then the expired accepted days kept and the versions that keep them."""

from __future__ import annotations

import argparse
import datetime as dt


def _today(text: str | None) -> dt.date:
    if not text:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--today {text!r} is not a date; give it as YYYY-MM-DD") from None


def run_retention(args: argparse.Namespace) -> int:
    from bantay.features.retention import enforce, report_lines
    from bantay.settings import get_settings

    summary = enforce(get_settings(), _today(args.today), dry_run=args.dry_run)
    print("\n".join(report_lines(summary)))
    return 0


def add_retention_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "retention",
        help="delete data older than its retention period (never what a kept version needs)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted; delete nothing"
    )
    p.add_argument(
        "--today", help="the day ages are counted from, YYYY-MM-DD (default: today, UTC)"
    )
    p.set_defaults(func=run_retention)
