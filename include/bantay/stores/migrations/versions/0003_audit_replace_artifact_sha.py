"""Audit rows immutable against SQLite's REPLACE; the model file's sha256 recorded at publish.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

``REPLACE INTO promotions`` (and ``INSERT OR REPLACE``) deletes the conflicting row without
firing DELETE triggers, so on SQLite an audit row could be rewritten; a BEFORE INSERT trigger
refuses any insert whose id already exists. PostgreSQL has no REPLACE, and its UPDATE/DELETE
triggers already cover ``INSERT ... ON CONFLICT DO UPDATE``.

``model_versions.artifact_sha256`` keeps the sha256 of ``model.joblib`` as published, outside
S3, so a consistent rewrite of model and manifest in the bucket is detected.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("artifact_sha256", sa.String(64), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER promotions_no_replace BEFORE INSERT ON promotions "
            "WHEN EXISTS (SELECT 1 FROM promotions WHERE id = NEW.id) "
            "BEGIN SELECT RAISE(ABORT, 'promotions is an append-only audit log: "
            "REPLACE is not allowed'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS promotions_no_replace")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("artifact_sha256")
