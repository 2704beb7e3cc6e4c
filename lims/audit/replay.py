"""Rebuild every GMP record from the audit trail and compare it with the tables (SPEC §8:
``flask lims audit-verify --replay``).

For each table of an :class:`~lims.audit.models.Audited` model, the ``create`` and
``update`` entries give each record's current values (a ``create`` entry lists every
non-null column, so a column the trail never mentions must be NULL); masked fields are
skipped. The entries (ordered by entity id, then seq) and the rows (ordered by id) are
streamed side by side, so memory stays constant whatever the size of the tables. An edit
made in SQL outside the application shows as a :class:`Difference`: a field whose value
in the table is not the trail's, a row with no ``create`` entry (inserted behind the
application), or a record of the trail missing from the table (deleted).

:func:`record_baseline` is for migrations: it writes the entries that make the trail
describe rows a migration wrote (seeded reference data, backfilled columns).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData, Table, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from lims.audit.recorder import CHAIN_ENTRY, MASK, append_entries
from lims.hashing import to_jsonable

CREATED, INSERTED, DELETED, FIELD = "created", "inserted", "deleted", "field"
_BATCH = 2000


@dataclass(frozen=True)
class ReplayTable:
    """A table to replay: its name, its columns by audit field name, its masked fields."""

    name: str
    columns: Mapping[str, ColumnElement[Any]]
    masked: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Difference:
    table: str
    entity_id: str
    kind: str
    field: str | None = None
    table_value: Any = None
    trail_value: Any = None
    seq: int | None = None
    numeric: bool = False  # a float column: values shown as numbers, not the trail's spelling
    row: dict[str, Any] = dataclass_field(default_factory=dict, compare=False, repr=False)

    def __str__(self) -> str:
        name = f"{self.table} {self.entity_id}"
        if self.kind == INSERTED:
            return (f"{name}: in the table but has no 'create' entry in the trail "
                    "(inserted outside the application)")
        if self.kind == DELETED:
            return (f"{name}: in the trail (created at seq {self.seq}) but not in the table "
                    "(deleted outside the application)")
        if self.kind == CREATED:
            return f"{name}: has 'update' entries but no 'create' entry in the trail"
        where = f"newest entry seq {self.seq}" if self.seq else "never recorded"
        return (f"{name}: field {self.field} is {_show(self.table_value, self.numeric)} in the "
                f"table but {_show(self.trail_value, self.numeric)} in the trail ({where})")


def _show(value: Any, numeric: bool = False) -> str:
    if numeric and isinstance(value, str):
        try:
            return repr(float(value))
        except ValueError:
            pass
    return "'" + value + "'" if isinstance(value, str) else json.dumps(value)


def _plain(value: Any) -> Any:
    """A table value in the trail's spelling (a naive time from SQLite is UTC)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return to_jsonable(value)


def _same(table_value: Any, trail_value: Any) -> bool:
    plain = _plain(table_value)
    if plain == trail_value:
        return True
    if isinstance(table_value, float) and not isinstance(trail_value, bool):
        try:
            return float(trail_value) == table_value
        except (TypeError, ValueError):
            return False
    return False


def model_tables() -> list[ReplayTable]:
    """Every table of an audited model of the application, by name."""
    from lims.audit.models import Audited
    from lims.db import Base

    tables = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        if isinstance(cls, type) and issubclass(cls, Audited) and isinstance(mapper.local_table,
                                                                             Table):
            columns = {attr.key: attr.columns[0] for attr in mapper.column_attrs}
            tables.append(ReplayTable(mapper.local_table.name, columns,
                                      frozenset(cls.__audit_masked__)))
    return sorted(tables, key=lambda t: t.name)


def _id_key(entity_id: str) -> tuple[int, str]:
    """Numeric order for the digit strings of integer ids, as the database sorts them."""
    return len(entity_id), entity_id


def _trail(connection: Connection, table: str) -> Iterator[tuple[str, dict[str, Any], int | None]]:
    """(entity id, {field: (newest value, seq)}, seq of its create entry) per record."""
    entry = CHAIN_ENTRY.c
    query = (select(entry.entity_id, entry.seq, entry.action, entry.changes)
             .where(entry.entity_type == table, entry.action.in_(("create", "update")))
             .order_by(func.length(entry.entity_id), entry.entity_id, entry.seq)
             .execution_options(yield_per=_BATCH))
    current: str | None = None
    values: dict[str, Any] = {}
    created: int | None = None
    with connection.execute(query) as result:
        for entity_id, seq, action, changes in result:
            if entity_id != current:
                if current is not None:
                    yield current, values, created
                current, values, created = entity_id, {}, None
            if action == "create":
                created = seq
            for name, change in json.loads(changes).items():
                if isinstance(change, list) and len(change) == 2:
                    values[name] = (change[1], seq)
    if current is not None:
        yield current, values, created


def _rows(connection: Connection, spec: ReplayTable) -> Iterator[tuple[str, dict[str, Any]]]:
    id_column = spec.columns["id"]
    query = (select(*[column.label(key) for key, column in spec.columns.items()])
             .order_by(id_column).execution_options(yield_per=_BATCH))
    with connection.execute(query) as result:
        for row in result.mappings():
            yield str(row["id"]), dict(row)


def replay_table(connection: Connection, spec: ReplayTable) -> Iterator[Difference]:
    """Every difference between ``spec``'s rows and what the trail says of them."""
    trail = _trail(connection, spec.name)
    rows = _rows(connection, spec)
    record = next(trail, None)
    row = next(rows, None)
    while record is not None or row is not None:
        if record is not None and (row is None or _id_key(record[0]) < _id_key(row[0])):
            entity_id, _values, created = record
            yield Difference(spec.name, entity_id, DELETED if created else CREATED, seq=created)
            record = next(trail, None)
            continue
        assert row is not None
        if record is None or _id_key(row[0]) < _id_key(record[0]):
            yield Difference(spec.name, row[0], INSERTED, row=row[1])
            row = next(rows, None)
            continue
        entity_id, values, created = record
        if created is None:
            yield Difference(spec.name, entity_id, INSERTED, row=row[1])
        else:
            for key, table_value in row[1].items():
                if key in spec.masked:
                    continue
                trail_value, seq = values.get(key, (None, None))
                if trail_value == MASK or _same(table_value, trail_value):
                    continue
                yield Difference(spec.name, entity_id, FIELD, key, _plain(table_value),
                                 trail_value, seq, isinstance(table_value, float))
        record, row = next(trail, None), next(rows, None)


def replay(connection: Connection, tables: list[ReplayTable] | None = None
           ) -> Iterator[Difference]:
    for spec in model_tables() if tables is None else tables:
        yield from replay_table(connection, spec)


def record_baseline(connection: Connection, table_names: list[str],
                    masked: dict[str, set[str]], actor: str, reason: str) -> int:
    """Append the entries that make the trail describe ``table_names`` as they are.

    For migrations: rows without a ``create`` entry (seeded by a migration) get one with
    every non-null column; fields a migration backfilled get an ``update`` entry from
    the trail's value to the table's. Tables are reflected, so this works on the schema
    of the migration that calls it. Returns the number of entries written.
    """
    metadata = MetaData()
    entries: list[tuple[str, str, str, dict, str | None]] = []
    for name in table_names:
        table = Table(name, metadata, autoload_with=connection)
        spec = ReplayTable(name, {c.name: c for c in table.columns},
                           frozenset(masked.get(name, ())))
        updates: dict[str, dict[str, list[Any]]] = {}
        for difference in replay_table(connection, spec):
            if difference.kind == INSERTED:
                entries.append(("create", name, difference.entity_id, {
                    key: [None, MASK if key in spec.masked else _plain(value)]
                    for key, value in difference.row.items() if value is not None}, reason))
            elif difference.kind == FIELD:
                updates.setdefault(difference.entity_id, {})[difference.field or ""] = [
                    difference.trail_value, difference.table_value]
        entries.extend(("update", name, entity_id, changes, reason)
                       for entity_id, changes in updates.items())
    if entries:
        append_entries(connection, entries, None, actor, datetime.now(UTC))
    return len(entries)
