"""The audit trail: automatic entries, reasons for corrections, append-only, hash chain."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lims import audit
from lims.audit import AuditEntry
from lims.audit.recorder import AppendOnlyViolation
from lims.auth import services
from lims.db import db
from lims.errors import BadRequest
from tests.fixtures.database import tamper


class _SampleBase(DeclarativeBase):
    """A model outside the app's metadata, to exercise the correction rule alone."""


class Measurement(audit.Audited, _SampleBase):
    __tablename__ = "test_measurement"
    __audit_corrections__ = frozenset({"viability_pct"})

    id: Mapped[int] = mapped_column(primary_key=True)
    viability_pct: Mapped[float | None]
    note: Mapped[str | None]


@pytest.fixture
def ctx(app):
    with app.app_context():
        _SampleBase.metadata.create_all(db.engine)
        audit.set_actor(42, "tester")
        yield
        db.session.rollback()


def _base_seq(app=None) -> int:
    """The head's seq before a test writes: migration 0007 records the seeded reference
    rows (products, templates, specifications) in the trail."""
    from contextlib import nullcontext

    with app.app_context() if app else nullcontext():
        return db.session.scalar(sa.select(audit.AuditHead.last_seq)) or 0


def _entries(entity_type):
    return list(db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.entity_type == entity_type).order_by(AuditEntry.seq)))


def test_insert_and_update_leave_entries_with_old_and_new_values(ctx):
    user = services.create_user("tina", "Tina", "technician", "long-enough-1")
    user.full_name = "Tina Tech"
    db.session.flush()
    created, updated = _entries("user_account")
    assert created.action == "create" and created.entity_id == str(user.id)
    assert json.loads(created.changes)["full_name"] == [None, "Tina"]
    assert updated.action == "update"
    assert json.loads(updated.changes) == {"full_name": ["Tina", "Tina Tech"]}
    assert (updated.actor_id, updated.actor_username) == (42, "tester")
    assert updated.occurred_at.utcoffset().total_seconds() == 0


def test_first_entry_of_a_value_needs_no_reason_but_a_correction_does(ctx):
    sample = Measurement(viability_pct=None)
    db.session.add(sample)
    db.session.flush()
    sample.viability_pct = 91.0  # first recording: not a correction
    sample.note = "free text is no recorded value"
    db.session.flush()
    sample.viability_pct = 19.0
    with pytest.raises(BadRequest) as refused:
        db.session.flush()
    assert refused.value.code == "reason_required"
    assert "viability_pct" in refused.value.details["fields"]


def test_a_correction_with_a_reason_keeps_the_old_value(ctx):
    sample = Measurement(viability_pct=91.0)
    db.session.add(sample)
    db.session.flush()
    with audit.reason("transcription error: 19 read as 91"):
        sample.viability_pct = 19.0
    last = _entries("test_measurement")[-1]
    assert json.loads(last.changes) == {"viability_pct": ["91.0", "19.0"]}
    assert last.reason == "transcription error: 19 read as 91"


def test_blank_reason_is_refused(ctx):
    with pytest.raises(BadRequest):
        with audit.reason("   "):
            pass


def test_orm_update_of_an_audit_entry_is_refused(ctx):
    services.create_user("tina", "Tina", "technician", "long-enough-1")
    entry = _entries("user_account")[0]
    entry.reason = "rewritten history"
    with pytest.raises(AppendOnlyViolation):
        db.session.flush()


def test_orm_delete_of_an_audit_entry_is_refused(ctx):
    services.create_user("tina", "Tina", "technician", "long-enough-1")
    db.session.delete(_entries("user_account")[0])
    with pytest.raises(AppendOnlyViolation):
        db.session.flush()


def test_orm_delete_of_a_gmp_record_is_refused(ctx):
    user = services.create_user("tina", "Tina", "technician", "long-enough-1")
    db.session.commit()
    db.session.delete(user)
    with pytest.raises(AppendOnlyViolation):
        db.session.flush()


def test_the_database_refuses_update_and_delete_of_audit_rows(app, make_user):
    base = _base_seq(app)
    make_user("technician")
    with app.app_context():
        for statement in ("UPDATE audit_entry SET reason = 'x'", "DELETE FROM audit_entry"):
            with pytest.raises(sa.exc.DatabaseError):
                with db.engine.begin() as conn:
                    conn.exec_driver_sql(statement)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == base + 1


def test_entries_chain_by_hash(ctx):
    base = _base_seq()
    last = db.session.scalar(sa.select(audit.AuditHead.last_hash))
    for name in ("a1", "b2", "c3"):
        services.create_user(name, name, "technician", "long-enough-1")
    rows = _entries("user_account")
    assert [r.seq for r in rows] == [base + 1, base + 2, base + 3]
    assert rows[0].prev_hash == last
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash


@pytest.fixture
def trail(app, make_user):
    """Four users; returns the seq before them (the users are base + 1 … base + 4)."""
    base = _base_seq(app)
    for role in ("technician", "qa", "admin", "technician"):
        make_user(role)
    return base


def test_audit_verify_passes_on_an_intact_trail(runner, trail):
    result = runner.invoke(args=["lims", "audit-verify"])
    assert result.exit_code == 0, result.output
    assert f"intact: {trail + 4} entries" in result.output


@pytest.mark.parametrize("damage, seq, problem", [
    (["UPDATE audit_entry SET changes = '{{}}' WHERE seq = {s2}"], 2, "altered"),
    (["UPDATE audit_entry SET actor_username = 'someone-else' WHERE seq = {s3}"], 3, "altered"),
    (["DELETE FROM audit_entry WHERE seq = {s2}"], 3, "removed"),
    (["UPDATE audit_entry SET seq = 100000 WHERE seq = {s2}",
      "UPDATE audit_entry SET seq = {s2} WHERE seq = {s3}",
      "UPDATE audit_entry SET seq = {s3} WHERE seq = 100000"], 2, "link"),
    (["DELETE FROM audit_entry WHERE seq = {s4}"], 4, "removed from the end"),
], ids=["altered-changes", "altered-actor", "deleted-row", "swapped-rows", "deleted-last-row"])
def test_audit_verify_fails_naming_the_first_broken_entry(app, runner, trail, damage, seq,
                                                          problem):
    seqs = {f"s{n}": trail + n for n in range(1, 5)}
    tamper(app, *(statement.format(**seqs) for statement in damage))
    result = runner.invoke(args=["lims", "audit-verify"])
    assert result.exit_code == 1
    assert f"seq {trail + seq}:" in result.output
    assert problem in result.output


def test_swapping_contents_of_two_rows_is_detected(app, runner, trail):
    columns = ("occurred_at", "actor_id", "actor_username", "action", "entity_type",
               "entity_id", "changes", "reason", "prev_hash", "hash")
    first, second = trail + 2, trail + 3
    assignments = ", ".join(
        f"{c} = (SELECT {c} FROM swap_copy AS o WHERE o.seq = "
        f"CASE WHEN audit_entry.seq = {first} THEN {second} ELSE {first} END)"
        for c in columns)
    tamper(app, "CREATE TABLE swap_copy AS SELECT * FROM audit_entry",
           f"UPDATE audit_entry SET {assignments} WHERE seq IN ({first}, {second})",
           "DROP TABLE swap_copy")
    result = runner.invoke(args=["lims", "audit-verify"])
    assert result.exit_code == 1 and f"seq {first}:" in result.output


def test_audit_api_filters_by_entity_and_needs_qa_or_admin(app, client, api_headers,
                                                           make_user):
    base = _base_seq(app)
    user_id, _ = make_user("technician", username="tina")
    make_user("technician", username="theo")
    qa = api_headers("qa")
    entries = client.get(f"/api/v1/audit?entity_type=user_account&entity_id={user_id}",
                         headers=qa).json
    assert len(entries) >= 1 and {e["entity_id"] for e in entries} == {str(user_id)}
    assert {"field": "username", "old": None, "new": "tina"} in entries[0]["changes"]
    assert client.get("/api/v1/audit", headers=api_headers("technician")).status_code == 403
    paged = client.get(f"/api/v1/audit?limit=1&after_seq={base + 1}", headers=qa).json
    assert [e["seq"] for e in paged] == [base + 2]
    assert client.get("/api/v1/audit?limit=0", headers=qa).status_code == 400
