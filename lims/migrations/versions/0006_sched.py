"""sched: culture_step.overdue_at (= due_at + grace) indexed with status, and an index on
dose (status, expires_at) for the scheduler's sweep

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

The backfill of ``overdue_at`` is a derived value (due_at + grace_hours) of existing
rows, not a change of a recorded value, so it leaves no audit entries.
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("culture_step", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE culture_step SET overdue_at = due_at "
                   "+ make_interval(hours => COALESCE(grace_hours, 0)) WHERE due_at IS NOT NULL")
    else:
        op.execute("UPDATE culture_step SET overdue_at = strftime('%Y-%m-%d %H:%M:%f', due_at, "
                   "'+' || COALESCE(grace_hours, 0) || ' hours') WHERE due_at IS NOT NULL")
    with op.batch_alter_table("culture_step", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_culture_step_overdue_at"),
                                         "(due_at IS NULL) = (overdue_at IS NULL)")
        batch_op.create_index("ix_culture_step_pending_overdue", ["status", "overdue_at"],
                              unique=False)
    with op.batch_alter_table("dose", schema=None) as batch_op:
        batch_op.create_index("ix_dose_status_expires", ["status", "expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("dose", schema=None) as batch_op:
        batch_op.drop_index("ix_dose_status_expires")
    with op.batch_alter_table("culture_step", schema=None) as batch_op:
        batch_op.drop_index("ix_culture_step_pending_overdue")
        batch_op.drop_constraint(op.f("ck_culture_step_overdue_at"), type_="check")
        batch_op.drop_column("overdue_at")
