"""print jobs: label_print rows are recorded as queued before the printer is contacted,
then sent or failed (status, outcome_at, problem); a copy number is unique among the
jobs that did not fail

Revision ID: 0010
Revises: 0009 (on the docs branch temporarily 0006, its head; the lead re-chains it)
Create Date: 2026-11-25

Rows written before this revision were written only once the printer had taken the
job: they become ``sent``, with ``outcome_at`` = ``printed_at``. Both are derived from
what was recorded (not a change of a recorded value), so they leave no audit entries.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NOT_FAILED = "status != 'failed'"


def upgrade():
    with op.batch_alter_table("label_print", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=10), nullable=False,
                                      server_default="sent"))
        batch_op.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("problem", sa.Text(), nullable=True))
    op.execute("UPDATE label_print SET outcome_at = printed_at")
    with op.batch_alter_table("label_print", schema=None) as batch_op:
        batch_op.alter_column("status", server_default=None)
        batch_op.drop_constraint(batch_op.f("uq_label_print_dose_id_copy_number"), type_="unique")
        batch_op.create_check_constraint(batch_op.f("ck_label_print_status"),
                                         "status IN ('queued', 'sent', 'failed')")
        batch_op.create_check_constraint(batch_op.f("ck_label_print_outcome_at"),
                                         "(status = 'queued') = (outcome_at IS NULL)")
        batch_op.create_check_constraint(batch_op.f("ck_label_print_failed_has_problem"),
                                         "(status = 'failed') = (problem IS NOT NULL)")
        batch_op.create_index("uq_label_print_copy", ["dose_id", "copy_number"], unique=True,
                              sqlite_where=sa.text(NOT_FAILED),
                              postgresql_where=sa.text(NOT_FAILED))
    _record_baseline()


def _record_baseline():
    """The rows this migration wrote or backfilled enter the audit trail (as 0007 does), so
    that ``audit-verify --replay`` covers them."""
    from lims.audit.replay import record_baseline

    record_baseline(op.get_bind(), ["label_print"], {},
                    "migration 0010",
                    "baseline: written by database migration 0010 (backfill); recorded so that "
                    "replay covers it")


def downgrade():
    op.execute("DELETE FROM label_print WHERE status = 'failed'")
    with op.batch_alter_table("label_print", schema=None) as batch_op:
        batch_op.drop_index("uq_label_print_copy")
        batch_op.drop_constraint(batch_op.f("ck_label_print_failed_has_problem"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_label_print_outcome_at"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_label_print_status"), type_="check")
        batch_op.create_unique_constraint(batch_op.f("uq_label_print_dose_id_copy_number"),
                                          ["dose_id", "copy_number"])
        batch_op.drop_column("problem")
        batch_op.drop_column("outcome_at")
        batch_op.drop_column("status")
