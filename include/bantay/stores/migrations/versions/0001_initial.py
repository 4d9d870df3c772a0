"""Initial registry schema: model_versions, promotions (append-only), drift_reports.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Self-contained on purpose (no imports from bantay.stores.registry): a migration is a snapshot of the
schema at one point in time and must not change when the ORM models do.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
STATUSES = ("candidate", "rejected", "approved", "production", "archived")
KINDS = ("promote", "rollback")
VERDICTS = ("OK", "DRIFT", "DATA QUALITY")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("gate", JSON, nullable=False),
        sa.Column("lineage", JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("rejection_reason", sa.Text, nullable=True),
        sa.Column("airflow_run_id", sa.String(250), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("model", "version", name="uq_model_versions_model_version"),
        sa.UniqueConstraint("model", "airflow_run_id", name="uq_model_versions_model_run"),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_model_versions_status"),
    )
    op.create_index(
        "uq_model_versions_one_production",
        "model_versions",
        ["model"],
        unique=True,
        sqlite_where=sa.text("status = 'production'"),
        postgresql_where=sa.text("status = 'production'"),
    )

    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("from_version", sa.String(128), nullable=True),
        sa.Column("to_version", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _timestamp("at"),
        sa.CheckConstraint(_in("kind", KINDS), name="ck_promotions_kind"),
    )
    op.create_index("ix_promotions_model_at", "promotions", ["model", "at"])
    _append_only("promotions")

    op.create_table(
        "drift_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("report_date", sa.Date, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("drifted_share", sa.Float, nullable=False),
        sa.Column("n_drifted", sa.Integer, nullable=False),
        sa.Column("n_features", sa.Integer, nullable=False),
        sa.Column("feature_scores", JSON, nullable=False),
        sa.Column("report_html_uri", sa.Text, nullable=True),
        sa.Column("report_json_uri", sa.Text, nullable=True),
        sa.Column("decision", sa.String(64), nullable=False),
        sa.Column("decision_detail", sa.Text, nullable=True),
        sa.Column("airflow_run_id", sa.String(250), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.UniqueConstraint("model", "report_date", name="uq_drift_reports_model_date"),
        sa.CheckConstraint(_in("verdict", VERDICTS), name="ck_drift_reports_verdict"),
    )


def downgrade() -> None:
    op.drop_table("drift_reports")
    _drop_append_only("promotions")
    op.drop_index("ix_promotions_model_at", table_name="promotions")
    op.drop_table("promotions")
    op.drop_index("uq_model_versions_one_production", table_name="model_versions")
    op.drop_table("model_versions")


def _append_only(table: str) -> None:
    """Reject UPDATE and DELETE in the database itself: an audit log nobody can rewrite."""
    dialect = op.get_bind().dialect.name
    message = f"{table} is an append-only audit log"
    if dialect == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION bantay_{table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{message}: % is not allowed', TG_OP;
            END;
            $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION bantay_{table}_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION bantay_{table}_append_only()"
        )
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}: {verb} is not allowed'); END"
            )


def _drop_append_only(table: str) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS bantay_{table}_append_only()")
    elif dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
