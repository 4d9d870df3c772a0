"""Training-set manifests: which learners each version was fitted on, as keyed hashes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

One row per (model, version, learner): the learner as the HMAC-SHA256 of its id under the
erasure key (the tombstones' hash, never the id). ``bantay erase --dry-run`` answers "which
versions saw this learner" with one query on the subject index; an erasure deletes the learner's
rows (recorded in its ``erasures`` audit row).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "training_learners",
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("model", "version", "subject", name="pk_training_learners"),
    )
    op.create_index("ix_training_learners_subject", "training_learners", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_training_learners_subject", table_name="training_learners")
    op.drop_table("training_learners")
