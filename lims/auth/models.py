"""Users, API tokens and electronic signatures (SPEC §2 User, §8)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

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

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive or locked users cannot log in
        return self.active and not self.is_locked

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(Model):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


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
