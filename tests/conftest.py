"""Fixtures shared by every test package.

The same suite runs on SQLite (default) and PostgreSQL: set
``LIMS_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test`` and the suite
creates its own database on that server, migrates it once, empties it between
tests and drops it at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lims import create_app
from lims.config import database_uri
from lims.db import db

TEST_PASSWORD = "correct-horse-1"
PG_URL = os.environ.get("LIMS_TEST_DATABASE_URL")


def _pg_admin_url(url: str) -> sa.URL:
    return sa.make_url(database_uri(url, "."))


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("instance")
    os.environ["LIMS_INSTANCE_PATH"] = str(path)
    return path


@pytest.fixture(scope="session")
def database_template(tmp_path_factory, instance_dir) -> Iterator[str]:
    """A database migrated to head once per session (SQLite file or PostgreSQL database)."""
    if PG_URL:
        admin_url = _pg_admin_url(PG_URL)
        name = f"lims_test_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        _migrate(url)
        _snapshot_reference_rows(url)
        try:
            yield url
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "template.sqlite3"
        _migrate(f"sqlite:///{path}")
        yield str(path)


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app(_test_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _test_config(url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": url,
        "SECRET_KEY": "test-secret",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        **overrides,
    }


_REFERENCE_ROWS: dict[str, list[dict[str, Any]]] = {}
"""Rows the migrations seed (default products, process templates…), restored after each reset."""


def _snapshot_reference_rows(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            rows = [dict(row._mapping) for row in conn.execute(table.select())]
            if rows:
                _REFERENCE_ROWS[table.name] = rows
    engine.dispose()


def _reset_postgres(url: str) -> None:
    """Empty every table (bypassing the append-only triggers, as only a test may), then
    put back the reference rows the migrations seeded."""
    engine = sa.create_engine(url)
    tables = [t.name for t in db.metadata.sorted_tables]
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        if "audit_head" not in _REFERENCE_ROWS:
            conn.exec_driver_sql(
                f"INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, '{'0' * 64}')")
        for table in db.metadata.sorted_tables:
            rows = _REFERENCE_ROWS.get(table.name)
            if not rows:
                continue
            conn.execute(table.insert(), rows)
            if "id" in table.c:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                    f"(SELECT MAX(id) FROM \"{table.name}\"))")
    engine.dispose()


@pytest.fixture
def database_url(database_template, tmp_path) -> str:
    if PG_URL:
        _reset_postgres(database_template)
        return database_template
    path = tmp_path / "lims.sqlite3"
    shutil.copyfile(database_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(database_url, tmp_path) -> dict[str, Any]:
    """Override entries of this mapping (before ``app`` is used) to configure a test's app."""
    # each test its own audit signing key and mirrored checkpoint (lims.audit.keys)
    return _test_config(database_url, AUDIT_KEY_FILE=str(tmp_path / "audit-key" / "key.pem"))


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def on_postgres() -> bool:
    return bool(PG_URL)


@pytest.fixture
def make_user(app):
    """Create a user through the service, committed: ``make_user("qa", username=...)``."""
    from lims.auth.services import create_user

    counter = iter(range(1, 10_000))

    def factory(role: str = "technician", username: str | None = None,
                full_name: str | None = None, password: str = TEST_PASSWORD):
        username = username or f"{role}{next(counter)}"
        with app.app_context():
            user = create_user(username, full_name or f"{role.title()} {username}", role, password,
                               permanent=True)
            db.session.commit()
            return user.id, username

    return factory


@pytest.fixture
def api_headers(client, make_user):
    """Bearer headers for a new user of the given role: ``api_headers("qa")``."""

    def factory(role: str = "technician", username: str | None = None) -> dict[str, str]:
        _id, name = make_user(role, username=username)
        response = client.post("/api/v1/auth/tokens",
                               json={"username": name, "password": TEST_PASSWORD})
        assert response.status_code == 201, response.json
        return {"Authorization": f"Bearer {response.json['token']}"}

    return factory


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def web_login(client, username: str, password: str = TEST_PASSWORD):
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(client)})


@pytest.fixture
def login_as(client, make_user):
    """Log the test client in (web session) as a new user of ``role``; returns the username."""

    def factory(role: str = "technician") -> str:
        _id, name = make_user(role)
        response = web_login(client, name)
        assert response.status_code == 302, response.get_data(as_text=True)
        return name

    return factory


@pytest.fixture
def clock(monkeypatch):
    """A controllable clock: ``clock.advance(minutes=16)`` moves every ``utcnow`` forward."""
    from datetime import timedelta

    import lims.clock

    real = lims.clock.utcnow

    class Clock:
        offset = timedelta()

        def now(self):
            return real() + self.offset

        def advance(self, **delta):
            self.offset += timedelta(**delta)

    controlled = Clock()
    monkeypatch.setattr(lims.clock, "utcnow", controlled.now)
    return controlled


def tamper(app, *statements: str) -> None:
    """Run raw SQL as a database administrator would, bypassing the append-only triggers."""
    with app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            else:
                for trigger in ("audit_entry_no_update", "audit_entry_no_delete",
                                "audit_head_no_delete", "audit_head_forward_only",
                                "audit_checkpoint_no_update", "audit_checkpoint_no_delete"):
                    conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            for statement in statements:
                conn.exec_driver_sql(statement)
