"""accounts: one-time passwords, password history, lockout that lifts, server-side web
sessions, token revocation reasons and signing-session state (SPEC §8)

Revision ID: 0009
Revises: 0006 (on the accounts branch; 0008 once re-chained at merge)
Create Date: 2026-11-25

Existing accounts: their passwords were typed by an administrator, so each becomes
one-time (``must_change_password``) and its hash the first entry of the password
history; a lock already in place lifts 15 minutes after it began. These are account
settings, not GMP records: the migration leaves no audit entries (the README says so).
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SESSION_ENDS = ("logout", "idle", "password_changed", "password_reset", "role_changed",
                "deactivated", "locked")


def _in(column: str) -> str:
    values = ", ".join(f"'{v}'" for v in SESSION_ENDS)
    return f"({column} IS NULL OR {column} IN ({values}))"


def upgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("password_changed_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True),
                                      nullable=True))

    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("first_signed_at", sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.create_check_constraint(op.f("ck_api_token_revoked_reason"),
                                         _in("revoked_reason"))

    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("first_signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in("end_reason"), name=op.f("ck_login_session_end_reason")),
        sa.CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)",
                           name=op.f("ck_login_session_ended")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_login_session_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_session")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_login_session_secret_hash")),
    )
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_session_user_id"), ["user_id"], unique=False)

    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_password_history_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_history_user_id"), ["user_id"],
                              unique=False)

    op.execute("UPDATE user_account SET must_change_password = TRUE, "
               "password_changed_at = created_at")
    op.execute("INSERT INTO password_history (user_id, password_hash, created_at) "
               "SELECT id, password_hash, created_at FROM user_account ORDER BY id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE user_account SET locked_until = locked_at + INTERVAL '15 minutes' "
                   "WHERE locked_at IS NOT NULL")
    else:
        op.execute("UPDATE user_account SET locked_until = strftime('%Y-%m-%d %H:%M:%f', "
                   "locked_at, '+15 minutes') WHERE locked_at IS NOT NULL")
    _record_baseline()


def _record_baseline():
    """The rows this migration wrote or backfilled enter the audit trail (as 0007 does), so
    that ``audit-verify --replay`` covers them."""
    from lims.audit.replay import record_baseline

    record_baseline(op.get_bind(), ["user_account"], {"user_account": {"password_hash"}},
                    "migration 0009",
                    "baseline: written by database migration 0009 (backfill); recorded so that "
                    "replay covers it")


def downgrade():
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_history_user_id"))
    op.drop_table("password_history")
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_session_user_id"))
    op.drop_table("login_session")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_api_token_revoked_reason"), type_="check")
        batch_op.drop_column("first_signed_at")
        batch_op.drop_column("revoked_reason")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("password_changed_at")
        batch_op.drop_column("must_change_password")
