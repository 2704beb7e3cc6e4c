"""The trail holds against insiders (SPEC §8): whoever can write to the database but does
not hold the audit signing key cannot rewrite, truncate, re-chain or empty the trail
unnoticed; bulk writes behind the recorder are refused; ``--replay`` finds SQL edits of GMP
rows; SQLite commits survive a power cut.

Each attack is run as a database administrator would (``tamper``: raw SQL past the
triggers) after a sweep has signed a checkpoint of the head.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from lims.audit.chain import ChainRow, entry_hash
from lims.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from lims.audit.recorder import AppendOnlyViolation
from lims.auth.models import User
from lims.db import db
from tests.fixtures.database import tamper
from tests.fixtures.users import TEST_PASSWORD

# ---------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def _own_audit_key(app_config, tmp_path) -> None:
    """These tests read, rotate and tamper with the key's folder: each test its own key."""
    app_config["AUDIT_KEY_FILE"] = str(tmp_path / "audit-key" / "key.pem")


def _sql(value) -> str:
    """A SQL literal, as an attacker typing statements would write it."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _rows(app) -> list[ChainRow]:
    with app.app_context():
        columns = [getattr(AuditEntry, name) for name in ChainRow._fields]
        return [ChainRow(*row) for row in db.session.execute(
            sa.select(*columns).order_by(AuditEntry.seq))]


def _head(app) -> tuple[int, str] | None:
    with app.app_context():
        row = db.session.execute(sa.select(AuditHead.last_seq, AuditHead.last_hash)).first()
        return (row.last_seq, row.last_hash) if row else None


def rechain(app, seq: int, **changes) -> list[str]:
    """Rewrite entry ``seq`` and recompute the hash of every later entry and of the head:
    the forgery the plain hash chain cannot see. Returns the statements run."""
    statements, prev_hash = [], None
    for row in _rows(app):
        if row.seq < seq:
            prev_hash = row.hash
            continue
        fields = {"prev_hash": prev_hash or row.prev_hash, **(changes if row.seq == seq else {})}
        forged = row._replace(**fields, hash="")
        prev_hash = entry_hash(forged)
        assignments = {**fields, "hash": prev_hash}
        statements.append("UPDATE audit_entry SET " + ", ".join(
            f"{k} = {_sql(v)}" for k, v in assignments.items()) + f" WHERE seq = {row.seq}")
    statements.append(f"UPDATE audit_head SET last_hash = {_sql(prev_hash)} WHERE id = 1")
    tamper(app, *statements)
    return statements


def verify(runner, *args: str):
    return runner.invoke(args=["lims", "audit-verify", *args])


def sweep(runner) -> None:
    result = runner.invoke(args=["lims", "sweep"])
    assert result.exit_code == 0, result.output


def public_key(runner) -> str:
    result = runner.invoke(args=["lims", "audit-public-key"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _load_public(text: str) -> Ed25519PublicKey:
    prefix, _, encoded = text.partition(":")
    assert prefix == "ed25519"
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(encoded))


def _checkpoints(app) -> list[AuditCheckpoint]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditCheckpoint).order_by(AuditCheckpoint.id)))
        db.session.expunge_all()
        return rows


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def key_dir(app) -> Path:
    return Path(app.config["AUDIT_KEY_FILE"]).parent


@pytest.fixture
def trail(app, make_user, runner):
    """Users created, a sweep (signed checkpoint), more users (entries past the checkpoint),
    and another sweep: the state an attacker finds."""
    for role in ("technician", "qa", "admin"):
        make_user(role)
    sweep(runner)
    for role in ("technician", "qa"):
        make_user(role)
    sweep(runner)
    result = verify(runner)
    assert result.exit_code == 0, result.output
    return _head(app)


# ---------------------------------------------------------------- key and checkpoints


def test_the_signing_key_is_generated_outside_the_database_mode_0600(app, runner, key_dir):
    key_file = Path(app.config["AUDIT_KEY_FILE"])
    assert key_file.exists()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    text = public_key(runner)
    assert text.startswith("ed25519:") and len(base64.b64decode(text.split(":")[1])) == 32
    # the database holds no key material
    with app.app_context():
        dumped = " ".join(str(v) for table in db.metadata.sorted_tables
                          for row in db.session.execute(table.select()) for v in row)
    assert text.split(":")[1] not in dumped


def test_a_key_file_named_by_the_setting_is_used(app_config, tmp_path):
    from lims import create_app

    key = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    path = tmp_path / "elsewhere" / "signing.pem"
    path.parent.mkdir()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    app = create_app({**app_config, "AUDIT_KEY_FILE": str(path)})
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    result = app.test_cli_runner().invoke(args=["lims", "audit-public-key"])
    assert result.output.strip() == "ed25519:" + base64.b64encode(raw).decode()
    with app.app_context():
        db.engine.dispose()


def test_a_key_file_readable_by_others_is_refused(app_config, tmp_path):
    from lims import create_app

    path = tmp_path / "loose.pem"
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    path.chmod(0o644)
    with pytest.raises(RuntimeError, match="readable by others"):
        create_app({**app_config, "AUDIT_KEY_FILE": str(path)})


def test_a_sweep_signs_a_checkpoint_of_the_head_and_mirrors_it(app, runner, trail, key_dir):
    checkpoints = _checkpoints(app)
    assert len(checkpoints) == 2
    newest = checkpoints[-1]
    assert (newest.seq, newest.head_hash) == trail
    key = _load_public(public_key(runner))
    from lims.audit.chain import checkpoint_message

    key.verify(base64.b64decode(newest.signature),
               checkpoint_message(newest.seq, newest.head_hash, newest.created_at,
                                  newest.key_id))
    mirror = json.loads((key_dir / "audit_checkpoint.json").read_text())
    assert (mirror["id"], mirror["seq"], mirror["hash"]) == (newest.id, newest.seq,
                                                             newest.head_hash)
    # nothing new to sign: the next sweep adds no checkpoint
    sweep(runner)
    assert len(_checkpoints(app)) == 2


def test_an_intact_trail_reports_its_checkpoints(runner, trail):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "2 signed checkpoints" in result.output


# ---------------------------------------------------------------- the forgeries


def test_a_rechained_trail_is_found(app, runner, trail):
    """Rewrite an entry before the newest checkpoint and recompute every later hash and
    the head: the chain is consistent again, but no longer matches the signed checkpoint."""
    target = _rows(app)[-4]  # before the newest checkpoint, after the first
    rechain(app, target.seq, actor_username="someone-else")
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert "re-chained" in result.output and "checkpoint" in result.output


def test_a_rechained_trail_is_found_when_the_checkpoints_are_deleted_too(app, runner, trail):
    rechain(app, _rows(app)[1].seq, changes='{"forged":[null,1]}')
    tamper(app, "DELETE FROM audit_checkpoint")
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert "audit_checkpoint.json" in result.output


def test_deleting_the_tail_and_moving_the_head_back_is_found(app, runner, trail):
    rows = _rows(app)
    keep = rows[-3]
    tamper(app, f"DELETE FROM audit_entry WHERE seq > {keep.seq}",
           f"UPDATE audit_head SET last_seq = {keep.seq}, last_hash = '{keep.hash}'")
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert f"seq {keep.seq + 1}" in result.output and "removed from the end" in result.output


def test_deleting_the_tail_and_the_head_is_found(app, runner, trail):
    keep = _rows(app)[-3]
    tamper(app, f"DELETE FROM audit_entry WHERE seq > {keep.seq}", "DELETE FROM audit_head")
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert "head" in result.output


def test_moving_only_the_head_back_is_found(app, runner, trail):
    keep = _rows(app)[-2]
    tamper(app, f"UPDATE audit_head SET last_seq = {keep.seq}, last_hash = '{keep.hash}'")
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert "head" in result.output and "moved back" in result.output


@pytest.mark.parametrize("also", [[], ["DELETE FROM audit_checkpoint"]],
                         ids=["checkpoints-kept", "checkpoints-deleted"])
def test_an_emptied_trail_is_found(app, runner, trail, also):
    tamper(app, "DELETE FROM audit_entry", "DELETE FROM audit_head", *also)
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert "BROKEN" in result.output and "empty" in result.output


def test_a_checkpoint_forged_with_another_key_is_found(app, runner, trail):
    from lims.audit.chain import checkpoint_message

    seq, head_hash = trail
    created = "2026-01-01 00:00:00"
    forger = Ed25519PrivateKey.generate()
    with app.app_context():
        key_id = db.session.scalar(sa.select(AuditCheckpoint.key_id).limit(1))
        from datetime import UTC, datetime

        signature = base64.b64encode(forger.sign(checkpoint_message(
            seq, head_hash, datetime(2026, 1, 1, tzinfo=UTC), key_id))).decode()
    tamper(app, "INSERT INTO audit_checkpoint (seq, head_hash, created_at, key_id, signature) "
                f"VALUES ({seq}, '{head_hash}', '{created}', '{key_id}', '{signature}')")
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert "signature does not verify" in result.output


def test_a_checkpoint_signed_by_an_unknown_key_is_found(app, runner, trail):
    seq, head_hash = trail
    tamper(app, "INSERT INTO audit_checkpoint (seq, head_hash, created_at, key_id, signature) "
                f"VALUES ({seq}, '{head_hash}', '2026-01-01 00:00:00', 'feedfeedfeedfeed', "
                f"'{base64.b64encode(bytes(64)).decode()}')")
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert "unknown" in result.output and "feedfeedfeedfeed" in result.output


def test_a_deleted_newest_checkpoint_is_found_by_its_mirror(app, runner, trail):
    newest = _checkpoints(app)[-1]
    tamper(app, f"DELETE FROM audit_checkpoint WHERE id = {newest.id}")
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert f"checkpoint #{newest.id}" in result.output and "missing" in result.output


def test_entries_after_the_newest_checkpoint_are_covered_by_the_next_sweep(app, runner, trail,
                                                                           make_user):
    make_user("technician")
    sweep(runner)
    last = _rows(app)[-1]
    tamper(app, f"DELETE FROM audit_entry WHERE seq = {last.seq}",
           f"UPDATE audit_head SET last_seq = {last.seq - 1}, last_hash = '{last.prev_hash}'")
    assert verify(runner).exit_code == 1


def test_verify_reads_one_snapshot_and_blocks_no_writer(app, make_user):
    """audit-verify reads one consistent state (entries appended meanwhile are neither
    seen nor taken for a moved head) and takes no write lock (SQLite: writers would wait
    for the whole verify)."""
    from lims.audit import verify as verify_trail
    from lims.db import begin_read_snapshot

    make_user("technician")
    with app.app_context():
        begin_read_snapshot()
        seq = db.session.scalar(sa.select(AuditHead.last_seq))
        make_user("qa")  # another session commits while the snapshot is open
        result = verify_trail()
        db.session.rollback()
    assert result.intact, result.problem
    assert result.checked == seq
    assert _head(app)[0] == seq + 1


# ---------------------------------------------------------------- the database guards


def _refused(app, statement: str) -> None:
    with app.app_context():
        with pytest.raises(sa.exc.DatabaseError):
            with db.engine.begin() as conn:
                conn.exec_driver_sql(statement)


def test_the_head_row_only_moves_forward(app, runner, trail):
    seq, head_hash = trail
    _refused(app, f"UPDATE audit_head SET last_seq = {seq - 1}")
    _refused(app, "UPDATE audit_head SET last_hash = 'x'")
    _refused(app, "DELETE FROM audit_head")
    assert _head(app) == trail
    with app.app_context():  # forward: what every audited write does
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE audit_head SET last_seq = {seq + 1}, "
                                 f"last_hash = '{'1' * 64}'")
        assert _head(app) == (seq + 1, "1" * 64)


def test_checkpoints_are_append_only_in_the_database(app, runner, trail):
    before = [(c.id, c.seq, c.head_hash, c.signature) for c in _checkpoints(app)]
    _refused(app, "UPDATE audit_checkpoint SET seq = 1")
    _refused(app, "DELETE FROM audit_checkpoint")
    assert [(c.id, c.seq, c.head_hash, c.signature) for c in _checkpoints(app)] == before


def test_checkpoints_are_append_only_in_the_orm(app, trail):
    with app.app_context():
        checkpoint = db.session.scalars(sa.select(AuditCheckpoint)).first()
        checkpoint.seq = 1
        with pytest.raises(AppendOnlyViolation):
            db.session.flush()
        db.session.rollback()


@pytest.mark.parametrize("statement", [
    lambda: sa.update(User).values(full_name="Mass Edit"),
    lambda: sa.update(User).where(User.role == "technician").values(role="qa"),
    lambda: sa.delete(User),
    lambda: sa.update(User.__table__).values(full_name="Core Edit"),
    lambda: sa.insert(User).values(username="ghost", full_name="Ghost", role="admin",
                                   password_hash="x", active=True, failed_logins=0),
], ids=["orm-update", "orm-update-where", "orm-delete", "core-update-via-session", "orm-insert"])
def test_bulk_statements_on_gmp_tables_are_refused_and_write_nothing(app, make_user, statement):
    make_user("technician")
    entries, users = _count(app, AuditEntry), _count(app, User)
    with app.app_context():
        with pytest.raises(AppendOnlyViolation, match="user_account"):
            db.session.execute(statement())
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).where(
            User.full_name.in_(["Mass Edit", "Core Edit"]))) == 0
        assert db.session.scalar(sa.select(sa.func.count()).where(User.role == "qa")) == 0
    assert (_count(app, AuditEntry), _count(app, User)) == (entries, users)


def test_bulk_statements_on_other_tables_still_work(app):
    """Counters (not GMP records) keep their Core insert/update through the session."""
    from batches.common import next_number

    with app.app_context():
        assert [next_number("test-scope"), next_number("test-scope")] == [1, 2]
        db.session.rollback()


# ---------------------------------------------------------------- replay


def test_replay_agrees_with_the_tables_on_an_intact_database(app, runner, make_user):
    from lims.auth import services

    user_id, _name = make_user("technician")
    with app.app_context():
        user = db.session.get(User, user_id)
        services.update_user(user, full_name="Renamed", role="qa", reason="promoted")
        services.change_own_password(user, TEST_PASSWORD, "another-long-password-1")
        db.session.commit()
    result = verify(runner, "--replay")
    assert result.exit_code == 0, result.output
    assert "replay" in result.output.lower()


@pytest.mark.parametrize("edit, expected", [
    ("UPDATE user_account SET role = 'admin' WHERE id = {id}",
     "user_account {id}: field role is 'admin' in the table but 'technician' in the trail"),
    ("UPDATE user_account SET active = {false} WHERE id = {id}",
     "user_account {id}: field active is false in the table but true in the trail"),
    ("UPDATE user_account SET locked_at = '2026-01-01 00:00:00' WHERE id = {id}",
     "user_account {id}: field locked_at"),
    ("DELETE FROM password_history WHERE user_id = {id}; DELETE FROM user_account WHERE id = {id}",
     "but not in the table (deleted outside the application)"),
    ("INSERT INTO user_account (username, full_name, role, active, password_hash, "
     "failed_logins, created_at) VALUES ('ghost', 'Ghost', 'admin', {true}, 'x', 0, "
     "'2026-01-01 00:00:00')",
     "no 'create' entry in the trail"),
], ids=["role", "boolean", "timestamp", "deleted-row", "inserted-row"])
def test_replay_names_an_edit_made_in_sql(app, runner, make_user, on_postgres, edit, expected):
    user_id, _ = make_user("technician")
    values = {"id": user_id, "true": "TRUE" if on_postgres else "1",
              "false": "FALSE" if on_postgres else "0"}
    tamper(app, *edit.format(**values).split("; "))
    assert verify(runner).exit_code == 0  # the chain itself is intact
    result = verify(runner, "--replay")
    assert result.exit_code == 1, result.output
    assert expected.format(**values) in result.output


def test_replay_skips_masked_fields_but_not_their_neighbours(app, runner, make_user):
    user_id, _ = make_user("technician")
    tamper(app, f"UPDATE user_account SET password_hash = 'pbkdf2:forged' WHERE id = {user_id}")
    result = verify(runner, "--replay")
    assert result.exit_code == 0, result.output  # masked: the trail never holds the value


def test_the_migrated_reference_rows_are_in_the_trail(app, runner):
    """The products, templates and specifications seeded by migrations have their
    'create' entries (migration 0007), so replay covers them from the start."""
    with app.app_context():
        spec_tests = db.session.scalar(sa.select(sa.func.count()).select_from(
            sa.table("qc_spec_test")))
        created = db.session.scalar(sa.select(sa.func.count()).where(
            AuditEntry.entity_type == "qc_spec_test", AuditEntry.action == "create"))
    assert spec_tests and created == spec_tests
    tamper(app, "UPDATE qc_spec_test SET limit_value = 50 WHERE test = 'viability'")
    result = verify(runner, "--replay")
    assert result.exit_code == 1 and "qc_spec_test" in result.output
    assert "field limit_value" in result.output


# ---------------------------------------------------------------- durability


def test_sqlite_commits_are_durable_and_postgres_keeps_its_defaults(app, on_postgres):
    with app.app_context():
        if on_postgres:
            assert db.session.execute(sa.text("SHOW synchronous_commit")).scalar() == "on"
            assert db.session.execute(sa.text("SHOW fsync")).scalar() == "on"
        else:
            assert db.session.execute(sa.text("PRAGMA synchronous")).scalar() == 2  # FULL


# ---------------------------------------------------------------- key rotation


def test_rotating_the_key_keeps_old_checkpoints_verifiable(app, runner, trail, make_user):
    from cryptography.hazmat.primitives import serialization

    from lims.audit.chain import checkpoint_message

    key_file = Path(app.config["AUDIT_KEY_FILE"])
    old_private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    old = public_key(runner)
    result = runner.invoke(args=["lims", "audit-rotate-key", "--yes"])
    assert result.exit_code == 0, result.output
    new = public_key(runner)
    assert new != old and stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    make_user("qa")
    sweep(runner)
    result = verify(runner)
    assert result.exit_code == 0, result.output
    key_ids = [c.key_id for c in _checkpoints(app)]
    assert len(set(key_ids)) == 2 and key_ids[-1] != key_ids[0]
    with app.app_context():
        rotation = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "audit_key_rotated")).one()
        assert json.loads(rotation.changes) == {"key_id": key_ids[:1] + key_ids[-1:]}
        assert rotation.actor_username.startswith("cli:")
    listed = runner.invoke(args=["lims", "audit-public-key", "--all"]).output
    assert old in listed and new in listed and "retired after seq" in listed
    # the retired key cannot vouch for anything after its retirement
    seq, head_hash = _head(app)
    from datetime import UTC, datetime

    created = datetime(2030, 1, 1, tzinfo=UTC)
    signature = base64.b64encode(old_private.sign(checkpoint_message(
        seq, head_hash, created, key_ids[0]))).decode()
    tamper(app, "INSERT INTO audit_checkpoint (seq, head_hash, created_at, key_id, signature) "
                f"VALUES ({seq}, '{head_hash}', '2030-01-01 00:00:00', '{key_ids[0]}', "
                f"'{signature}')")
    result = verify(runner)
    assert result.exit_code == 1 and "after that key was retired" in result.output
