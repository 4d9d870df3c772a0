"""Drift verdict FAIRNESS (on matured labels, a slice's recall fell behind the best slice's
beyond the allowed gap).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("OK", "WATCH", "DRIFT", "PERFORMANCE", "DATA QUALITY")
_NEW = (*_OLD, "FAIRNESS")


def _in(values: Sequence[str]) -> str:
    return "verdict IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace(values: Sequence[str]) -> None:
    with op.batch_alter_table("drift_reports") as batch:
        batch.drop_constraint("ck_drift_reports_verdict", type_="check")
        batch.create_check_constraint("ck_drift_reports_verdict", _in(values))


def upgrade() -> None:
    _replace(_NEW)


def downgrade() -> None:
    op.execute("DELETE FROM drift_reports WHERE verdict = 'FAIRNESS'")
    _replace(_OLD)
