"""labels: label print records; late-entry flag on custody events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

The lead re-chains this revision after qc's 0004 (down_revision "0004").
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "label_print",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dose_id", sa.Integer(), nullable=False),
        sa.Column("copy_number", sa.Integer(), nullable=False),
        sa.Column("reprint", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("quarantine", sa.Boolean(), nullable=False),
        sa.Column("printer", sa.String(length=300), nullable=False),
        sa.Column("dpi", sa.Integer(), nullable=False),
        sa.Column("printed_by_id", sa.Integer(), nullable=False),
        sa.Column("printed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("copy_number >= 1", name=op.f("ck_label_print_copy_number")),
        sa.CheckConstraint("reprint = (copy_number > 1)",
                           name=op.f("ck_label_print_reprint_is_later_copy")),
        sa.CheckConstraint("NOT reprint OR reason IS NOT NULL",
                           name=op.f("ck_label_print_reprint_has_reason")),
        sa.CheckConstraint("dpi IN (203, 300)", name=op.f("ck_label_print_dpi")),
        sa.ForeignKeyConstraint(["dose_id"], ["dose.id"], name=op.f("fk_label_print_dose_id_dose")),
        sa.ForeignKeyConstraint(["printed_by_id"], ["user_account.id"],
                                name=op.f("fk_label_print_printed_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_print")),
        sa.UniqueConstraint("dose_id", "copy_number",
                            name=op.f("uq_label_print_dose_id_copy_number")),
    )
    with op.batch_alter_table("label_print", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_print_dose_id"), ["dose_id"], unique=False)

    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("late_entry", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.drop_column("late_entry")
    with op.batch_alter_table("label_print", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_print_dose_id"))
    op.drop_table("label_print")
