"""release_recall: a release stays true (suspension, post-release failure, recall, look-back,
thaw, donor marker corrections) and alert kinds registered by the feature packages

Revision ID: 0008
Revises: 0006 (on the release branch; 0007 is the audit branch's — the lead re-chains
this to ``down_revision = "0007"`` at merge)
Create Date: 2026-11-25

Existing rows migrate as follows (no audit entries: these are settings the new columns
introduce, not corrections of recorded values):

* every spec test is timed ``release`` (the column's default): only release tests
  are release condition 1, as before;
* MSC is cryopreserved (SPEC §2: "MSC (cryopreserved)"), NK fresh; existing doses take
  their product's setting; the post-thaw expiry is 4 hours;
* the alert kind check constraint goes: kinds are registered by the feature packages
  (``lims.alerts.registry``); ``alert.batch_id`` gets a foreign key to ``batch`` (ids
  naming no batch are cleared first — none should exist);
* ``batch.status`` widens to 20 characters for ``release_suspended``.
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH_STATUSES = ("registered", "in_culture", "harvested", "qc_review", "released",
                  "rejected", "on_hold", "release_suspended", "recalled")
OLD_BATCH_STATUSES = ("registered", "in_culture", "harvested", "qc_review", "released",
                      "rejected", "on_hold")
OLD_ALERT_KINDS = ("overdue_step", "qc_pending", "dose_expiring", "identity_mismatch")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    op.create_table(
        "release_suspension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("cause", sa.String(length=30), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=True),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caused_by_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=20), nullable=True),
        sa.Column("end_signature_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("(ended_by IS NULL OR ended_by IN ('re_released', 'recalled'))",
                           name=op.f("ck_release_suspension_ended_by")),
        sa.CheckConstraint("cause IN ('step_corrected', 'result_corrected', 'new_result', "
                           "'post_release_failure', 'donor_screening', 'recipient_screening', "
                           "'deviation', 'record_changed')",
                           name=op.f("ck_release_suspension_cause")),
        sa.CheckConstraint("(ended_at IS NULL) = (ended_by IS NULL)",
                           name=op.f("ck_release_suspension_ended")),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"],
                                name=op.f("fk_release_suspension_batch_id_batch")),
        sa.ForeignKeyConstraint(["caused_by_id"], ["user_account.id"],
                                name=op.f("fk_release_suspension_caused_by_id_user_account")),
        sa.ForeignKeyConstraint(["end_signature_id"], ["signature.id"],
                                name=op.f("fk_release_suspension_end_signature_id_signature")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_suspension")),
    )
    with op.batch_alter_table("release_suspension", schema=None) as batch_op:
        batch_op.create_index("ix_release_suspension_open", ["batch_id", "ended_at"],
                              unique=False)

    op.create_table(
        "donor_marker_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("screening_id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("corrected_by_id", sa.Integer(), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_by_id", sa.Integer(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(status = 'verified') = (verified_by_id IS NOT NULL "
                           "AND verified_at IS NOT NULL)",
                           name=op.f("ck_donor_marker_correction_verified_by")),
        sa.CheckConstraint("status IN ('pending', 'verified')",
                           name=op.f("ck_donor_marker_correction_status")),
        sa.CheckConstraint("verified_by_id IS NULL OR verified_by_id != corrected_by_id",
                           name=op.f("ck_donor_marker_correction_verifier_is_not_corrector")),
        sa.ForeignKeyConstraint(
            ["corrected_by_id"], ["user_account.id"],
            name=op.f("fk_donor_marker_correction_corrected_by_id_user_account")),
        sa.ForeignKeyConstraint(
            ["screening_id"], ["donor_screening.id"],
            name=op.f("fk_donor_marker_correction_screening_id_donor_screening")),
        sa.ForeignKeyConstraint(
            ["verified_by_id"], ["user_account.id"],
            name=op.f("fk_donor_marker_correction_verified_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donor_marker_correction")),
    )
    with op.batch_alter_table("donor_marker_correction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_donor_marker_correction_screening_id"),
                              ["screening_id"], unique=False)
        batch_op.create_index("uq_donor_marker_correction_pending", ["screening_id"],
                              unique=True, sqlite_where=sa.text("status = 'pending'"),
                              postgresql_where=sa.text("status = 'pending'"))

    op.create_table(
        "recall",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recalled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closure_signature_id", sa.Integer(), nullable=True),
        sa.Column("closing_summary", sa.Text(), nullable=True),
        sa.CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL "
                           "AND closure_signature_id IS NOT NULL)",
                           name=op.f("ck_recall_closed_is_signed")),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_recall_status")),
        sa.ForeignKeyConstraint(["batch_id"], ["batch.id"], name=op.f("fk_recall_batch_id_batch")),
        sa.ForeignKeyConstraint(["closure_signature_id"], ["signature.id"],
                                name=op.f("fk_recall_closure_signature_id_signature")),
        sa.ForeignKeyConstraint(["signature_id"], ["signature.id"],
                                name=op.f("fk_recall_signature_id_signature")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_recall_batch_id")),
    )
    op.create_table(
        "recall_dose",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recall_id", sa.Integer(), nullable=False),
        sa.Column("dose_id", sa.Integer(), nullable=False),
        sa.Column("status_at_recall", sa.String(length=12), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("site", sa.String(length=200), nullable=True),
        sa.Column("administered", sa.Boolean(), nullable=False),
        sa.Column("disposition", sa.String(length=10), nullable=True),
        sa.Column("disposition_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("custody_event_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("(disposition IS NULL OR disposition IN ('returned', 'disposed'))",
                           name=op.f("ck_recall_dose_disposition")),
        sa.CheckConstraint("(disposition IS NULL) = (disposition_at IS NULL)",
                           name=op.f("ck_recall_dose_disposition_at")),
        sa.ForeignKeyConstraint(["custody_event_id"], ["custody_event.id"],
                                name=op.f("fk_recall_dose_custody_event_id_custody_event")),
        sa.ForeignKeyConstraint(["dose_id"], ["dose.id"], name=op.f("fk_recall_dose_dose_id_dose")),
        sa.ForeignKeyConstraint(["recall_id"], ["recall.id"],
                                name=op.f("fk_recall_dose_recall_id_recall")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["user_account.id"],
                                name=op.f("fk_recall_dose_recorded_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall_dose")),
        sa.UniqueConstraint("recall_id", "dose_id", name=op.f("uq_recall_dose_recall_id_dose_id")),
    )
    with op.batch_alter_table("recall_dose", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recall_dose_recall_id"), ["recall_id"], unique=False)

    op.create_table(
        "recall_notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recall_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=True),
        sa.Column("dose_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.CheckConstraint("kind != 'physician' OR dose_id IS NOT NULL",
                           name=op.f("ck_recall_notification_physician_names_dose")),
        sa.CheckConstraint("kind != 'site' OR site IS NOT NULL",
                           name=op.f("ck_recall_notification_site_is_named")),
        sa.CheckConstraint("kind IN ('site', 'physician')",
                           name=op.f("ck_recall_notification_kind")),
        sa.CheckConstraint("method IN ('phone', 'email', 'fax', 'letter', 'in_person')",
                           name=op.f("ck_recall_notification_method")),
        sa.CheckConstraint("(acknowledged_at IS NULL) = (acknowledged_by IS NULL)",
                           name=op.f("ck_recall_notification_acknowledged_by")),
        sa.ForeignKeyConstraint(["dose_id"], ["dose.id"],
                                name=op.f("fk_recall_notification_dose_id_dose")),
        sa.ForeignKeyConstraint(["recall_id"], ["recall.id"],
                                name=op.f("fk_recall_notification_recall_id_recall")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["user_account.id"],
                                name=op.f("fk_recall_notification_recorded_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recall_notification")),
    )
    with op.batch_alter_table("recall_notification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recall_notification_recall_id"), ["recall_id"],
                              unique=False)

    op.create_table(
        "exceptional_release_follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exceptional_release_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=20), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=500), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("qc_result_id", sa.Integer(), nullable=True),
        sa.Column("donor_screening_id", sa.Integer(), nullable=True),
        sa.Column("physician_name", sa.String(length=200), nullable=True),
        sa.Column("method", sa.String(length=20), nullable=True),
        sa.Column("physician_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_by_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.CheckConstraint("item IN ('sterility', 'donor_screening')",
                           name=op.f("ck_exceptional_release_follow_up_item")),
        sa.CheckConstraint("(physician_notified_at IS NULL) = (notified_by_id IS NULL)",
                           name=op.f("ck_exceptional_release_follow_up_notified_by")),
        sa.CheckConstraint("physician_notified_at IS NULL OR (physician_name IS NOT NULL "
                           "AND method IS NOT NULL)",
                           name=op.f("ck_exceptional_release_follow_up_notification_is_whole")),
        sa.ForeignKeyConstraint(
            ["donor_screening_id"], ["donor_screening.id"],
            name=op.f("fk_exceptional_release_follow_up_donor_screening_id_donor_screening")),
        sa.ForeignKeyConstraint(
            ["exceptional_release_id"], ["exceptional_release.id"],
            name=op.f("fk_exceptional_release_follow_up_exceptional_release_id_exceptional_release")),
        sa.ForeignKeyConstraint(
            ["notified_by_id"], ["user_account.id"],
            name=op.f("fk_exceptional_release_follow_up_notified_by_id_user_account")),
        sa.ForeignKeyConstraint(
            ["qc_result_id"], ["qc_result.id"],
            name=op.f("fk_exceptional_release_follow_up_qc_result_id_qc_result")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exceptional_release_follow_up")),
        sa.UniqueConstraint("exceptional_release_id", "item",
                            name=op.f("uq_exceptional_release_follow_up_exceptional_release_id_item")),
    )
    with op.batch_alter_table("exceptional_release_follow_up", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exceptional_release_follow_up_exceptional_release_id"),
            ["exceptional_release_id"], unique=False)

    # Alerts: kinds are registered by the feature packages; batch_id references a batch.
    op.execute("UPDATE alert SET batch_id = NULL WHERE batch_id IS NOT NULL "
               "AND batch_id NOT IN (SELECT id FROM batch)")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_alert_kind"), type_="check")
        batch_op.add_column(sa.Column("caused_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("closed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("investigation", sa.Text(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_alert_batch_id_batch"), "batch", ["batch_id"],
                                    ["id"])
        batch_op.create_foreign_key(op.f("fk_alert_caused_by_id_user_account"), "user_account",
                                    ["caused_by_id"], ["id"])
        batch_op.create_foreign_key(op.f("fk_alert_closed_by_id_user_account"), "user_account",
                                    ["closed_by_id"], ["id"])
        batch_op.create_check_constraint(
            op.f("ck_alert_closed_with_investigation"),
            "closed_by_id IS NULL OR (investigation IS NOT NULL AND resolved_at IS NOT NULL)")
        batch_op.create_check_constraint(
            op.f("ck_alert_closer_is_not_causer"),
            "closed_by_id IS NULL OR caused_by_id IS NULL OR closed_by_id != caused_by_id")

    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_weight_kg", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("prescribed_cells_per_kg_min", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("prescribed_cells_per_kg_max", sa.Float(), nullable=True))
        batch_op.alter_column("status", existing_type=sa.VARCHAR(length=12),
                              type_=sa.String(length=20), existing_nullable=False)
        batch_op.drop_constraint(op.f("ck_batch_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_batch_status"), _in("status", BATCH_STATUSES))
        batch_op.drop_constraint(op.f("ck_batch_released_is_signed"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_batch_released_is_signed"),
            "status NOT IN ('released', 'release_suspended', 'recalled') "
            "OR release_signature_id IS NOT NULL")
        batch_op.create_check_constraint(
            op.f("ck_batch_recipient_weight_kg"),
            "recipient_weight_kg IS NULL OR recipient_weight_kg > 0")
        batch_op.create_check_constraint(
            op.f("ck_batch_prescribed_range"),
            "prescribed_cells_per_kg_min IS NULL OR prescribed_cells_per_kg_max IS NULL "
            "OR prescribed_cells_per_kg_min <= prescribed_cells_per_kg_max")

    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cryopreserved", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column("post_thaw_expiry_hours", sa.Integer(), server_default="4",
                                      nullable=False))
        batch_op.create_check_constraint(op.f("ck_product_post_thaw_expiry_hours"),
                                         "post_thaw_expiry_hours > 0")
    op.execute(sa.text("UPDATE product SET cryopreserved = :yes WHERE code = 'MSC'")
               .bindparams(yes=True))

    with op.batch_alter_table("dose", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cryopreserved", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.add_column(sa.Column("thawed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("post_thaw_expires_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_index("ix_dose_post_thaw_expires", ["post_thaw_expires_at"],
                              unique=False)
        batch_op.create_check_constraint(op.f("ck_dose_thaw_sets_expiry"),
                                         "(thawed_at IS NULL) = (post_thaw_expires_at IS NULL)")
        batch_op.create_check_constraint(op.f("ck_dose_only_frozen_thaw"),
                                         "thawed_at IS NULL OR cryopreserved")
    op.execute("UPDATE dose SET cryopreserved = (SELECT product.cryopreserved FROM batch "
               "JOIN product ON product.id = batch.product_id WHERE batch.id = dose.batch_id)")

    with op.batch_alter_table("qc_spec_test", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timing", sa.String(length=10), server_default="release",
                                      nullable=False))
        batch_op.create_check_constraint(op.f("ck_qc_spec_test_timing"),
                                         "timing IN ('release', 'follow_up')")
    _record_baseline()


def _record_baseline():
    """The rows this migration wrote or backfilled enter the audit trail (as 0007 does), so
    that ``audit-verify --replay`` covers them."""
    from lims.audit.replay import record_baseline

    record_baseline(op.get_bind(), ["alert", "dose", "product", "qc_spec_test"], {},
                    "migration 0008",
                    "baseline: written by database migration 0008 (backfill); recorded so that "
                    "replay covers it")


def downgrade():
    with op.batch_alter_table("qc_spec_test", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_qc_spec_test_timing"), type_="check")
        batch_op.drop_column("timing")

    with op.batch_alter_table("dose", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_dose_only_frozen_thaw"), type_="check")
        batch_op.drop_constraint(op.f("ck_dose_thaw_sets_expiry"), type_="check")
        batch_op.drop_index("ix_dose_post_thaw_expires")
        batch_op.drop_column("post_thaw_expires_at")
        batch_op.drop_column("thawed_at")
        batch_op.drop_column("cryopreserved")

    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_product_post_thaw_expiry_hours"), type_="check")
        batch_op.drop_column("post_thaw_expiry_hours")
        batch_op.drop_column("cryopreserved")

    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_batch_prescribed_range"), type_="check")
        batch_op.drop_constraint(op.f("ck_batch_recipient_weight_kg"), type_="check")
        batch_op.drop_constraint(op.f("ck_batch_released_is_signed"), type_="check")
        batch_op.create_check_constraint(op.f("ck_batch_released_is_signed"),
                                         "status != 'released' OR release_signature_id IS NOT NULL")
        batch_op.drop_constraint(op.f("ck_batch_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_batch_status"),
                                         _in("status", OLD_BATCH_STATUSES))
        batch_op.alter_column("status", existing_type=sa.String(length=20),
                              type_=sa.VARCHAR(length=12), existing_nullable=False)
        batch_op.drop_column("prescribed_cells_per_kg_max")
        batch_op.drop_column("prescribed_cells_per_kg_min")
        batch_op.drop_column("recipient_weight_kg")

    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_alert_closer_is_not_causer"), type_="check")
        batch_op.drop_constraint(op.f("ck_alert_closed_with_investigation"), type_="check")
        batch_op.drop_constraint(op.f("fk_alert_closed_by_id_user_account"), type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_alert_caused_by_id_user_account"), type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_alert_batch_id_batch"), type_="foreignkey")
        batch_op.drop_column("investigation")
        batch_op.drop_column("closed_by_id")
        batch_op.drop_column("caused_by_id")
        batch_op.create_check_constraint(op.f("ck_alert_kind"), _in("kind", OLD_ALERT_KINDS))

    for table, index in (("exceptional_release_follow_up",
                          "ix_exceptional_release_follow_up_exceptional_release_id"),
                         ("recall_notification", "ix_recall_notification_recall_id"),
                         ("recall_dose", "ix_recall_dose_recall_id")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(index))
        op.drop_table(table)
    op.drop_table("recall")
    with op.batch_alter_table("donor_marker_correction", schema=None) as batch_op:
        batch_op.drop_index("uq_donor_marker_correction_pending",
                            sqlite_where=sa.text("status = 'pending'"),
                            postgresql_where=sa.text("status = 'pending'"))
        batch_op.drop_index(batch_op.f("ix_donor_marker_correction_screening_id"))
    op.drop_table("donor_marker_correction")
    with op.batch_alter_table("release_suspension", schema=None) as batch_op:
        batch_op.drop_index("ix_release_suspension_open")
    op.drop_table("release_suspension")
