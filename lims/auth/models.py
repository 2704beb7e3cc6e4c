"""Users, API tokens and electronic signatures (SPEC §2 User, §8)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims import clock
from lims.audit import Audited
from lims.clock import now_utc
from lims.db import EnumString, Model, UTCDateTime, enum_check


class Role(StrEnum):
    technician = "technician"
    qa = "qa"
    admin = "admin"


class Meaning(StrEnum):
    """The fixed list of signature meanings (21 CFR 11.50)."""

    review = "review"
    approval = "approval"
    rejection = "rejection"
    responsibility = "responsibility"


class SessionEnd(StrEnum):
    """Why a web session or an API token ended before its time (SPEC §8 sessions)."""

    logout = "logout"
    idle = "idle"
    password_changed = "password_changed"  # noqa: S105 — a reason, not a password
    password_reset = "password_reset"  # noqa: S105 — a reason, not a password
    role_changed = "role_changed"
    deactivated = "deactivated"
    locked = "locked"


MEANING_STATEMENTS = {
    Meaning.review: "reviewed",
    Meaning.approval: "approved",
    Meaning.rejection: "rejected",
    Meaning.responsibility: "takes responsibility",
}


class User(Audited, UserMixin, Model):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(enum_check("role", Role), name="role"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
    )
    __audit_masked__ = frozenset({"password_hash"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(EnumString(Role, 20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    # SPEC §8 accounts (migration 0009): a password set by an admin is one-time; a lock
    # lifts by itself at ``locked_until``.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_locked(self) -> bool:
        """Locked now: a lock lifts by itself at ``locked_until`` (SPEC §8 login)."""
        return (self.locked_at is not None and self.locked_until is not None
                and clock.utcnow() < self.locked_until)

    @property
    def account_state(self) -> str:
        """``locked``, ``inactive`` or ``active``, as the admin pages show it."""
        return "locked" if self.is_locked else "active" if self.active else "inactive"

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive or locked users cannot log in
        return self.active and not self.is_locked

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(Model):
    """A bearer token; only its SHA-256 is stored. It ends at ``expires_at`` or when
    revoked (``revoked_reason``: logout, or an account act that ends every session).
    ``first_signed_at``: see :class:`LoginSession`."""

    __tablename__ = "api_token"
    __table_args__ = (
        CheckConstraint(enum_check("revoked_reason", SessionEnd, nullable=True),
                        name="revoked_reason"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[SessionEnd | None] = mapped_column(EnumString(SessionEnd, 32))
    first_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginSession(Model):
    """A web session, kept on the server so that it can be ended (SPEC §8 sessions).

    The browser's (signed) session cookie holds a random secret; only its SHA-256 is
    stored. ``first_signed_at`` tells whether an e-signature was already made in this
    continuous session (21 CFR 11.200(a)(1): user id + password at the first signing,
    the password at later ones).
    """

    __tablename__ = "login_session"
    __table_args__ = (
        CheckConstraint(enum_check("end_reason", SessionEnd, nullable=True), name="end_reason"),
        CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="ended"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[SessionEnd | None] = mapped_column(EnumString(SessionEnd, 32))
    first_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class PasswordHistory(Model):
    """The hashes of a user's recent passwords: a new one may not be one of the last
    ``PASSWORD_HISTORY`` (SPEC §8 accounts). Only hashes are kept, and only that many."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)


class Signature(Audited, Model):
    """An electronic signature bound to the exact content it signed (SPEC §8).

    ``content_hash`` is the digest of the record as signed; comparing it with the
    record's current digest shows whether the signature still holds.
    """

    __tablename__ = "signature"
    __table_args__ = (CheckConstraint(enum_check("meaning", Meaning), name="meaning"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    username: Mapped[str] = mapped_column(String(64))
    printed_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[Meaning] = mapped_column(EnumString(Meaning, 20))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    statement: Mapped[str | None] = mapped_column(Text)

    signer: Mapped[User] = relationship()

    @property
    def manifestation(self) -> str:
        """Printed name, date-time (UTC) and meaning, as shown on screens and printouts."""
        when = self.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.printed_name} ({self.username}) — {self.meaning} — {when}"
