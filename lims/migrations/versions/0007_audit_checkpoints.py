"""audit checkpoints: signed checkpoints of the chain head (append-only), a head that only
moves forward, and the trail's baseline of rows written by earlier migrations

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

SPEC §8 (the trail holds against insiders):

- ``audit_checkpoint``: "entry ``seq`` has hash ``head_hash``", signed with the audit
  signing key kept outside the database; the database refuses UPDATE, DELETE and
  TRUNCATE of it, like the trail.
- ``audit_head``: an UPDATE that moves the head back (a smaller seq, or the same seq
  with another hash) or renumbers it is refused; so is TRUNCATE (DELETE already was).
- Baseline: migrations 0002 and 0004 seeded products, process templates and their
  rules, specifications and their tests, and 0006 backfilled ``culture_step.overdue_at``,
  without audit entries. ``audit-verify --replay`` compares every GMP row with the
  trail, so this migration records them (``create`` entries for rows the trail does not
  know, ``update`` entries for values it does not hold), as actor ``migration 0007``
  with a reason saying so. A later migration that writes GMP rows does the same
  (:func:`lims.audit.replay.record_baseline`).
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The audited tables as of this revision (models mixing in lims.audit.Audited).
AUDITED_TABLES = [
    "alert", "batch", "collection", "culture_step", "custody_event", "deviation",
    "donor_screening", "dose", "exceptional_release", "label_print", "process_template",
    "product", "qc_result", "qc_spec_test", "qc_specification", "recipient_screening",
    "signature", "subject", "template_rule", "user_account",
]
MASKED = {"user_account": {"password_hash"}}
BASELINE_REASON = ("baseline: written by a database migration (seed or backfill) before the "
                   "trail recorded migrations; recorded so that replay covers it")


def upgrade():
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.create_index("ix_audit_checkpoint_seq", ["seq"], unique=False)
    _record_baseline()
    _create_triggers()


def _record_baseline():
    from lims.audit.replay import record_baseline

    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    record_baseline(bind, [t for t in AUDITED_TABLES if t in existing], MASKED,
                    "migration 0007", BASELINE_REASON)


def _create_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.id <> OLD.id OR NEW.last_seq < OLD.last_seq
                   OR (NEW.last_seq = OLD.last_seq AND NEW.last_hash <> OLD.last_hash) THEN
                    RAISE EXCEPTION 'audit head only moves forward: seq % to % refused',
                        OLD.last_seq, NEW.last_seq;
                END IF;
                RETURN NEW;
            END $$""")
        op.execute("CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head "
                   "FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only()")
        op.execute("CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()")
        op.execute("CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE "
                   "ON audit_checkpoint FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()")
        op.execute("CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE "
                   "ON audit_checkpoint FOR EACH STATEMENT EXECUTE FUNCTION "
                   "audit_refuse_change()")
    else:
        op.execute("CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head "
                   "WHEN NEW.id <> OLD.id OR NEW.last_seq < OLD.last_seq "
                   "OR (NEW.last_seq = OLD.last_seq AND NEW.last_hash <> OLD.last_hash) "
                   "BEGIN SELECT RAISE(ABORT, 'audit head only moves forward'); END")
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_checkpoint_no_{event.lower()} BEFORE {event} "
                       "ON audit_checkpoint BEGIN SELECT RAISE(ABORT, "
                       "'audit checkpoints are append-only'); END")


def _drop_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_checkpoint_no_truncate ON audit_checkpoint")
        op.execute("DROP TRIGGER audit_checkpoint_append_only ON audit_checkpoint")
        op.execute("DROP TRIGGER audit_head_no_truncate ON audit_head")
        op.execute("DROP TRIGGER audit_head_forward_only ON audit_head")
        op.execute("DROP FUNCTION audit_head_forward_only()")
    else:
        for name in ("audit_checkpoint_no_update", "audit_checkpoint_no_delete",
                     "audit_head_forward_only"):
            op.execute(f"DROP TRIGGER {name}")


def downgrade():
    """Drops the checkpoints and the triggers; the baseline entries stay (the trail is
    append-only), and an upgrade after a downgrade finds nothing new to record."""
    _drop_triggers()
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_checkpoint_seq")
    op.drop_table("audit_checkpoint")
