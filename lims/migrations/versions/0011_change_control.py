"""change control: proposed versions of QC specifications and process templates, in force
only once a QA officer other than the proposer signs the approval (issue 12)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25

One table, ``change_proposal``; the versions themselves stay where they are
(``qc_specification`` / ``process_template``), each approved change naming the version it
became (``result_version``). At most one open change per document: two partial unique
indexes, per (product, stage) for specifications and per product for templates.
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OPEN_SPEC = "status = 'proposed' AND kind = 'qc_specification'"
OPEN_TEMPLATE = "status = 'proposed' AND kind = 'process_template'"


def upgrade():
    op.create_table(
        "change_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("proposed_by_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signature_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("result_version", sa.Integer(), nullable=True),
        sa.CheckConstraint("(kind = 'qc_specification') = (stage IS NOT NULL)",
                           name=op.f("ck_change_proposal_stage")),
        sa.CheckConstraint("(status = 'approved') = (result_version IS NOT NULL)",
                           name=op.f("ck_change_proposal_approved_has_version")),
        sa.CheckConstraint("(status = 'proposed') = (decided_at IS NULL AND decided_by_id IS NULL)",
                           name=op.f("ck_change_proposal_decided")),
        sa.CheckConstraint("(status IN ('approved', 'rejected')) = (signature_id IS NOT NULL)",
                           name=op.f("ck_change_proposal_decision_is_signed")),
        sa.CheckConstraint("kind IN ('qc_specification', 'process_template')",
                           name=op.f("ck_change_proposal_kind")),
        sa.CheckConstraint("status != 'approved' OR decided_by_id != proposed_by_id",
                           name=op.f("ck_change_proposal_four_eyes")),
        sa.CheckConstraint("status IN ('proposed', 'approved', 'rejected', 'withdrawn')",
                           name=op.f("ck_change_proposal_status")),
        sa.CheckConstraint("status NOT IN ('rejected', 'withdrawn') OR decision_reason IS NOT NULL",
                           name=op.f("ck_change_proposal_refusal_has_reason")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user_account.id"],
                                name=op.f("fk_change_proposal_decided_by_id_user_account")),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"],
                                name=op.f("fk_change_proposal_product_id_product")),
        sa.ForeignKeyConstraint(["proposed_by_id"], ["user_account.id"],
                                name=op.f("fk_change_proposal_proposed_by_id_user_account")),
        sa.ForeignKeyConstraint(["signature_id"], ["signature.id"],
                                name=op.f("fk_change_proposal_signature_id_signature")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_proposal")),
    )
    with op.batch_alter_table("change_proposal", schema=None) as batch_op:
        batch_op.create_index("ix_change_proposal_kind_status", ["kind", "status"], unique=False)
        batch_op.create_index("uq_change_proposal_open_spec", ["product_id", "stage"], unique=True,
                              sqlite_where=sa.text(OPEN_SPEC), postgresql_where=sa.text(OPEN_SPEC))
        batch_op.create_index("uq_change_proposal_open_template", ["product_id"], unique=True,
                              sqlite_where=sa.text(OPEN_TEMPLATE),
                              postgresql_where=sa.text(OPEN_TEMPLATE))


def downgrade():
    with op.batch_alter_table("change_proposal", schema=None) as batch_op:
        batch_op.drop_index("uq_change_proposal_open_template",
                            sqlite_where=sa.text(OPEN_TEMPLATE),
                            postgresql_where=sa.text(OPEN_TEMPLATE))
        batch_op.drop_index("uq_change_proposal_open_spec", sqlite_where=sa.text(OPEN_SPEC),
                            postgresql_where=sa.text(OPEN_SPEC))
        batch_op.drop_index("ix_change_proposal_kind_status")
    op.drop_table("change_proposal")
