"""alerts: at most one open alert per (kind, entity)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=200), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("acknowledgement", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('overdue_step', 'qc_pending', 'dose_expiring', "
                           "'identity_mismatch')", name=op.f("ck_alert_kind")),
        sa.CheckConstraint("acknowledged_at IS NULL OR (acknowledged_by_id IS NOT NULL "
                           "AND acknowledgement IS NOT NULL)",
                           name=op.f("ck_alert_acknowledged_by")),
        sa.ForeignKeyConstraint(["acknowledged_by_id"], ["user_account.id"],
                                name=op.f("fk_alert_acknowledged_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index("ix_alert_open_kind", ["kind", "resolved_at"], unique=False)
        batch_op.create_index("uq_alert_one_open", ["kind", "entity_type", "entity_id"],
                              unique=True, sqlite_where=sa.text("resolved_at IS NULL"),
                              postgresql_where=sa.text("resolved_at IS NULL"))


def downgrade():
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("uq_alert_one_open")
        batch_op.drop_index("ix_alert_open_kind")
        batch_op.drop_index(batch_op.f("ix_alert_batch_id"))
    op.drop_table("alert")
