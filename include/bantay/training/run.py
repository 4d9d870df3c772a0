"""One training run: who, what, why and as of when (:class:`RunContext`, the plain value that
travels between the training DAG's tasks through XCom), and where its files live.

Intermediate files live under ``<BANTAY_HOME>/runs/<model>/<run key>/`` (a shared volume in the
stack), keyed on the DAG run, so a re-run of a task overwrites its own outputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bantay.layout import Layout


@dataclass(frozen=True)
class RunContext:
    """Who, what and why for one training run; JSON-serialisable for XCom."""

    model: str
    run_id: str
    as_of: str  # ISO datetime: labels matured by then, features as of each label's time
    reason: str
    force_reason: str | None = None
    trigger: str | None = None  # schedule | drift | manual, as planned; None outside a DAG run

    @property
    def key(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.run_id)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_dir(layout: Layout, ctx: RunContext) -> Path:
    """The folder of ``ctx``'s intermediate files (created when missing)."""
    return layout.run_dir(ctx.model, ctx.key)
