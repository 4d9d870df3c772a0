"""``bantay`` command line: every subcommand, each a thin wrapper over a library function, so what
the CLI does the DAGs do too.

Errors a person can fix (bad configuration, bad data, an unknown version, an unreachable store)
print one message naming the input and the fix, and exit non-zero; never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from bantay.cli.errors import service_errors, service_message, user_errors
from bantay.cli.parser import build_parser

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Airflow routes logging through its own handler once anything imports it (the S3 hook
    # does): at its level, set before that import, so a person sees the command's lines only.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO" if args.verbose else "WARNING")
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except user_errors() as exc:
        # Written for a person already (a bad configuration lists every bad key, one a line).
        print(f"bantay: error: {exc}", file=sys.stderr)
        return 2
    except service_errors() as exc:
        # One line: database drivers put their hints on further lines.
        print(f"bantay: error: {' '.join(service_message(exc).split())}", file=sys.stderr)
        return 2
