"""Migration 0008 on a database that already holds records (SPEC §9: existing rows migrate):
spec tests become ``release`` tests, MSC and its doses cryopreserved, alerts keep their
batch (ids naming no batch cleared for the new foreign key), released batches stay
released."""

from __future__ import annotations

import sqlalchemy as sa
from flask_migrate import upgrade

from lims.db import db
from tests.lims.test_migrations import empty_database_url, fresh_app  # noqa: F401 — fixtures

NOW = "2026-01-02 03:04:05"


def _rows(statements: list[str]) -> None:
    with db.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_existing_rows_migrate(fresh_app):  # noqa: F811
    upgrade(revision="0006")
    true = "true" if db.engine.dialect.name == "postgresql" else "1"
    _rows([
        "INSERT INTO user_account (id, username, full_name, role, active, password_hash, "
        f"failed_logins, created_at) VALUES (1, 'tech', 'T Tech', 'technician', {true}, 'x', "
        f"0, '{NOW}')",
        "INSERT INTO subject (id, code, kind, initials, date_of_birth, recipient_status, "
        f"created_by_id, created_at) VALUES (1, 'PT-1', 'patient', 'AB', '1970-01-01', "
        f"'cleared', 1, '{NOW}')",
        "INSERT INTO collection (id, subject_id, source, collected_at, collected_by, volume_ml, "
        "din, check_character, chain_of_identity, recorded_by_id, recorded_at) VALUES "
        f"(1, 1, 'bone_marrow', '{NOW}', 'Dr C', 10, 'Z999926000001', 'K', "
        f"'CHZ999926000001', 1, '{NOW}')",
        "INSERT INTO signature (id, user_id, username, printed_name, meaning, signed_at, "
        f"entity_type, entity_id, content_hash) VALUES (1, 1, 'tech', 'T Tech', 'approval', "
        f"'{NOW}', 'batch', '1', 'abc')",
        "INSERT INTO batch (id, batch_number, collection_id, product_id, template_id, origin, "
        "recipient_id, status, registered_by_id, registered_at, release_signature_id) VALUES "
        f"(1, 'MSC-2026-00001', 1, 1, 1, 'autologous', 1, 'released', 1, '{NOW}', 1)",
        "INSERT INTO dose (id, batch_id, code, division, collection_type, description_code, "
        "cells, volume_ml, container, storage_temperature, expires_at, status, "
        f"formulated_by_id, formulated_at) VALUES (1, 1, 'Z999926000001-S90011-00', '00', '1', "
        f"'S9001', 1000, 10, 'cryobag', 'LN2', '{NOW}', 'released', 1, '{NOW}')",
        "INSERT INTO alert (id, kind, entity_type, entity_id, batch_id, summary, severity, "
        f"opened_at) VALUES (1, 'overdue_step', 'culture_step', '1', 1, 'late', 1, '{NOW}')",
        "INSERT INTO alert (id, kind, entity_type, entity_id, batch_id, summary, severity, "
        f"opened_at) VALUES (2, 'qc_pending', 'batch', '9', 9, 'gone', 2, '{NOW}')",
    ])
    upgrade()
    with db.engine.connect() as conn:
        def value(sql: str):
            return conn.execute(sa.text(sql)).scalar()

        assert bool(value("SELECT cryopreserved FROM product WHERE code = 'MSC'")) is True
        assert bool(value("SELECT cryopreserved FROM product WHERE code = 'NK'")) is False
        assert value("SELECT post_thaw_expiry_hours FROM product WHERE code = 'MSC'") == 4
        assert bool(value("SELECT cryopreserved FROM dose WHERE id = 1")) is True
        assert value("SELECT count(*) FROM qc_spec_test WHERE timing != 'release'") == 0
        assert value("SELECT count(*) FROM qc_spec_test") > 0
        assert value("SELECT batch_id FROM alert WHERE id = 1") == 1
        assert value("SELECT batch_id FROM alert WHERE id = 2") is None
        assert value("SELECT status FROM batch WHERE id = 1") == "released"
    _rows(["UPDATE batch SET status = 'release_suspended' WHERE id = 1"])
    try:
        _rows(["INSERT INTO alert (id, kind, entity_type, entity_id, batch_id, summary, "
               f"severity, opened_at) VALUES (3, 'lookback', 'batch', '1', 77, 'x', 1, '{NOW}')"])
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("alert.batch_id must reference a batch")
