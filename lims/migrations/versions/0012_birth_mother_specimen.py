"""donor screening: whose specimen was tested — the donor's own, or the birth mother's for
a donor one month old or younger (21 CFR 1271.80(b))

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25

Every screening recorded before this revision tested the donor's own specimen (the only
kind there was): ``specimen_source`` is ``donor`` for them, derived, not a change of a
recorded value; the baseline entry lets ``audit-verify --replay`` cover it.
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("donor_screening", schema=None) as batch_op:
        batch_op.add_column(sa.Column("specimen_source", sa.String(length=20), nullable=False,
                                      server_default="donor"))
        batch_op.create_check_constraint(batch_op.f("ck_donor_screening_specimen_source"),
                                         "specimen_source IN ('donor', 'birth_mother')")
    from lims.audit.replay import record_baseline

    record_baseline(op.get_bind(), ["donor_screening"], {}, "migration 0012",
                    "baseline: written by database migration 0012 (backfill); recorded so "
                    "that replay covers it")


def downgrade():
    with op.batch_alter_table("donor_screening", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_donor_screening_specimen_source"),
                                 type_="check")
        batch_op.drop_column("specimen_source")
