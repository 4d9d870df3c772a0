"""Drift verdicts WATCH (a feature moved in the 7-day view only) and PERFORMANCE (quality on
matured labels dropped beyond the gate's tolerance).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("OK", "DRIFT", "DATA QUALITY")
_NEW = ("OK", "WATCH", "DRIFT", "PERFORMANCE", "DATA QUALITY")


def _in(values: Sequence[str]) -> str:
    return "verdict IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace(values: Sequence[str]) -> None:
    with op.batch_alter_table("drift_reports") as batch:
        batch.drop_constraint("ck_drift_reports_verdict", type_="check")
        batch.create_check_constraint("ck_drift_reports_verdict", _in(values))


def upgrade() -> None:
    _replace(_NEW)


def downgrade() -> None:
    op.execute("DELETE FROM drift_reports WHERE verdict IN ('WATCH', 'PERFORMANCE')")
    _replace(_OLD)
