"""Database wiring: the declarative base, UTC timestamps and the transaction boundary.

STYLE: services only ``flush()``; the boundary commits. For a request the
boundary is :func:`_commit_after_request`; for a CLI command or a scheduled job
it is :func:`transaction`. The one exception is a slow side effect (a printer, a mail
server): :func:`outside_transaction` commits what is flushed so far and runs it with
no transaction open (SPEC §8, "slow peripherals never stall the application").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, g
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, String, event, exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Mapper
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

if TYPE_CHECKING:

    class Model(Base):
        """What ``db.Model`` is at run time, spelled as a class the type checker can see."""

        __abstract__ = True
else:
    #: The base of every model: ``class Batch(Audited, Model)``.
    Model = db.Model


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


EnumT = TypeVar("EnumT", bound=StrEnum)


class EnumString(TypeDecorator[EnumT]):
    """A state column typed by its :class:`StrEnum`, stored as the member's value in
    ``VARCHAR(length)`` (the schema is a plain string plus the model's CheckConstraint).

    Reads give enum members; writes take members, or their values, and refuse any
    other string. Assignments are coerced too (:func:`_coerce_enum_assignments`), so
    ``batch.status`` is a :class:`BatchStatus` member even before the row is flushed.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[EnumT], length: int) -> None:
        super().__init__(length)
        self.enum = enum
        self.length = length

    def coerce(self, value: EnumT | str | None) -> EnumT | None:
        if value is None or isinstance(value, self.enum):
            return value
        try:
            return self.enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in self.enum)
            raise ValueError(f"{value!r} is not a {self.enum.__name__} (one of {allowed})") \
                from None

    def process_bind_param(self, value: EnumT | str | None, dialect: Dialect) -> str | None:
        member = self.coerce(value)
        return None if member is None else member.value

    def process_result_value(self, value: str | None, dialect: Dialect) -> EnumT | None:
        return self.coerce(value)

    def copy(self, **kw: Any) -> EnumString[EnumT]:
        return EnumString(self.enum, self.length)

    @property
    def python_type(self) -> type[EnumT]:
        return self.enum


def _coerce_enum_assignments(mapper: Mapper[Any], class_: type) -> None:
    """Turn a value assigned to an :class:`EnumString` column into its enum member
    (an unknown string is refused at once, naming the allowed values)."""
    for prop in mapper.column_attrs:
        column_type = prop.columns[0].type
        if isinstance(column_type, EnumString):
            event.listen(prop.class_attribute, "set", _setter(column_type), retval=True)


def _setter(column_type: EnumString[Any]) -> Callable[..., Any]:
    def coerce(_target: object, value: Any, _old: object, _initiator: object) -> Any:
        return column_type.coerce(value)
    return coerce


event.listen(Mapper, "mapper_configured", _coerce_enum_assignments)


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


_CONFLICT = "The change conflicts with data saved meanwhile; nothing was saved."
_BUSY = "The database is busy; nothing was saved. Please retry."


def _commit() -> tuple[int, str] | None:
    """Commit; on failure roll back and answer (status, message) for the refusal."""
    try:
        db.session.commit()
    except exc.IntegrityError:
        db.session.rollback()
        return 409, _CONFLICT
    except exc.OperationalError:
        db.session.rollback()
        return 503, _BUSY
    return None


def _commit_after_request(response):
    if not db.session.registry.has():
        return response
    if response.status_code < 400 or g.get("lims_commit_on_error"):
        refused = _commit()
        if refused is not None:
            from lims.errors import respond_error

            status, message = refused
            if status == 409:
                return _as_response(respond_error(
                    409, "conflict", message, {"reasons": ["conflicting concurrent change"]}))
            return _as_response(respond_error(503, "unavailable", message))
    else:
        db.session.rollback()
    return response


@contextmanager
def outside_transaction() -> Iterator[None]:
    """Commit the work flushed so far, then run the block with no transaction open.

    For a slow side effect whose intent must be on record before it starts and which
    must not hold a database lock while it runs (SPEC §8): a print job is committed as
    queued, the printer is contacted inside the block, and the outcome is recorded after
    it, in the next transaction (which the request boundary commits as usual)::

        job = queue_print(...)          # added and flushed
        with outside_transaction():
            outcome = send(...)         # no lock held: other requests go on
        record_outcome(job, outcome)    # flushed; committed by the boundary

    The block must not use the database (it would open a transaction, and on SQLite take
    the write lock, for as long as the side effect lasts): read what it needs before.
    Objects are expired by the commit and reloaded at their next use. A commit that fails
    raises ``Conflict`` (409) or ``Unavailable`` (503), with nothing saved and the side
    effect not started.
    """
    refused = _commit()
    if refused is not None:
        from lims.errors import Conflict, Unavailable

        status, message = refused
        if status == 409:
            raise Conflict(message, ["conflicting concurrent change"])
        raise Unavailable(message)
    yield
    if db.session().in_transaction():
        db.session.rollback()
        raise RuntimeError("outside_transaction(): the block used the database")


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


def render_migration_item(type_: str, obj: Any, _autogen_context: Any) -> str | bool:
    """Alembic autogenerate: write :class:`UTCDateTime` columns as plain ``sa.DateTime``
    and :class:`EnumString` columns as the plain ``sa.String`` they are stored in."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, EnumString):
        return f"sa.String(length={obj.length})"
    return False
