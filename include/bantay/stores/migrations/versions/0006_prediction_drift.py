"""The drift of the model's own score on a drift report's day.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

A DRIFT verdict rests on the features' drift or on the drift of the score itself (the prediction
column against the reference's scores); ``drift_reports.prediction_drift`` keeps the latter
(column, method, score, threshold, drifted) beside ``feature_scores``, so the pages can draw
what a verdict rests on. Null for rows written before, and for days without scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("drift_reports") as batch:
        batch.add_column(
            sa.Column(
                "prediction_drift",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("drift_reports") as batch:
        batch.drop_column("prediction_drift")
