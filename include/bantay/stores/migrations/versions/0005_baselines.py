"""Re-baselines (a production version's drift reference replaced by a person, recorded) and the
day a drift verdict's evidence was observed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

When inputs moved and the model's measured quality holds, the new inputs can be declared the
norm instead of retraining forever or alarming forever. Each re-baseline is one append-only row
(who, why, when, the days it covers, the reference file and its sha256); the drift check reads
the newest row of the production version. Updates and deletes are refused by triggers, as for
the promotion audit log.

``drift_reports.evidence_day``: a PERFORMANCE verdict rests on labels observed days or weeks
before the report date; persistence counts each such day once, and a retrain learns the rows
from the first of them on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MESSAGE = "baselines is an append-only record"


def upgrade() -> None:
    with op.batch_alter_table("drift_reports") as batch:
        batch.add_column(sa.Column("evidence_day", sa.Date, nullable=True))
    op.create_table(
        "baselines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("reference_uri", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("first_day", sa.Date, nullable=False),
        sa.Column("last_day", sa.Date, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_baselines_model_version_at", "baselines", ["model", "version", "at"])
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER baselines_no_{event.lower()} BEFORE {event} ON baselines "
                f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION bantay_baselines_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{_MESSAGE}: % is not allowed', TG_OP; END; $$"
    )
    op.execute(
        "CREATE TRIGGER baselines_append_only BEFORE UPDATE OR DELETE ON baselines "
        "FOR EACH ROW EXECUTE FUNCTION bantay_baselines_append_only()"
    )
    op.execute(
        "CREATE TRIGGER baselines_no_truncate BEFORE TRUNCATE ON baselines "
        "FOR EACH STATEMENT EXECUTE FUNCTION bantay_baselines_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS baselines_no_update")
        op.execute("DROP TRIGGER IF EXISTS baselines_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS baselines_no_truncate ON baselines")
        op.execute("DROP TRIGGER IF EXISTS baselines_append_only ON baselines")
        op.execute("DROP FUNCTION IF EXISTS bantay_baselines_append_only()")
    op.drop_index("ix_baselines_model_version_at", table_name="baselines")
    op.drop_table("baselines")
    with op.batch_alter_table("drift_reports") as batch:
        batch.drop_column("evidence_day")
