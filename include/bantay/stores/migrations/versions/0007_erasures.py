"""Erasures: the audit record of each learner removed from every store.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

``bantay erase`` appends one row per run: the learner as a keyed hash (HMAC-SHA256 of the id
under the erasure key; never the id), who asked, why, when, and what was touched (counts and
paths per store). Append-only, like promotions and baselines: triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MESSAGE = "erasures is an append-only record"


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column(
            "touched", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_erasures_subject_at", "erasures", ["subject", "at"])
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER erasures_no_{event.lower()} BEFORE {event} ON erasures "
                f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION bantay_erasures_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{_MESSAGE}: % is not allowed', TG_OP; END; $$"
    )
    op.execute(
        "CREATE TRIGGER erasures_append_only BEFORE UPDATE OR DELETE ON erasures "
        "FOR EACH ROW EXECUTE FUNCTION bantay_erasures_append_only()"
    )
    op.execute(
        "CREATE TRIGGER erasures_no_truncate BEFORE TRUNCATE ON erasures "
        "FOR EACH STATEMENT EXECUTE FUNCTION bantay_erasures_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS erasures_no_update")
        op.execute("DROP TRIGGER IF EXISTS erasures_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS erasures_no_truncate ON erasures")
        op.execute("DROP TRIGGER IF EXISTS erasures_append_only ON erasures")
        op.execute("DROP FUNCTION IF EXISTS bantay_erasures_append_only()")
    op.drop_index("ix_erasures_subject_at", table_name="erasures")
    op.drop_table("erasures")
