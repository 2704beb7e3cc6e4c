"""Schema migrations: empty → head, models == migrations, down and up again."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from lims import create_app
from lims.db import db
from tests.fixtures.database import PG_URL, pg_admin_url, settings_for


@pytest.fixture
def empty_database_url(tmp_path, instance_dir):
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    admin_url = pg_admin_url(PG_URL)
    name = f"lims_mig_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def fresh_app(empty_database_url, tmp_path):
    app = create_app(settings_for(empty_database_url,
                                  AUDIT_KEY_FILE=str(tmp_path / "audit-key" / "key.pem")))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names())


def test_migration_from_empty_to_head(fresh_app):
    assert _tables() == set()
    upgrade()
    assert {"user_account", "api_token", "signature", "audit_entry", "audit_head",
            "alembic_version"} <= _tables()
    with db.engine.connect() as conn:  # 0007 recorded the seeded reference rows in the trail
        seeded = conn.execute(sa.text("SELECT COUNT(*) FROM audit_entry")).scalar()
        assert seeded > 0
        assert conn.execute(sa.text("SELECT last_seq FROM audit_head WHERE id = 1")).scalar() \
            == seeded


def test_models_and_migrations_agree(fresh_app):
    upgrade()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], "run `flask db migrate` — models and migrations differ"


def test_downgrade_to_base_and_up_again(fresh_app):
    upgrade()
    downgrade(revision="base")
    assert _tables() <= {"alembic_version"}
    upgrade()
    assert "audit_entry" in _tables()


def test_init_db_command_is_idempotent(fresh_app):
    runner = fresh_app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["lims", "init-db"])
        assert result.exit_code == 0, result.output
        assert "newest revision" in result.output


def test_0007_records_the_seeded_rows_once_and_replay_agrees(fresh_app):
    """Migration 0007 puts the rows earlier migrations seeded into the trail (so replay
    covers the default specifications from the start); a downgrade and upgrade finds
    nothing new to record."""
    upgrade()
    runner = fresh_app.test_cli_runner()
    result = runner.invoke(args=["lims", "audit-verify", "--replay"])
    assert result.exit_code == 0, result.output

    def entries() -> list[tuple[str, str]]:
        with db.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(
                "SELECT entity_type, actor_username FROM audit_entry ORDER BY seq"))]

    seeded = entries()
    assert {"product", "process_template", "template_rule", "qc_specification",
            "qc_spec_test"} == {entity for entity, _actor in seeded}
    # 0007 records the seeded rows; 0008 the settings it backfilled on them (a product's
    # thaw settings, a spec test's timing)
    assert {actor for _entity, actor in seeded} == {"migration 0007", "migration 0008"}
    downgrade(revision="0006")
    upgrade()
    assert entries() == seeded
