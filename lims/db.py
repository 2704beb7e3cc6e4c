"""Database wiring: the declarative base, UTC timestamps and the transaction boundary.

STYLE: services only ``flush()``; the boundary commits. For a request the
boundary is :func:`_commit_after_request`; for a CLI command or a scheduled job
it is :func:`transaction`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum

from flask import Flask, g
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from lims.clock import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def enum_check(column: str, enum: type[StrEnum], *, nullable: bool = False) -> str:
    """SQL for a CheckConstraint tying ``column`` to the values of ``enum``."""
    clause = f"{column} IN ({', '.join(repr(m.value) for m in enum)})"
    return f"({column} IS NULL OR {clause})" if nullable else clause


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always aware and in UTC on the Python side.

    SQLite keeps no offset, PostgreSQL keeps ``timestamptz``; both come back as
    aware UTC datetimes. A naive datetime is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            from datetime import UTC

            return value.replace(tzinfo=UTC)
        return as_utc(value)


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        # FULL: a commit is on disk before it is acknowledged, so a power cut cannot lose
        # an acknowledged signature (SPEC §8, durability; NORMAL in WAL mode can).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()


READ_SNAPSHOT = "lims_read_snapshot"


def _sqlite_begin(conn) -> None:
    # A write lock from the first statement: concurrent writers wait (busy_timeout)
    # instead of failing when a read transaction later tries to write. A read snapshot
    # (:func:`begin_read_snapshot`) takes no write lock.
    if conn.get_execution_options().get(READ_SNAPSHOT):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def begin_read_snapshot() -> None:
    """Start the session's transaction as one consistent read-only snapshot, for long
    reads such as ``audit-verify``: every statement sees the same committed state, and
    writers are not blocked (SQLite: a deferred ``BEGIN`` in WAL mode, no write lock;
    PostgreSQL: ``REPEATABLE READ``). Call it before the session's first statement."""
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    else:
        options = {READ_SNAPSHOT: True}
    db.session.connection(execution_options=options)


def _configure_engine(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)


def init_app(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        _configure_engine(db.engine)
    app.after_request(_commit_after_request)


def keep_despite_error() -> None:
    """Commit this request's flushed work even though it answers an error.

    Used only for security bookkeeping that must survive the refusal it causes
    (a failed login or signature counts towards the lockout).
    """
    g.lims_commit_on_error = True


def _commit_after_request(response):
    if not db.session.registry.has():
        return response
    if response.status_code < 400 or g.get("lims_commit_on_error"):
        try:
            db.session.commit()
        except exc.IntegrityError:
            db.session.rollback()
            from lims.errors import respond_error

            return _as_response(respond_error(
                409, "conflict",
                "The change conflicts with data saved meanwhile; nothing was saved.",
                {"reasons": ["conflicting concurrent change"]}))
        except exc.OperationalError:
            db.session.rollback()
            from lims.errors import respond_error

            return _as_response(respond_error(
                503, "unavailable", "The database is busy; nothing was saved. Please retry."))
    else:
        db.session.rollback()
    return response


def _as_response(rv):
    from flask import make_response

    return make_response(rv)


@contextmanager
def transaction() -> Iterator[None]:
    """One transaction for a CLI command or a scheduled job: commit, or roll back on error."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def render_migration_item(type_: str, obj, _autogen_context):
    """Alembic autogenerate: write :class:`UTCDateTime` columns as plain ``sa.DateTime``."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
